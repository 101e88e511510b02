package intake

import (
	"bytes"
	"fmt"
	"net/mail"
	"strings"
	"testing"

	"github.com/secgate/secgate/cases"
)

// TestRealStackApplicationRefused: applications that must not be taken,
// each sent through Postfix with gpg-made keys. Each is refused with its
// reason to the applicant (in clear: it names nothing but their own
// application) and never stored as an application; a secret key is never
// kept as a key, the applicant is told to send only the public key and the
// team is told; mail from a mailing list is held and never answered.
func TestRealStackApplicationRefused(t *testing.T) {
	if testing.Short() {
		t.Skip("real mail stack")
	}
	g := applyGateway(t, nil)
	defer g.poll()()
	secret := g.newOutsider("Secret Distro", "psirt@secret.example")
	secret3 := g.newOutsider("Secret Distro", "psirt@secret3.example")
	mismatch := g.newOutsider("Someone Else", "someone@else.example")
	listed := g.newOutsider("Distro List", "security@lists.distro.example")
	plain := g.newOutsider("Plain Distro", "psirt@plain.example")
	secretText := "/apply embargo\nHere is our key:\n" + string(secret.gp.ExportSecret(secret.fpr))
	for _, tc := range []struct {
		name, from, headers, text string
		attach                    []byte
		class, answer             string // the inbound class; what the answer says ("" for none)
		team                      string // what the team is told ("" for nothing)
	}{
		{name: "secret key attached", from: secret.addr, text: "/apply embargo\nWe ship it.", attach: secret.gp.ExportSecret(secret.fpr),
			class: ClassApplicationRefused, answer: "send only your public key", team: "The mail carried a SECRET key"},
		{name: "secret key in the text", from: "psirt@secret2.example", text: secretText,
			class: ClassApplicationRefused, answer: "send only your public key", team: "The mail carried a SECRET key"},
		{name: "secret key in the Autocrypt header", from: "psirt@secret3.example", text: "/apply embargo\nWe ship it.",
			headers: "Autocrypt: addr=psirt@secret3.example; keydata=" + autocryptKeydata(t, secret3.gp.ExportSecret(secret3.fpr)) + "\n",
			class:   ClassApplicationRefused, answer: "send only your public key", team: "The mail carried a SECRET key"},
		{name: "key without the address", from: "psirt@mismatch.example", text: "/apply embargo\nWe ship it.", attach: mismatch.gp.Export(mismatch.fpr),
			class: ClassApplicationRefused, answer: "does not carry the address psirt@mismatch.example"},
		{name: "no key", from: "psirt@nokey.example", text: "/apply embargo\nWe ship it.",
			class: ClassApplicationRefused, answer: "no OpenPGP public key came with it"},
		{name: "unknown list", from: "psirt@unknown.example", text: "/apply secret-list\nWe ship it.", attach: plain.gp.Export(plain.fpr),
			class: ClassApplicationRefused, answer: `"secret-list" is not a list that takes applications`},
		{name: "list without applications", from: "psirt@closed.example", text: "/apply closed\nWe ship it.",
			class: ClassApplicationRefused, answer: `"closed" is not a list that takes applications`},
		{name: "public list", from: "psirt@public.example", text: "/apply announce\nWe ship it.",
			class: ClassApplicationRefused, answer: `"announce" is not a list that takes applications`},
		{name: "malformed line", from: "psirt@malformed.example", text: "/apply embargo please\nWe ship it.",
			class: ClassApplicationRefused, answer: `the first line must be "/apply LIST"`},
		{name: "from a mailing list", from: listed.addr, headers: "List-Id: <distro.lists.distro.example>\n", text: "/apply embargo\nWe ship it.",
			attach: listed.gp.Export(listed.fpr), class: ClassList},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := "refused-" + strings.ReplaceAll(tc.name, " ", "-")
			g.sendFrom(tc.from, g.clearApplication(tc.from, id, tc.headers, tc.text, tc.attach))
			g.waitHandled(id + "@outside.example")
			in := g.inbound(id + "@outside.example")
			if in.class != tc.class || in.caseID != 0 {
				t.Fatalf("inbound %+v, want class %s", in, tc.class)
			}
			if tc.class == ClassList && in.state != StateQuarantined {
				t.Errorf("list mail ended %s, want held", in.state)
			}
			if tc.answer != "" {
				got := g.awaitMailTo(tc.from, 1)
				text := answerText(got[0])
				if len(got) != 1 || !strings.Contains(text, tc.answer) {
					t.Errorf("answer to %s: %d messages, want one saying %q:\n%s", tc.from, len(got), tc.answer, text)
				}
				noOtherAddress(t, g, "the answer", text)
			}
			if tc.team != "" {
				texts := g.awaitText("alice", tc.team)
				for _, tx := range texts {
					if strings.Contains(tx, "PRIVATE KEY BLOCK") {
						t.Errorf("the team was sent the secret key:\n%s", tx)
					}
				}
				if countContaining(texts, tc.team) == 0 {
					t.Errorf("the team was not told %q", tc.team)
				}
			}
		})
	}
	if apps := g.applications(); len(apps) != 0 {
		t.Errorf("applications stored: %+v", apps)
	}
	var keys int
	g.db.Reader().QueryRow(`SELECT count(*) FROM dir_key WHERE fingerprint IN (?, ?)`, secret.fpr, secret3.fpr).Scan(&keys)
	if keys != 0 {
		t.Error("the secret key's fingerprint is in the directory")
	}
	if got := g.mailTo(listed.addr); len(got) != 0 {
		t.Errorf("mail from a mailing list was answered: %d messages", len(got))
	}
	// Every refusal the workflow decided is audited; a malformed /apply
	// line and the list's mail never reach it (the inbound record says why).
	if evs := g.audit(cases.GatewayLog, "application-refused"); len(evs) != 8 {
		t.Errorf("%d refusals audited, want 8", len(evs))
	}
}

