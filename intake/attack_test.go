package intake

// The attacker's suite: each test plays an outsider against the real stack
// (Postfix, Dovecot, the gateway's intake, workflow and outbox) with gpg as
// everybody's mail client, and asserts what must hold whatever the
// attacker sends. Each class of attack named in the README's security model
// has a test here.

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"fmt"
	"io"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/emersion/go-message"

	"github.com/secgate/secgate/cases"
	"github.com/secgate/secgate/internal/gpgtest"
	"github.com/secgate/secgate/internal/mailstack"
)

// outsider is someone with a gpg key of their own and an address outside
// the project: a reporter, or an attacker.
type outsider struct {
	gp   *gpgtest.GPG
	fpr  string
	addr string
}

func (g *gateway) newOutsider(name, addr string) *outsider {
	o := &outsider{gp: gpgtest.New(g.t), addr: addr}
	o.fpr = o.gp.GenKey(name+" <"+addr+">", "ed25519")
	o.gp.Import([]byte(g.teamPub))
	return o
}

// signedMail is a member's mail as a mail client makes it: a text body in
// a multipart/signed, the header fields the client protects inside the
// signed part.
type signedMail struct {
	id        string // Message-ID local part
	from      string // outer From; default the member's address
	fromField string // the whole outer From field(s), overriding from
	to        string // outer To; default the team address
	subject   string // outer Subject; default "Re: ..."
	inReplyTo string
	// signedTo and signedSubject are header fields inside the signed part
	// (RFC 9788 header protection); "" leaves them out.
	signedTo, signedSubject string
	params                  string // extra Content-Type parameters of the text, e.g. "; format=flowed"
	body                    string
}

// memberMail builds m signed by member's gpg.
func (g *gateway) memberMail(member string, m signedMail) []byte {
	g.t.Helper()
	addr := g.stack.Addr(member)
	var prot strings.Builder
	if m.signedTo != "" {
		prot.WriteString("To: " + m.signedTo + "\r\n")
	}
	if m.signedSubject != "" {
		prot.WriteString("Subject: " + m.signedSubject + "\r\n")
	}
	hp := ""
	if prot.Len() > 0 {
		hp = "; protected-headers=\"v1\""
	}
	signed := []byte("Content-Type: text/plain; charset=utf-8" + hp + m.params + "\r\n" + prot.String() + "\r\n" +
		strings.ReplaceAll(strings.ReplaceAll(m.body, "\r\n", "\n"), "\n", "\r\n") + "\r\n")
	sig := g.members[member].Sign(signed, addr, gpgtest.Detached)
	from := m.fromField
	if from == "" {
		f := m.from
		if f == "" {
			f = addr
		}
		from = "From: " + member + " <" + f + ">"
	}
	to := m.to
	if to == "" {
		to = g.stack.Addr("security")
	}
	subject := m.subject
	if subject == "" {
		subject = "Re: ..."
	}
	var hdr strings.Builder
	fmt.Fprintf(&hdr, "%s\r\nTo: %s\r\nSubject: %s\r\nDate: %s\r\nMessage-ID: <%s@example.test>\r\n", from, to, subject, time.Now().Format(time.RFC1123Z), m.id)
	if m.inReplyTo != "" {
		fmt.Fprintf(&hdr, "In-Reply-To: %s\r\n", m.inReplyTo)
	}
	return gpgtest.CRLF([]byte(hdr.String() + "MIME-Version: 1.0\r\n" +
		"Content-Type: multipart/signed; micalg=pgp-sha256; protocol=\"application/pgp-signature\"; boundary=\"sig\"\r\n\r\n" +
		"--sig\r\n" + string(signed) + "\r\n--sig\r\nContent-Type: application/pgp-signature\r\n\r\n" + string(sig) + "\r\n--sig--\r\n"))
}

// submit sends a member's mail through Postfix's submission port.
func (g *gateway) submit(member string, raw []byte) {
	g.t.Helper()
	g.stack.Submit(g.t, member, g.stack.Addr(member), []string{g.stack.Addr("security")}, raw)
}

// inboundRow is what intake recorded of one message.
type inboundRow struct {
	state, class, reason string
	caseID               int64
}

func (g *gateway) inbound(msgID string) inboundRow {
	g.t.Helper()
	var r inboundRow
	var caseID sql.NullInt64
	err := g.db.Reader().QueryRow(`SELECT state, class, reason, case_id FROM inbound WHERE message_id = ?`, msgID).
		Scan(&r.state, &r.class, &r.reason, &caseID)
	if err != nil {
		g.t.Fatalf("inbound %s: %v", msgID, err)
	}
	r.caseID = caseID.Int64
	return r
}