// TestRealStackApplicationDuplicateAndDeny: an application in clear whose
// key comes in its Autocrypt header is taken; a second one for the same
// address and list while it waits is refused; a lead's signed /list deny
// sends the reason to the applicant, encrypted to their key, and keeps it
// encrypted at rest, out of the audit log.
func TestRealStackApplicationDuplicateAndDeny(t *testing.T) {
	if testing.Short() {
		t.Skip("real mail stack")
	}
	g := applyGateway(t, nil)
	defer g.poll()()
	o := g.newOutsider("Acme PSIRT", "psirt@acme.example")
	autocrypt := fmt.Sprintf("Autocrypt: addr=%s; keydata=%s\n", o.addr, autocryptKeydata(t, o.gp.Export(o.fpr)))
	g.sendFrom(o.addr, g.clearApplication(o.addr, "acme-1", autocrypt, "/apply embargo\nAcme Linux ships Example.", nil))
	g.waitHandled("acme-1@outside.example")
	apps := g.applications()
	if len(apps) != 1 || apps[0].Fingerprint != o.fpr {
		t.Fatalf("applications %+v; inbound %+v", apps, g.inbound("acme-1@outside.example"))
	}
	ref := apps[0].Ref
	receipt := contentOf(t, o.gp, g.awaitMailTo(o.addr, 1)[0], g.team.Fingerprint())
	if !strings.Contains(receipt, ref) {
		t.Errorf("receipt:\n%s", receipt)
	}
	// A reply to the receipt is no report: held, the team alerted, no case.
	rm, err := mail.ReadMessage(bytes.NewReader(g.mailTo(o.addr)[0]))
	if err != nil {
		t.Fatal(err)
	}
	g.sendFrom(o.addr, g.clearApplication(o.addr, "acme-thanks", "In-Reply-To: "+rm.Header.Get("Message-ID")+"\n", "Thanks! When will we hear?", nil))
	g.waitHandled("acme-thanks@outside.example")
	if in := g.inbound("acme-thanks@outside.example"); in.class != ClassApplicationReply || in.state != StateQuarantined || in.caseID != 0 {
		t.Errorf("reply to the receipt: %+v", in)
	}
	if len(g.cases()) != 0 {
		t.Error("a reply to the receipt opened a case")
	}
	if texts := g.awaitText("alice", "replied to the gateway's mail about their application"); countContaining(texts, "replied to the gateway's mail about their application") != 1 {
		t.Error("the team was not alerted of the reply")
	}
	g.sendFrom(o.addr, g.clearApplication(o.addr, "acme-2", autocrypt, "/apply embargo\nAgain.", nil))
	g.waitHandled("acme-2@outside.example")
	if in := g.inbound("acme-2@outside.example"); in.class != ClassApplicationRefused || !strings.Contains(in.reason, "waits already as "+ref) {
		t.Errorf("second application: %+v", in)
	}
	if apps := g.applications(); len(apps) != 1 {
		t.Errorf("applications after the second: %+v", apps)
	}

	const reason = "Acme Linux is a rebuild of Distro Linux"
	g.listCommand("bob", "deny-1", "/list deny "+ref+" "+reason)
	if apps := g.applications(); apps[0].State != cases.AppDenied {
		t.Fatalf("after /list deny: %+v; refusals %+v", apps[0], g.audit(cases.GatewayLog, cases.ActionRefused))
	}
	var denied string
	for _, raw := range g.awaitMailTo(o.addr, 3) {
		if !bytes.Contains(raw, []byte("multipart/encrypted")) {
			if !strings.Contains(answerText(raw), "waits already") {
				t.Errorf("a mail in clear to the applicant:\n%s", raw)
			}
			continue
		}
		if text := contentOf(t, o.gp, raw, g.team.Fingerprint()); strings.Contains(text, "declined") {
			denied = text
		}
	}
	if !strings.Contains(denied, "for this reason:\n\n"+reason+"\n") {
		t.Errorf("denial:\n%s", denied)
	}
	noOtherAddress(t, g, "the denial", denied)
	var sealed []byte
	g.db.Reader().QueryRow(`SELECT reason FROM application WHERE ref = ?`, ref).Scan(&sealed)
	if len(sealed) == 0 || strings.Contains(string(sealed), "rebuild") {
		t.Error("the reason is not stored encrypted")
	}
	log, _ := g.workflow.AuditLog(g.ctx, cases.GatewayLog)
	for _, e := range log {
		if strings.Contains(e.Detail, "rebuild") || strings.Contains(e.Detail, "ships Example") {
			t.Errorf("the audit log carries the applicant's or the team's text: %+v", e)
		}
	}
}

// TestRealStackApplicationFlood: a flood of applications from many
// addresses, each with its own gpg key, reaches the team as the day's
// limit of applications and one alert; the rest are held unanswered. One
// sender's repeated applications are answered once and then held.
func TestRealStackApplicationFlood(t *testing.T) {
	if testing.Short() {
		t.Skip("real mail stack")
	}
	g := applyGateway(t, func(c *Config) { c.ApplicationsPerDay = 3 })
	defer g.poll()()
	for i := range 4 {
		g.sendFrom("loop@repeat.example", g.clearApplication("loop@repeat.example", fmt.Sprintf("repeat-%d", i), "", "/apply embargo\nNo key.", nil))
	}
	g.waitProcessed(4)
	const n = 8
	for i := range n {
		o := g.newOutsider("Flood", fmt.Sprintf("psirt@flood%d.example", i))
		g.sendFrom(o.addr, g.encryptedApplication(o, fmt.Sprintf("flood-%d", i), "/apply embargo\nPlease."))
	}
	g.waitProcessed(n + 4)
	var taken, held int
	g.db.Reader().QueryRow(`SELECT count(*) FROM inbound WHERE class = ?`, ClassApplication).Scan(&taken)
	g.db.Reader().QueryRow(`SELECT count(*) FROM inbound WHERE class = ? AND state = ? AND reason LIKE '%applications_per_day%'`, ClassLimit, StateQuarantined).Scan(&held)
	if taken != 3 || held != n-3 {
		t.Errorf("%d taken, %d held; want 3 and %d", taken, held, n-3)
	}
	// Postfix may deliver the four in any order: whichever came fourth
	// is held.
	var limited, refused int
	for i := range 4 {
		switch in := g.inbound(fmt.Sprintf("repeat-%d@outside.example", i)); {
		case in.class == ClassLimit && strings.Contains(in.reason, "applications_per_sender"):
			limited++
		case in.class == ClassApplicationRefused:
			refused++
		}
	}
	if limited != 1 || refused != 3 {
		t.Errorf("one sender's four applications: %d held by applications_per_sender, %d refused; want 1 and 3", limited, refused)
	}
	g.settle()
	texts := g.memberInbox("alice", 0)
	if apps, alerts := countContaining(texts, "Application to embargo:"), countContaining(texts, "applications to the embargo lists arrived"); apps != 3 || alerts != 1 {
		t.Errorf("alice got %d applications and %d alerts, want 3 and 1", apps, alerts)
	}
	if got := g.mailTo("loop@repeat.example"); len(got) != 1 {
		t.Errorf("the repeating sender got %d answers, want 1", len(got))
	}
	answered := 0
	for i := range n {
		if len(g.mailTo(fmt.Sprintf("psirt@flood%d.example", i))) > 0 {
			answered++
		}
	}
	if answered != 3 {
		t.Errorf("%d of the flood's senders were answered, want the 3 taken", answered)
	}
}

// answerText is a mail in clear decoded (clearText), its lines joined
// with spaces.
func answerText(raw []byte) string {
	return strings.Join(strings.Fields(string(clearText(raw))), " ")
}