// waitProcessed waits until n messages were handled (moved out of INBOX).
func (g *gateway) waitProcessed(n int) {
	g.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		var done int
		g.db.Reader().QueryRow(`SELECT count(*) FROM inbound WHERE state != 'stored'`).Scan(&done)
		if done >= n {
			return
		}
		if time.Now().After(deadline) {
			g.t.Fatalf("%d of %d messages handled after 60 s", done, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitHandled waits until the message with Message-ID msgID was handled.
func (g *gateway) waitHandled(msgID string) {
	g.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		var state string
		g.db.Reader().QueryRow(`SELECT state FROM inbound WHERE message_id = ?`, msgID).Scan(&state)
		if state != "" && state != StateStored {
			return
		}
		if time.Now().After(deadline) {
			g.t.Fatalf("message <%s> not handled after 60 s", msgID)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (g *gateway) cases() []*cases.Case {
	g.t.Helper()
	list, err := g.workflow.List(g.ctx, cases.ListOptions{})
	if err != nil {
		g.t.Fatal(err)
	}
	return list
}

// settle stops the outbox and sends what is still queued: for the
// assertions at the end of a test.
func (g *gateway) settle() {
	g.t.Helper()
	g.stopOutbox()
	if err := g.outbox.Flush(g.ctx); err != nil {
		g.t.Fatal(err)
	}
}

// contentOf is the decrypted, verified content of a mail a member or
// outsider received, as text: its Subject and its text parts, decoded.
func contentOf(t testing.TB, gp *gpgtest.GPG, raw []byte, teamFpr string) string {
	t.Helper()
	e, err := message.Read(bytes.NewReader(openMail(t, gp, raw, teamFpr)))
	if err != nil {
		t.Fatal(err)
	}
	subject, _ := e.Header.Text("Subject")
	var text strings.Builder
	e.Walk(func(_ []int, p *message.Entity, err error) error {
		if mt, _, _ := p.Header.ContentType(); err == nil && mt == "text/plain" {
			b, _ := io.ReadAll(p.Body)
			text.Write(b)
		}
		return nil
	})
	return "Subject: " + subject + "\n\n" + strings.ReplaceAll(text.String(), "\r\n", "\n")
}

// mailTo returns the messages the sink holds for the foreign address addr.
func (g *gateway) mailTo(addr string) [][]byte {
	var out [][]byte
	for _, raw := range g.stack.Messages(g.t, "sink", "INBOX") {
		if strings.EqualFold(mailstack.DeliveredTo(raw), addr) {
			out = append(out, raw)
		}
	}
	return out
}

// memberInbox returns the texts of what member received, once there are
// at least n: decrypted, or as they are when they came in clear (an answer
// to their address).
func (g *gateway) memberInbox(member string, n int) []string {
	var out []string
	for _, raw := range g.stack.WaitMessages(g.t, member, "INBOX", n, 60*time.Second) {
		if !bytes.Contains(raw, []byte("multipart/encrypted")) {
			out = append(out, string(raw))
			continue
		}
		out = append(out, contentOf(g.t, g.members[member], raw, g.team.Fingerprint()))
	}
	return out
}

// awaitText waits until a message member received holds s, and returns
// the texts of all of them.
func (g *gateway) awaitText(member, s string) []string {
	g.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		texts := g.memberInbox(member, 0)
		if countContaining(texts, s) > 0 || time.Now().After(deadline) {
			return texts
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func countContaining(texts []string, s string) int {
	n := 0
	for _, t := range texts {
		if strings.Contains(t, s) {
			n++
		}
	}
	return n
}

// flipPaddingBit flips the lowest bit of the last base64 character before
// the '=' padding of an armored block: the bit encodes nothing, so the
// block decodes to the same packets. It returns nil when the payload has no
// padding.
func flipPaddingBit(armored []byte) []byte {
	lines := strings.Split(strings.ReplaceAll(string(armored), "\r\n", "\n"), "\n")
	for i := len(lines) - 1; i > 0; i-- {
		l := lines[i]
		if !strings.HasPrefix(l, "=") || len(l) != 5 {
			continue
		}
		last := lines[i-1]
		j := strings.IndexByte(last, '=')
		if j < 1 {
			return nil
		}
		const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
		k := strings.IndexByte(alphabet, last[j-1])
		lines[i-1] = last[:j-1] + string(alphabet[k^1]) + last[j:]
		return []byte(strings.Join(lines, "\n"))
	}
	return nil
}

// encryptedMail wraps an OpenPGP message (armored, or the data part's body
// as it is with cte) in a PGP/MIME multipart/encrypted mail.
func encryptedMail(from, to, subject, id, cte string, data []byte, extra ...string) []byte {
	var h strings.Builder
	fmt.Fprintf(&h, "From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: %s\r\nMessage-ID: <%s>\r\n", from, to, subject, time.Now().Format(time.RFC1123Z), id)
	for _, e := range extra {
		h.WriteString(e + "\r\n")
	}
	part := "Content-Type: application/octet-stream; name=\"encrypted.asc\"\r\n"
	if cte != "" {
		part += "Content-Transfer-Encoding: " + cte + "\r\n"
	}
	return gpgtest.CRLF([]byte(h.String() + "MIME-Version: 1.0\r\n" +
		"Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=\"enc\"\r\n\r\n" +
		"--enc\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n\r\n--enc\r\n" + part + "\r\n" +
		string(data) + "\r\n--enc--\r\n"))
}

// autocrypt is an Autocrypt header field offering o's key.
func (o *outsider) autocrypt(t testing.TB) string {
	blk, err := armor.Decode(bytes.NewReader(o.gp.Export(o.fpr)))
	if err != nil {
		t.Fatal(err)
	}
	bin, _ := io.ReadAll(blk.Body)
	return "Autocrypt: addr=" + o.addr + "; keydata=" + base64.StdEncoding.EncodeToString(bin)
}

// TestAttackReencodedReport: an attacker re-sends a victim's encrypted
// report, re-encoded in ways gpg still decrypts to the same plaintext, from
// their own address with their own key offered: no case is opened in the
// attacker's name, nothing the attacker receives holds the report, and
// the team is alerted once for that sender.
func TestAttackReencodedReport(t *testing.T) {
	if testing.Short() {
		t.Skip("real mail stack")
	}
	g := startGateway(t)
	ctx, cancel := context.WithCancel(g.ctx)
	done := g.runPoller(ctx, nil)
	defer func() { cancel(); <-done }()

	victim := g.newOutsider("Victim", "victim@outside.example")
	mallory := g.newOutsider("Mallory", "mallory@evil.example")
	team := g.stack.Addr("security")

	// The victim's report: encrypted to the team key, no key of theirs,
	// its payload padded so that a bit can be flipped.
	canary := "CANARY-" + fmt.Sprint(time.Now().UnixNano())
	var armored, flipped []byte
	for pad := 0; flipped == nil; pad++ {
		inner := "Content-Type: text/plain; charset=utf-8\r\n\r\nThe tenant webhook leaks secrets: " + canary + strings.Repeat(".", pad) + "\r\n"
		armored = victim.gp.Encrypt([]byte(inner), g.team.Fingerprint(), "")
		flipped = flipPaddingBit(armored)
	}
	g.stack.Send(t, victim.addr, []string{team}, encryptedMail("Victim <"+victim.addr+">", team, "...", "victim-1@outside.example", "", armored))
	g.waitProcessed(1)
	if list := g.cases(); len(list) != 1 || list[0].ReporterAddr != victim.addr {
		t.Fatalf("the victim's report opened %d cases: %+v", len(list), list)
	}

	// Mallory's own report, so that a case of theirs exists to aim at.
	g.stack.Send(t, mallory.addr, []string{team}, encryptedMail("Mallory <"+mallory.addr+">", team, "...", "mallory-0@evil.example", "",
		mallory.gp.Encrypt([]byte("Content-Type: text/plain\r\n\r\nA harmless report.\r\n"), g.team.Fingerprint(), mallory.fpr), mallory.autocrypt(t)))
	g.waitProcessed(2)
	var malloryRef string
	for _, c := range g.cases() {
		if c.ReporterAddr == mallory.addr {
			malloryRef = c.Ref
		}
	}
	if malloryRef == "" {
		t.Fatal("mallory's own report opened no case")
	}

	bin, err := armor.Decode(bytes.NewReader(armored))
	if err != nil {
		t.Fatal(err)
	}
	packets, _ := io.ReadAll(bin.Body)
	// The victim's whole PGP/MIME entity, encrypted again by mallory.
	victimEntity := "Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=\"enc\"\r\n\r\n" +
		"--enc\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n\r\n--enc\r\nContent-Type: application/octet-stream\r\n\r\n" +
		string(gpgtest.CRLF(armored)) + "\r\n--enc--\r\n"
	variants := []struct {
		name, subject, cte string
		data               []byte
	}{
		{"padding bit flipped", "...", "", flipped},
		{"binary, base64", "...", "base64", []byte(base64.StdEncoding.EncodeToString(packets))},
		{"second layer", "...", "", mallory.gp.Encrypt([]byte(victimEntity), g.team.Fingerprint(), mallory.fpr)},
		{"follow-up to mallory's case", "Re: [" + malloryRef + "] more", "", flipped},
	}
	for i, v := range variants {
		g.stack.Send(t, mallory.addr, []string{team}, encryptedMail("Mallory <"+mallory.addr+">", team, v.subject,
			fmt.Sprintf("attack-%d@evil.example", i), v.cte, v.data, mallory.autocrypt(t)))
	}
	g.waitProcessed(2 + len(variants))

	if list := g.cases(); len(list) != 2 {
		t.Errorf("%d cases after the re-sent copies, want the victim's and mallory's own", len(list))
	}
	for i, v := range variants {
		r := g.inbound(fmt.Sprintf("attack-%d@evil.example", i))
		if r.state != StateQuarantined || (r.class != ClassReplay && r.class != ClassNested) {
			t.Errorf("%s: %s %s %q, want quarantined as a replay or nested encryption", v.name, r.state, r.class, r.reason)
		}
	}
	for _, c := range g.cases() {
		ms, _ := g.workflow.Messages(g.ctx, c.ID)
		if c.ReporterAddr == mallory.addr && countContaining(messageTexts(ms), canary) > 0 {
			t.Errorf("the victim's report was stored in mallory's case %s", c.Ref)
		}
	}

	g.settle()
	for _, raw := range g.mailTo(mallory.addr) {
		if bytes.Contains(raw, []byte(canary)) {
			t.Errorf("mallory received the report in clear")
		}
		if bytes.Contains(raw, []byte("multipart/encrypted")) {
			if r := mallory.gp.Decrypt(extractArmor(raw)); bytes.Contains(r.Stdout, []byte(canary)) {
				t.Errorf("mallory received the report encrypted to their key")
			}
		}
	}
	alerts := 0
	for _, member := range []string{"alice", "bob"} {
		texts := g.memberInbox(member, 2) // the victim's and mallory's reports
		alerts += countContaining(texts, "Re-sent ciphertext")
		for _, tx := range texts {
			if strings.Contains(tx, canary) && strings.Contains(tx, mallory.addr) && !strings.Contains(tx, "Re-sent ciphertext") {
				t.Errorf("%s got the victim's report as mail from mallory:\n%s", member, tx)
			}
		}
	}
	// The lead of the victim's case hears of it, once for all the copies.
	if alerts != 1 {
		t.Errorf("the team got %d alerts about the re-sent report, want 1", alerts)
	}
}

func messageTexts(ms []cases.Message) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Text
	}
	return out
}

// extractArmor returns the first armored PGP MESSAGE in raw.
func extractArmor(raw []byte) []byte {
	i := bytes.Index(raw, []byte("-----BEGIN PGP MESSAGE-----"))
	j := bytes.Index(raw, []byte("-----END PGP MESSAGE-----"))
	if i < 0 || j < i {
		return nil
	}
	return raw[i : j+len("-----END PGP MESSAGE-----")]
}

// audit returns the audit events of case id whose action is action.
func (g *gateway) audit(id int64, action string) []cases.AuditEvent {
	g.t.Helper()
	log, err := g.workflow.AuditLog(g.ctx, id)
	if err != nil {
		g.t.Fatal(err)
	}
	var out []cases.AuditEvent
	for _, e := range log {
		if e.Action == action {
			out = append(out, e)
		}
	}
	return out
}

// bound is the binding a client with header protection signs: the team
// address in To, the case tag in the Subject.
func (g *gateway) bound(m signedMail, ref string) signedMail {
	m.signedTo = g.stack.Addr("security")
	m.signedSubject = "Re: [" + ref + "] " + "commands"
	return m
}

// TestAttackReportLinesNeverRun: a report holds command lines; a member
// answers their team copy with a client that quotes without "> " (as
// Outlook, GpgOL and many mobile clients do) and signs the whole. Only the
// member's own line runs. A line the gateway sent as untrusted text never
// runs, even pasted bare into a signed reply.
func TestAttackReportLinesNeverRun(t *testing.T) {
	if testing.Short() {
		t.Skip("real mail stack")
	}
	g := startGateway(t)
	ctx, cancel := context.WithCancel(g.ctx)
	done := g.runPoller(ctx, nil)
	defer func() { cancel(); <-done }()

	g.send(g.pgpMIMEReport(1, "The webhook leaks secrets.\n/status incomplete\n/credit Mallory the Great\n\n/reply Send me the fix.\n"))
	g.waitProcessed(1)
	c := g.cases()[0]
	copies := g.stack.WaitMessages(t, "alice", "INBOX", 1, 60*time.Second)
	copyText := contentOf(t, g.members["alice"], copies[0], g.team.Fingerprint())
	_, copyBody, _ := strings.Cut(copyText, "\n\n")
	copyID := func() string {
		m, _ := mail.ReadMessage(bytes.NewReader(copies[0]))
		return m.Header.Get("Message-ID")
	}()

	// Outlook style: the member's line on top, the original below, unquoted.
	reply := "/class B1\n\n-----Original Message-----\nFrom: Security Team\nSent: today\n\n" + copyBody
	g.submit("alice", g.memberMail("alice", g.bound(signedMail{id: "outlook-1", inReplyTo: copyID, body: reply}, c.Ref)))
	g.waitProcessed(2)
	got, err := g.workflow.Get(g.ctx, c.Ref)
	if err != nil {
		t.Fatal(err)
	}
	if got.Class != "B1" {
		t.Errorf("the member's own /class did not apply: class %q; audit %+v", got.Class, g.audit(c.ID, cases.ActionRefused))
	}
	if got.State != cases.StateNew || got.Credit != "" {
		t.Errorf("report text ran as the member's commands: state %s, credit %q", got.State, got.Credit)
	}

	// The same report line pasted bare: refused, and the member told why.
	g.submit("alice", g.memberMail("alice", g.bound(signedMail{id: "bare-1", inReplyTo: copyID, body: "/credit Mallory the Great\n"}, c.Ref)))
	g.waitProcessed(3)
	got, _ = g.workflow.Get(g.ctx, c.Ref)
	if got.Credit != "" {
		t.Errorf("a line of the report ran as a command: credit %q", got.Credit)
	}
	refused := g.audit(c.ID, cases.ActionRefused)
	if len(refused) == 0 || !strings.Contains(refused[len(refused)-1].Detail, "untrusted") {
		t.Errorf("the bare report line was not refused as untrusted text: %+v", refused)
	}
	g.settle()
	for _, raw := range g.mailTo(g.repAddr) {
		if text := contentOf(t, g.reporter, raw, g.team.Fingerprint()); strings.Contains(text, "More information") || strings.Contains(text, "Send me the fix") {
			t.Errorf("the reporter was answered by their own text:\n%s", text)
		}
	}
}

// TestAttackForgedMemberFrom: unsigned mail with a member's From is a
// stranger's mail: it meets the rate limit, the member hears of it at most
// once an hour, and a re-sent ciphertext "from" a member is a replay.
func TestAttackForgedMemberFrom(t *testing.T) {
	if testing.Short() {
		t.Skip("real mail stack")
	}
	g := startGatewayOpts(t, false, func(c *Config) { c.RateLimit = 5 })
	ctx, cancel := context.WithCancel(g.ctx)
	done := g.runPoller(ctx, nil)
	defer func() { cancel(); <-done }()
	alice := g.stack.Addr("alice")
	team := g.stack.Addr("security")

	report := g.pgpMIMEReport(1, "A report to re-send.")
	g.send(report)
	g.waitProcessed(1)
	ref := g.cases()[0].Ref

	const forged = 12
	for i := range forged {
		raw := plainMail("Alice <"+alice+">", "Re: ["+ref+"] x", fmt.Sprintf("forged-%d", i), "/status invalid\n")
		g.stack.Send(t, "mallory@evil.example", []string{team}, raw)
	}
	// The victim's ciphertext, re-sent "from" alice.
	_, body, _ := bytes.Cut(report, []byte("\r\n\r\n"))
	g.stack.Send(t, "mallory@evil.example", []string{team}, gpgtest.CRLF([]byte(fmt.Sprintf("From: Alice <%s>\nTo: %s\nSubject: ...\nMessage-ID: <forged-replay@evil.example>\nMIME-Version: 1.0\n"+
		"Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=\"enc\"\n\n%s", alice, team, body))))
	g.waitProcessed(2 + forged)

	if got, _ := g.workflow.Get(g.ctx, ref); got.State != cases.StateNew {
		t.Errorf("forged mail changed the case: %s", got.State)
	}
	limited := 0
	for i := range forged {
		if r := g.inbound(fmt.Sprintf("forged-%d@hostile.test", i)); r.class == ClassLimit {
			limited++
		}
	}
	if limited < forged-5 {
		t.Errorf("%d of %d forged mails met the rate limit, want at least %d", limited, forged, forged-5)
	}
	if r := g.inbound("forged-replay@evil.example"); r.class != ClassReplay && r.class != ClassLimit {
		t.Errorf("ciphertext re-sent from a member's address: %s %s %q, want a replay", r.state, r.class, r.reason)
	}
	g.settle()
	if n := countContaining(g.memberInbox("alice", 1), "NOT applied"); n > 1 {
		t.Errorf("alice got %d refusals for mail she did not send, want at most 1", n)
	}
}

// ackID returns the Message-ID of the acknowledgement the sink holds for
// addr: a Message-ID of the gateway's, which threads to that case.
func (g *gateway) ackID(addr string) string {
	g.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		for _, raw := range g.mailTo(addr) {
			if m, err := mail.ReadMessage(bytes.NewReader(raw)); err == nil {
				return m.Header.Get("Message-ID")
			}
		}
		if time.Now().After(deadline) {
			g.t.Fatalf("no acknowledgement for %s", addr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// lastRefusal is the detail of the newest refusal in case id, "" if none.
func (g *gateway) lastRefusal(id int64) string {
	r := g.audit(id, cases.ActionRefused)
	if len(r) == 0 {
		return ""
	}
	return r[len(r)-1].Detail
}

// TestAttackCommandBinding: a member's signature counts only over the
// member's own words, for this gateway and the case the signed part names.
func TestAttackCommandBinding(t *testing.T) {
	if testing.Short() {
		t.Skip("real mail stack")
	}
	g := startGateway(t)
	ctx, cancel := context.WithCancel(g.ctx)
	done := g.runPoller(ctx, nil)
	defer func() { cancel(); <-done }()
	team, bob := g.stack.Addr("security"), g.stack.Addr("bob")
	mallory := g.newOutsider("Mallory", "mallory@evil.example")

	g.send(g.pgpMIMEReport(1, "The first report."))
	g.waitProcessed(1)
	g.stack.Send(t, mallory.addr, []string{team}, encryptedMail("Mallory <"+mallory.addr+">", team, "...", "mallory-1@evil.example", "",
		mallory.gp.Encrypt([]byte("Content-Type: text/plain\r\n\r\nMallory's own report.\r\n"), g.team.Fingerprint(), mallory.fpr), mallory.autocrypt(t)))
	g.waitProcessed(2)
	var c1, c2 *cases.Case
	for _, c := range g.cases() {
		if c.ReporterAddr == mallory.addr {
			c2 = c
		} else {
			c1 = c
		}
	}
	step := func(raw []byte, from string) {
		t.Helper()
		g.stack.Send(t, from, []string{team}, raw)
		m, err := mail.ReadMessage(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		g.waitHandled(strings.Trim(m.Header.Get("Message-ID"), "<>"))
	}
	state := func() cases.State {
		c, _ := g.workflow.Get(g.ctx, c1.Ref)
		return c.State
	}

	t.Run("format=flowed soft break", func(t *testing.T) {
		step(g.memberMail("alice", g.bound(signedMail{id: "flowed", params: "; format=flowed",
			body: "Please look at this one, I think it is \n/status incomplete\n"}, c1.Ref)), g.stack.Addr("alice"))
		if s := state(); s != cases.StateNew {
			t.Errorf("a soft line break made a command: state %s", s)
		}
	})
	t.Run("contradicting commands", func(t *testing.T) {
		step(g.memberMail("alice", g.bound(signedMail{id: "contra", body: "/status confirmed\n/status incomplete\n"}, c1.Ref)), g.stack.Addr("alice"))
		if s := state(); s != cases.StateNew || !strings.Contains(g.lastRefusal(c1.ID), "contradicts") {
			t.Errorf("state %s, last refusal %q; want the mail refused whole", s, g.lastRefusal(c1.ID))
		}
	})
	t.Run("two From fields", func(t *testing.T) {
		step(g.memberMail("alice", g.bound(signedMail{id: "twofrom", fromField: "From: alice <" + g.stack.Addr("alice") + ">\r\nFrom: " + mallory.addr,
			body: "/status confirmed\n"}, c1.Ref)), g.stack.Addr("alice"))
		if s := state(); s != cases.StateNew || !strings.Contains(g.lastRefusal(c1.ID), "From header fields") {
			t.Errorf("state %s, last refusal %q; want the mail refused", s, g.lastRefusal(c1.ID))
		}
	})
	t.Run("signed for someone else, re-sent", func(t *testing.T) {
		// Alice signed this for bob (no header protection); mallory
		// re-sends it to the gateway with the case tag outside.
		step(g.memberMail("alice", signedMail{id: "forwarded", to: team, subject: "Fwd: [" + c1.Ref + "] x", body: "/status invalid\n"}), mallory.addr)
		if s := state(); s != cases.StateNew {
			t.Errorf("a member's mail to someone else ran as a command: state %s", s)
		}
		// Signed with header protection naming bob: refused too.
		step(g.memberMail("alice", signedMail{id: "forwarded-2", signedTo: bob, signedSubject: "[" + c1.Ref + "] x", body: "/status invalid\n"}), mallory.addr)
		if s := state(); s != cases.StateNew {
			t.Errorf("a member's mail signed for bob ran as a command: state %s", s)
		}
	})
	t.Run("copy redirected to another case", func(t *testing.T) {
		// Mallory delivers a copy of alice's signed mail first, threaded
		// into mallory's own case by the acknowledgement's Message-ID.
		real := g.memberMail("alice", g.bound(signedMail{id: "redirect", body: "/class B2\n"}, c1.Ref))
		forged := bytes.Replace(real, []byte("Message-ID: <redirect@example.test>"),
			[]byte("Message-ID: <redirect-copy@evil.example>\r\nIn-Reply-To: "+g.ackID(mallory.addr)), 1)
		step(forged, mallory.addr)
		step(real, g.stack.Addr("alice"))
		if c, _ := g.workflow.Get(g.ctx, c2.Ref); c.Class != "" {
			t.Errorf("alice's command was applied to mallory's case %s", c2.Ref)
		}
		g.stack.WaitMessages(t, "alice", "INBOX", 2, 30*time.Second)
	})
	t.Run("clear-signed Hash header contradicts the signature", func(t *testing.T) {
		cs := g.members["alice"].Sign([]byte("/case "+c1.Ref+"\n/class C1\n"), g.stack.Addr("alice"), gpgtest.Clearsign)
		cs = bytes.Replace(cs, []byte("Hash: SHA256"), []byte("Hash: SHA512"), 1)
		raw := gpgtest.CRLF([]byte(fmt.Sprintf("From: alice <%s>\nTo: %s\nSubject: x\nDate: %s\nMessage-ID: <hash@example.test>\nMIME-Version: 1.0\nContent-Type: text/plain\n\n%s",
			g.stack.Addr("alice"), team, time.Now().Format(time.RFC1123Z), cs)))
		step(raw, g.stack.Addr("alice"))
		if c, _ := g.workflow.Get(g.ctx, c1.Ref); c.Class == "C1" {
			t.Errorf("a clear-signed block whose Hash header lies was accepted")
		}
	})
	g.settle()
	// Every command mail of alice's own was answered, also the copy that
	// lost the race to mallory's.
	texts := g.awaitText("alice", "arrived again")
	if countContaining(texts, "arrived again") != 1 {
		t.Errorf("alice was not told that her mail's copy was redirected and hers ignored")
	}
}

// TestAttackStrangers: the limits strangers meet, and addresses answered
// only as they are written.
func TestAttackStrangers(t *testing.T) {
	if testing.Short() {
		t.Skip("real mail stack")
	}
	g := startGatewayOpts(t, false, func(c *Config) { c.NewCasesPerDay = 5 })
	ctx, cancel := context.WithCancel(g.ctx)
	done := g.runPoller(ctx, nil)
	defer func() { cancel(); <-done }()
	team := g.stack.Addr("security")
	send := func(from string, raw []byte) {
		t.Helper()
		g.stack.Send(t, from, []string{team}, raw)
		m, err := mail.ReadMessage(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		g.waitHandled(strings.Trim(m.Header.Get("Message-ID"), "<>"))
	}

	// A helpdesk that answers every acknowledgement with a new ticket.
	const bot = "helpdesk@tickets.example"
	for i := range 8 {
		send(bot, plainMail(bot, fmt.Sprintf("Ticket #%d received", 1000+i), fmt.Sprintf("ticket-%d", i), "We received your request.\n"))
	}
	opened := 0
	for _, c := range g.cases() {
		if c.ReporterAddr == bot {
			opened++
		}
	}
	if opened != 5 {
		t.Errorf("the helpdesk opened %d cases, want the daily 5", opened)
	}
	if r := g.inbound("ticket-7@hostile.test"); r.state != StateQuarantined || r.class != ClassLimit {
		t.Errorf("the 8th ticket: %s %s %q", r.state, r.class, r.reason)
	}

	// A quoted local part is an address like any other.
	const quoted = `"john q doe"@outside.example`
	send("john@outside.example", plainMail(quoted, "A report", "quoted", "The parser crashes.\n"))
	if r := g.inbound("quoted@hostile.test"); r.class != ClassReport {
		t.Errorf("report from %s: %s %s %q", quoted, r.state, r.class, r.reason)
	}
	// An unparsable From is answered nowhere, least at what it contains.
	send("x@evil.example", plainMail("<victim@outside.example>@evil.example", "A report", "angle", "Hello.\n"))

	// An encrypted follow-up whose case tag is only in the protected
	// Subject joins that case.
	ref := ""
	for _, c := range g.cases() {
		if c.ReporterAddr == quoted {
			ref = c.Ref
		}
	}
	inner := "Content-Type: text/plain; charset=utf-8; protected-headers=\"v1\"\r\nSubject: Re: [" + ref + "] more\r\n\r\nMore detail.\r\n"
	before := len(g.cases())
	send(g.repAddr, encryptedMail("Reporter <"+g.repAddr+">", team, "...", "protected-followup@outside.example", "",
		g.reporter.Encrypt([]byte(inner), g.team.Fingerprint(), "")))
	if r := g.inbound("protected-followup@outside.example"); r.class != ClassFollowUp || len(g.cases()) != before {
		t.Errorf("encrypted follow-up to %s: %s %s %q, %d cases (was %d)", ref, r.state, r.class, r.reason, len(g.cases()), before)
	}

	g.settle()
	if len(g.mailTo(quoted)) == 0 {
		t.Errorf("no acknowledgement reached %s", quoted)
	}
	if got := g.mailTo("victim@outside.example"); len(got) != 0 {
		t.Errorf("a From of <victim@outside.example>@evil.example was answered at victim@outside.example")
	}
	if got := len(g.mailTo(bot)); got != 5 {
		t.Errorf("the helpdesk got %d acknowledgements, want 5", got)
	}
	if n := countContaining(g.awaitText("alice", "New reports from one address held"), "New reports from one address held"); n != 1 {
		t.Errorf("alice was told %d times of the held reports, want once", n)
	}
}

// TestAttackReporterIdentity: the reporter of record is who the From and a
// matching key say, never a key that merely came along.
func TestAttackReporterIdentity(t *testing.T) {
	if testing.Short() {
		t.Skip("real mail stack")
	}
	g := startGateway(t)
	ctx, cancel := context.WithCancel(g.ctx)
	done := g.runPoller(ctx, nil)
	defer func() { cancel(); <-done }()
	team := g.stack.Addr("security")
	victim := g.newOutsider("Victim", "victim@outside.example")
	mallory := g.newOutsider("Mallory", "mallory@evil.example")

	// Mallory sends a text the victim signed (its key attached inside),
	// from mallory's address, offering mallory's own key.
	inner := "Content-Type: multipart/mixed; boundary=\"in\"\r\n\r\n--in\r\nContent-Type: text/plain\r\n\r\nA signed text.\r\n" +
		"--in\r\nContent-Type: application/pgp-keys\r\n\r\n" + string(gpgtest.CRLF(victim.gp.Export(victim.fpr))) + "\r\n--in--\r\n"
	mallory.gp.Import(victim.gp.Export(victim.fpr))
	enc := victim.gp.Encrypt([]byte(inner), g.team.Fingerprint(), victim.fpr)
	g.stack.Send(t, mallory.addr, []string{team}, encryptedMail("Mallory <"+mallory.addr+">", team, "...", "signed-by-other@evil.example", "", enc, mallory.autocrypt(t)))

	// Inline PGP with clear text around the block.
	block := g.reporter.Encrypt([]byte("Encrypted part.\n"), g.team.Fingerprint(), "")
	g.stack.Send(t, g.repAddr, []string{team}, gpgtest.CRLF([]byte(fmt.Sprintf("From: Reporter <%s>\nTo: %s\nSubject: report\nMessage-ID: <partial@outside.example>\nMIME-Version: 1.0\nContent-Type: text/plain\n\nCLEAR-BEFORE\n%s\nCLEAR-AFTER\n",
		g.repAddr, team, block))))
	g.waitHandled("signed-by-other@evil.example")
	g.waitHandled("partial@outside.example")
	if r := g.inbound("partial@outside.example"); r.class != ClassReport {
		t.Errorf("inline block with clear text around: %s %s %q", r.state, r.class, r.reason)
	}

	for _, c := range g.cases() {
		if c.ReporterAddr == mallory.addr && c.ReporterKey != "" {
			t.Errorf("case %s of mallory's mail took a key (the signer's is not mallory's; the Autocrypt one is not the signer's)", c.Ref)
		}
	}
	g.settle()
	texts := g.memberInbox("alice", 2)
	if countContaining(texts, "the signing key has no user ID with the address "+mallory.addr) != 1 {
		t.Errorf("the team copy does not warn that the signer is not the sender")
	}
	found := false
	for _, tx := range texts {
		found = found || strings.Contains(tx, "OUTSIDE the encrypted part") && strings.Contains(tx, "| CLEAR-BEFORE") && strings.Contains(tx, "| CLEAR-AFTER")
	}
	if !found {
		t.Errorf("the clear text around the inline block was not shown to the team as such: %q", texts)
	}
}
