package main

import (
	"bytes"
	"database/sql"
	"fmt"
	"net/mail"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/secgate/secgate/cases/casestest"
	"github.com/secgate/secgate/crypto"
	"github.com/secgate/secgate/internal/gpgtest"
	"github.com/secgate/secgate/internal/mailstack"
)

// hostileProject is one project of the hostile tests.
type hostileProject struct {
	name, display, prefix string
	mailbox               string // the stack user reading its reports
	team                  *crypto.Key
	database              string
	canary                string
}

// hostileEnv is two projects (knative, kata) served by one secgate serve
// on the real stack, with members, a reporter (gpg) and an outsider (gpg).
type hostileEnv struct {
	t        *testing.T
	stack    *mailstack.Stack
	proc     *serveProc
	logs     string
	kn, kata *hostileProject
	keys     map[string]*crypto.Key // member stack user -> private key
	rita     *gpgtest.GPG
	ritaFpr  string
	mallory  *gpgtest.GPG
	malFpr   string
	dists    map[string]*gpgtest.GPG // distributor stack user -> their gpg
	distFprs map[string]string
	seq      int
	config   string // the secgate.toml serve runs with
	metrics  string // its metrics address
}

// hostileMember is a member of the projects named in in.
type hostileMember struct {
	user string
	in   []string // project short names
}

// startHostile writes the two projects' files (case prefixes knPrefix and
// kataPrefix; each member in the projects it names, with the same key in
// each) and starts one secgate serve for both.
//
// Every one of dists (stack users, each with a gpg key) is on both
// projects' embargo lists, with the same address and key.
func startHostile(t *testing.T, knPrefix, kataPrefix string, members []hostileMember, dists ...string) *hostileEnv {
	return startHostileWith(t, "", knPrefix, kataPrefix, members, dists...)
}

// startHostileWith is startHostile with extra appended to secgate.toml.
func startHostileWith(t *testing.T, extra, knPrefix, kataPrefix string, members []hostileMember, dists ...string) *hostileEnv {
	tmp := t.TempDir()
	bin := buildSecgate(t, tmp)
	users := append([]string{"knsec", "katasec", "rita", "mallory"}, dists...)
	for _, m := range members {
		users = append(users, m.user)
	}
	stack := mailstack.Start(t, mailstack.Options{Users: users})
	e := &hostileEnv{t: t, stack: stack, keys: map[string]*crypto.Key{}, dists: map[string]*gpgtest.GPG{}, distFprs: map[string]string{},
		kn:   &hostileProject{name: "knative", display: "Knative", prefix: knPrefix, mailbox: "knsec", canary: "CANARY-KNATIVE-REPORT"},
		kata: &hostileProject{name: "kata", display: "Kata", prefix: kataPrefix, mailbox: "katasec", canary: "CANARY-KATA-REPORT"},
	}
	d := newServeDir(t)
	e.metrics = freeLoopbackAddr(t)
	config := d.serveTopConfig(stack, e.metrics, "", "", extra)
	for _, m := range members {
		e.keys[m.user] = serveKey(t, m.user, stack.Addr(m.user))
		d.write("projects/"+m.user+".asc", armorPub(t, e.keys[m.user]), 0o644)
	}
	var lists strings.Builder
	for _, u := range dists {
		g := gpgtest.New(t)
		e.dists[u], e.distFprs[u] = g, g.GenKey("Distributor "+u+" <"+stack.Addr(u)+">", "ed25519")
		d.write("projects/"+u+".asc", string(g.Export(e.distFprs[u])), 0o644)
		fmt.Fprintf(&lists, "\n[[distlist.list.recipient]]\nname = %q\naddress = %q\nkey_file = \"%s.asc\"\n", "Distributor "+u, stack.Addr(u), u)
	}
	for _, p := range []*hostileProject{e.kn, e.kata} {
		pass := p.name + " team passphrase, not secret"
		p.team = serveKey(t, p.display+" Security Team", stack.Addr(p.mailbox))
		p.database = d.teamKey(p.name, p.team, pass)
		var ms strings.Builder
		for _, m := range members {
			for _, in := range m.in {
				if in == p.name {
					fmt.Fprintf(&ms, "\n[[distlist.member]]\nname = %q\naddress = %q\nkey_file = \"%[1]s.asc\"\nrole = \"lead\"\n", m.user, stack.Addr(m.user))
				}
			}
		}
		d.write("projects/"+p.name+".toml", fmt.Sprintf(`[project]
name = %q
case_prefix = %q

[gateway]
team = %q

[team_key]
passphrase_file = "%[4]s.pass"

[imap]
user = %[3]q

[smtp]
user = %[3]q
%[5]s
[[distlist.list]]
name = "embargo"
kind = "embargo"
%[6]s`, p.display, p.prefix, stack.Addr(p.mailbox), p.name, ms.String(), lists.String()), 0o644)
	}
	e.config = config
	e.rita = gpgtest.New(t)
	e.ritaFpr = e.rita.GenKey("Rita Reporter <"+stack.Addr("rita")+">", "ed25519")
	e.mallory = gpgtest.New(t)
	e.malFpr = e.mallory.GenKey("Mallory <"+stack.Addr("mallory")+">", "ed25519")
	for _, p := range []*hostileProject{e.kn, e.kata} {
		e.rita.Import([]byte(armorPub(t, p.team)))
		e.mallory.Import([]byte(armorPub(t, p.team)))
		for _, g := range e.dists {
			g.Import([]byte(armorPub(t, p.team)))
		}
	}

	proc := startCheckedServe(t, bin, config)
	e.proc, e.logs = proc, filepath.Dir(proc.log)
	deadline := time.Now().Add(time.Minute)
	for {
		b, _ := os.ReadFile(proc.log)
		if strings.Count(string(b), "intake: watching mailbox") >= 2 {
			break
		}
		if proc.exited() || time.Now().After(deadline) {
			t.Fatalf("secgate serve does not watch both mailboxes: %v\n%s", proc.err, proc.tail(30))
		}
		time.Sleep(50 * time.Millisecond)
	}
	return e
}

// stop stops serve and checks its log for errors.
func (e *hostileEnv) stop() {
	if err := e.proc.stop(30 * time.Second); err != nil {
		e.t.Fatalf("secgate serve: %v\n%s", err, e.proc.tail(20))
	}
	logErrors(e.t, e.logs)
}

func (e *hostileEnv) addr(user string) string { return e.stack.Addr(user) }

// msgID returns a fresh Message-ID (without <>).
func (e *hostileEnv) msgID(what string) string {
	e.seq++
	return fmt.Sprintf("%s-%d-%d@outside.example", what, e.seq, time.Now().UnixNano())
}

// encryptedMail is a PGP/MIME mail from g's user, encrypted by gpg to
// toFpr (and the sender), to the address to.
func (e *hostileEnv) encryptedMail(g *gpgtest.GPG, fromUser, fromFpr, toFpr, to, subject, text, id string) []byte {
	inner := "Content-Type: multipart/mixed; boundary=\"in\"\r\n\r\n--in\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" +
		strings.ReplaceAll(text, "\n", "\r\n") + "\r\n" +
		"\r\n--in\r\nContent-Type: application/pgp-keys\r\nContent-Disposition: attachment; filename=\"key.asc\"\r\n\r\n" +
		strings.ReplaceAll(string(g.Export(fromFpr)), "\n", "\r\n") + "\r\n--in--\r\n"
	enc := g.Encrypt([]byte(inner), toFpr, fromFpr)
	return toCRLF([]byte(fmt.Sprintf("From: %s <%s>\nTo: %s\nSubject: %s\nDate: %s\nMessage-ID: <%s>\nMIME-Version: 1.0\n"+
		"Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=\"enc\"\n\n"+
		"--enc\nContent-Type: application/pgp-encrypted\n\nVersion: 1\n\n--enc\nContent-Type: application/octet-stream; name=\"encrypted.asc\"\n\n%s\n--enc--\n",
		fromUser, e.addr(fromUser), to, subject, time.Now().Format(time.RFC1123Z), id, enc)))
}

// report sends rita's report to p, encrypted to p's key, and waits for its
// case; it returns the case's ref.
func (e *hostileEnv) report(p *hostileProject) string {
	id := e.msgID("report-" + p.name)
	e.stack.Send(e.t, e.addr("rita"), []string{e.addr(p.mailbox)},
		e.encryptedMail(e.rita, "rita", e.ritaFpr, p.team.Fingerprint(), e.addr(p.mailbox), "...", "A report to "+p.display+" alone.\n"+p.canary, id))
	e.waitInbound(p, id)
	var ref string
	e.query(p, `SELECT c.ref FROM inbound i JOIN cases c ON c.id = i.case_id WHERE i.message_id = ?`, id).Scan(&ref)
	if ref == "" {
		e.t.Fatalf("%s: the report opened no case", p.name)
	}
	return ref
}

// query runs one query on p's database (read-only).
func (e *hostileEnv) query(p *hostileProject, q string, args ...any) *sql.Row {
	db, err := openRO(p.database)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { db.Close() })
	return db.QueryRow(q, args...)
}

func (e *hostileEnv) count(p *hostileProject, q string, args ...any) int {
	var n int
	if err := e.query(p, q, args...).Scan(&n); err != nil {
		e.t.Fatalf("%s: %s: %v", p.name, q, err)
	}
	return n
}

// waitInbound waits until p's intake has processed (or held) the message
// with Message-ID id and every outbox row has left.
func (e *hostileEnv) waitInbound(p *hostileProject, id string) (class, state, reason string) {
	e.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		db, err := openRO(p.database)
		if err == nil {
			err = db.QueryRow(`SELECT class, state, reason FROM inbound WHERE message_id IN (?, ?) AND state != 'stored'`, id, "<"+id+">").Scan(&class, &state, &reason)
			var pending int
			db.QueryRow(`SELECT count(*) FROM outbox WHERE state IN ('queued', 'sending', 'deferred')`).Scan(&pending)
			db.Close()
			if err == nil && pending == 0 {
				return class, state, reason
			}
		}
		if e.proc.exited() || time.Now().After(deadline) {
			e.t.Fatalf("%s never processed %s: %v\n%s", p.name, id, e.proc.err, e.proc.tail(30))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// notInbound checks that p never stored a message with Message-ID id.
func (e *hostileEnv) notInbound(p *hostileProject, id string) {
	e.t.Helper()
	if n := e.count(p, `SELECT count(*) FROM inbound WHERE message_id IN (?, ?)`, id, "<"+id+">"); n != 0 {
		e.t.Errorf("%s stored %s, sent to the other project", p.name, id)
	}
}

// command sends a member's signed and encrypted command mail to p's address.
func (e *hostileEnv) command(user string, p *hostileProject, subject, body string) string {
	e.t.Helper()
	raw, id, err := casestest.CommandMail(e.keys[user], p.team.Public(), casestest.Options{From: user + " <" + e.addr(user) + ">", To: e.addr(p.mailbox),
		Subject: subject, Body: body})
	if err != nil {
		e.t.Fatal(err)
	}
	e.stack.Send(e.t, e.addr(user), []string{e.addr(p.mailbox)}, raw)
	return strings.Trim(id, "<>")
}

// caseRow is what a command could change of a case.
func (e *hostileEnv) caseRow(p *hostileProject, ref string) string {
	var s string
	e.query(p, `SELECT state || '|' || class || '|' || lead || '|' || updated || '|' || (SELECT count(*) FROM case_audit a WHERE a.case_id = cases.id) || '|' || (SELECT count(*) FROM case_messages m WHERE m.case_id = cases.id) FROM cases WHERE ref = ?`, ref).Scan(&s)
	return s
}

// gotMail is one mail as its recipient reads it.
type gotMail struct {
	from, subject, text string
	signer              string
}

// inbox returns the mails in user's INBOX, each opened with the user's key
// (a member's with crypto, anyone else's with their gpg), with its From and
// its subject (the protected one when the outer is hidden).
func (e *hostileEnv) inbox(user string) []gotMail {
	var out []gotMail
	verifiers := []*crypto.Key{e.kn.team.Public(), e.kata.team.Public()}
	for _, raw := range e.stack.Messages(e.t, user, "INBOX") {
		m, err := mail.ReadMessage(bytes.NewReader(toCRLF(raw)))
		if err != nil {
			e.t.Fatal(err)
		}
		g := gotMail{from: m.Header.Get("From"), subject: m.Header.Get("Subject")}
		if k := e.keys[user]; k != nil {
			if o, err := crypto.Open(toCRLF(raw), crypto.OpenOptions{Decrypt: k, Verifiers: verifiers}); err == nil {
				g.text = string(o.Entity)
				if o.Signature != nil && o.Signature.Err == nil {
					g.signer = o.Signature.Fingerprint
				}
			} else {
				g.text = string(raw)
			}
		} else {
			var gp *gpgtest.GPG
			switch user {
			case "rita":
				gp = e.rita
			case "mallory":
				gp = e.mallory
			default:
				gp = e.dists[user]
			}
			g.text = string(raw)
			if strings.HasPrefix(m.Header.Get("Content-Type"), "multipart/encrypted") {
				if r := gpgOpenMail(e.t, gp, raw); r.Err == nil {
					g.text = string(r.Stdout)
				}
			}
		}
		// Quoted-printable soft breaks out, and the protected subject.
		g.text = strings.NewReplacer("=\r\n", "", "=\n", "", "=3D", "=", "\r\n", "\n").Replace(g.text)
		if sm := innerSubject.FindStringSubmatch(g.text); sm != nil && g.subject == "[...]" {
			g.subject = sm[1]
		}
		out = append(out, g)
	}
	return out
}

var innerSubject = regexp.MustCompile(`(?m)^Subject: (.*)$`)

// TestProjectsHostileCrossProject attacks two projects (knative: KN-,
// kata: KATA-) on the real stack from one to the other:
//   - a knative member's signed command naming kata's case, sent to kata:
//     kata changes nothing of its case and takes it as a stranger's mail;
//     knative records nothing;
//   - the same sent to knative: refused, "not a case of this project";
//   - an outsider's follow-ups to kata tagged with kata's own ref, a
//     knative ref and a ref that exists nowhere: only kata's own case
//     takes one; the answers to an existing and a missing ref are compared;
//   - a report encrypted to knative's key sent to kata's address: held by
//     kata as wrong-key, answered from kata without naming knative, never
//     seen by knative;
//   - carol, a member of both, naming kata's case at knative's address is
//     told it is not knative's case; at kata's address her command applies
//     to kata's case alone.
func TestProjectsHostileCrossProject(t *testing.T) {
	if testing.Short() {
		t.Skip("real mail stack")
	}
	e := startHostile(t, "KN", "KATA", []hostileMember{{"alice", []string{"knative"}}, {"bob", []string{"kata"}}, {"carol", []string{"knative", "kata"}}})
	kn, kata := e.kn, e.kata
	knRef, kataRef := e.report(kn), e.report(kata)
	if !strings.HasPrefix(knRef, "KN-") || !strings.HasPrefix(kataRef, "KATA-") {
		t.Fatalf("refs %s, %s", knRef, kataRef)
	}
	kataBefore := e.caseRow(kata, kataRef)
	knBefore := e.caseRow(kn, knRef)
	aliceBefore := len(e.inbox("alice"))

	// 1. alice (knative) commands kata's case at kata's address.
	id := e.command("alice", kata, "["+kataRef+"] triage", "/case "+kataRef+"\n/class C2\n/note taken over\n")
	class, state, reason := e.waitInbound(kata, id)
	t.Logf("kata: alice's command: inbound class=%q state=%q reason=%q; case %s -> %s", class, state, reason, kataBefore, e.caseRow(kata, kataRef))
	var cls string
	e.query(kata, `SELECT class FROM cases WHERE ref = ?`, kataRef).Scan(&cls)
	if cls != "" {
		t.Errorf("kata's case took alice's /class: %q", cls)
	}
	var audits string
	e.query(kata, `SELECT group_concat(actor || ' ' || action || ' ' || detail, char(10)) FROM case_audit WHERE case_id = (SELECT id FROM cases WHERE ref = ?)`, kataRef).Scan(&audits)
	t.Logf("kata's audit of %s:\n%s", kataRef, audits)
	if class != "followup" || !strings.Contains(reason, "not a team member") {
		t.Errorf("kata took alice's command as %q (%s), want a stranger's follow-up", class, reason)
	}
	if before, after := strings.Split(kataBefore, "|"), strings.Split(e.caseRow(kata, kataRef), "|"); strings.Join(before[:3], "|") != strings.Join(after[:3], "|") {
		t.Errorf("kata's case changed: %s -> %s", kataBefore, e.caseRow(kata, kataRef))
	}
	if !strings.Contains(audits, "refused 3 lines that read as commands (/case, /class, /note) not applied: the sender is not a team member") {
		t.Errorf("kata's audit does not record the refusal:\n%s", audits)
	}
	e.notInbound(kn, id)
	if got := e.caseRow(kn, knRef); got != knBefore {
		t.Errorf("knative's case changed when alice wrote to kata: %s -> %s", knBefore, got)
	}
	if n := e.count(kn, `SELECT count(*) FROM case_audit WHERE detail LIKE ?`, "%"+kataRef+"%"); n != 0 {
		t.Errorf("knative's audit names %s", kataRef)
	}
	time.Sleep(2 * time.Second) // any late answer
	for i, g := range e.inbox("alice")[aliceBefore:] {
		t.Logf("alice got (%d) from %s: %s\n%s", i, g.from, g.subject, g.text)
		if strings.Contains(g.text, kata.canary) || strings.Contains(g.text, e.addr("rita")) {
			t.Errorf("kata's answer to alice reveals the case: %s", g.text)
		}
	}
	if n := len(e.inbox("alice")) - aliceBefore; n > 1 {
		t.Errorf("alice got %d mails from kata's refusal, want at most 1", n)
	}

	// 1b. the same at knative's address: not a case of this project.
	aliceBefore = len(e.inbox("alice"))
	id = e.command("alice", kn, "["+kataRef+"] triage", "/case "+kataRef+"\n/class C2\n")
	class, state, reason = e.waitInbound(kn, id)
	t.Logf("knative: alice's command naming %s: class=%q state=%q reason=%q", kataRef, class, state, reason)
	e.notInbound(kata, id)
	if got := e.caseRow(kn, knRef); got != knBefore {
		t.Logf("knative's case %s changed: %s -> %s", knRef, knBefore, got)
	}
	e.query(kn, `SELECT class FROM cases WHERE ref = ?`, knRef).Scan(&cls)
	if cls != "" {
		t.Errorf("knative's %s took a command naming %s: class %q", knRef, kataRef, cls)
	}
	if n := e.count(kn, `SELECT count(*) FROM cases WHERE ref = ?`, kataRef); n != 0 {
		t.Errorf("knative has a case %s", kataRef)
	}
	deadline := time.Now().Add(time.Minute)
	var answers []gotMail
	for len(answers) == 0 && time.Now().Before(deadline) {
		answers = e.inbox("alice")[aliceBefore:]
		time.Sleep(200 * time.Millisecond)
	}
	if len(answers) != 1 || !strings.Contains(answers[0].text, "not a case of this project") || answers[0].signer != kn.team.Fingerprint() {
		t.Errorf("alice's answers from knative: %+v", answers)
	}
	if e.caseRow(kata, kataRef) != e.caseRow(kata, kataRef) || func() int {
		return e.count(kata, `SELECT count(*) FROM inbound WHERE message_id IN (?, ?)`, id, "<"+id+">")
	}() != 0 {
		t.Errorf("kata saw the mail to knative")
	}

	// 3. tag guessing: mallory follows up at kata's address, first with
	// refs kata does not have (knative's own, one of nobody, one of the
	// default prefix), then with kata's: what differs in kata's answers?
	ritaBefore := len(e.inbox("rita"))
	bobBefore := len(e.inbox("bob"))
	guesses := []string{knRef, "KATA-2026-0099", "SEC-2026-0001", kataRef}
	results := map[string]string{}
	refRE := regexp.MustCompile(`(KATA|KN|SEC)-[0-9]{4}-[0-9]{4}`)
	for i, ref := range guesses {
		malBefore := len(e.inbox("mallory"))
		id := e.msgID("guess")
		e.stack.Send(t, e.addr("mallory"), []string{e.addr(kata.mailbox)},
			e.encryptedMail(e.mallory, "mallory", e.malFpr, kata.team.Fingerprint(), e.addr(kata.mailbox), "Re: ["+ref+"] more",
				fmt.Sprintf("More about it, guess %d.", i), id))
		class, state, _ := e.waitInbound(kata, id)
		var caseRef sql.NullString
		e.query(kata, `SELECT c.ref FROM inbound i LEFT JOIN cases c ON c.id = i.case_id WHERE i.message_id IN (?, ?)`, id, "<"+id+">").Scan(&caseRef)
		time.Sleep(time.Second)
		var subjects []string
		for _, g := range e.inbox("mallory")[malBefore:] {
			subjects = append(subjects, refRE.ReplaceAllString(g.subject, "REF"))
			t.Logf("mallory got, for [%s]: %s", ref, g.subject)
		}
		newCase := caseRef.Valid && caseRef.String != kataRef
		results[ref] = fmt.Sprintf("class=%s state=%s new case=%v answers=%q", class, state, newCase, subjects)
		t.Logf("mallory's follow-up tagged [%s] at kata: case %q: %s", ref, caseRef.String, results[ref])
		e.notInbound(kn, id)
		if caseRef.String == knRef || refRE.MatchString(caseRef.String) && !strings.HasPrefix(caseRef.String, "KATA-") {
			t.Errorf("[%s] at kata reached case %s", ref, caseRef.String)
		}
		if ref == kataRef && (class != "followup" || caseRef.String != kataRef) {
			t.Errorf("[%s] at kata: class %q case %q, want a follow-up of its case", ref, class, caseRef.String)
		}
	}
	if results[knRef] != results["KATA-2026-0099"] || results[knRef] != results["SEC-2026-0001"] {
		t.Errorf("kata treats a ref of knative otherwise than one that exists nowhere:\n%s\n%s\n%s", results[knRef], results["KATA-2026-0099"], results["SEC-2026-0001"])
	}
	for _, g := range e.inbox("rita")[ritaBefore:] {
		if strings.Contains(g.text, "guess") {
			t.Errorf("rita, the reporter, was sent mallory's follow-up: %s", g.subject)
		}
	}
	for _, g := range e.inbox("alice") {
		if strings.Contains(g.text, "More about it, guess") {
			t.Errorf("alice (knative) was sent mallory's follow-up to kata: %s", g.subject)
		}
	}
	var labelled bool
	for _, g := range e.inbox("bob")[bobBefore:] {
		if strings.Contains(g.text, "guess 3") {
			labelled = true
			t.Logf("bob's copy of the stranger's follow-up: %s", g.subject)
		}
	}
	if !labelled {
		t.Errorf("bob got no copy of the follow-up on %s", kataRef)
	}
	e.query(kata, `SELECT class FROM cases WHERE ref = ?`, kataRef).Scan(&cls)
	if cls != "" {
		t.Errorf("mallory's /class ran on %s: %q", kataRef, cls)
	}
	if results[knRef] != results["KATA-2026-0099"] || results[knRef] != results["SEC-2026-0001"] {
		t.Errorf("kata answers a ref of knative otherwise than a ref that exists nowhere:\n%s\n%s", results[knRef], results["KATA-2026-0099"])
	}
	for _, g := range e.inbox("rita")[ritaBefore:] {
		if strings.Contains(g.from, e.addr(kn.mailbox)) {
			t.Errorf("rita, knative's reporter, heard of mallory's guess: %s", g.subject)
		}
	}

	// 4. A report encrypted to knative's key sent to kata's address.
	ritaBefore = len(e.inbox("rita"))
	id = e.msgID("wrongkey")
	e.stack.Send(t, e.addr("rita"), []string{e.addr(kata.mailbox)},
		e.encryptedMail(e.rita, "rita", e.ritaFpr, kn.team.Fingerprint(), e.addr(kata.mailbox), "...", "For knative.\nCANARY-MISADDRESSED", id))
	class, state, reason = e.waitInbound(kata, id)
	t.Logf("kata: report encrypted to knative's key: class=%q state=%q reason=%q", class, state, reason)
	if class != "wrong-key" || state != "quarantined" {
		t.Errorf("kata: class %q state %q, want wrong-key, quarantined", class, state)
	}
	e.notInbound(kn, id)
	deadline = time.Now().Add(time.Minute)
	answers = nil
	for len(answers) == 0 && time.Now().Before(deadline) {
		answers = e.inbox("rita")[ritaBefore:]
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(time.Second)
	answers = e.inbox("rita")[ritaBefore:]
	if len(answers) != 1 {
		t.Errorf("rita got %d answers to the misaddressed report, want 1", len(answers))
	}
	for _, g := range answers {
		t.Logf("rita's answer from %s: %s", g.from, g.subject)
		if !strings.Contains(g.from, e.addr(kata.mailbox)) || !strings.Contains(g.subject, "wrong key") {
			t.Errorf("rita's answer: from %q subject %q", g.from, g.subject)
		}
		low := strings.ToLower(g.text + g.subject)
		if strings.Contains(low, "knative") || strings.Contains(low, e.addr(kn.mailbox)) || strings.Contains(g.text, kn.team.Fingerprint()) || strings.Contains(g.text, "CANARY") {
			t.Errorf("kata's answer names knative or the content:\n%s", g.text)
		}
	}
	for _, user := range []string{"alice", "bob", "carol"} {
		for _, g := range e.inbox(user) {
			if strings.Contains(g.text, "CANARY-MISADDRESSED") {
				t.Errorf("%s saw the misaddressed report", user)
			}
		}
	}

	// 2. carol, a member of both, commands kata's case: at knative's
	// address it is not a case of that project; at kata's it is applied.
	id = e.command("carol", kn, "["+kataRef+"] triage", "/case "+kataRef+"\n/class B1\n")
	class, _, reason = e.waitInbound(kn, id)
	e.notInbound(kata, id)
	e.query(kata, `SELECT class FROM cases WHERE ref = ?`, kataRef).Scan(&cls)
	var knAudit string
	e.query(kn, `SELECT group_concat(case_id || ' ' || actor || ' ' || action || ' ' || detail, char(10)) FROM case_audit WHERE detail LIKE ?`, "%"+kataRef+"%").Scan(&knAudit)
	// knative's audit names kata's ref only in its refusals (no case),
	// quoting the line its members wrote: nothing of kata's case.
	for _, l := range strings.Split(knAudit, "\n") {
		if !strings.HasPrefix(l, "0 ") || !strings.Contains(l, " refused line 1 \"/case "+kataRef+"\": "+kataRef+" is not a case of this project") {
			t.Errorf("knative's audit names %s: %s", kataRef, l)
		}
	}
	if class != "command" || cls != "" {
		t.Errorf("carol's command naming %s at knative: %s (%s); kata's class %q", kataRef, class, reason, cls)
	}
	deadline = time.Now().Add(time.Minute)
	for {
		var refused bool
		for _, g := range e.inbox("carol") {
			if strings.Contains(g.from, e.addr(kn.mailbox)) && strings.Contains(g.text, kataRef+" is not a case of this project") && g.signer == kn.team.Fingerprint() {
				refused = true
			}
		}
		if refused {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("carol was not told by knative that %s is not its case", kataRef)
		}
		time.Sleep(200 * time.Millisecond)
	}
	id = e.command("carol", kata, "["+kataRef+"] triage", "/case "+kataRef+"\n/class B1\n")
	class, _, reason = e.waitInbound(kata, id)
	e.notInbound(kn, id)
	e.query(kata, `SELECT class FROM cases WHERE ref = ?`, kataRef).Scan(&cls)
	var knCls string
	e.query(kn, `SELECT class FROM cases WHERE ref = ?`, knRef).Scan(&knCls)
	if class != "command" || cls != "B1" || knCls != "" {
		t.Errorf("carol's command at kata: %s (%s); kata's class %q, knative's %q; want B1 and none", class, reason, cls, knCls)
	}
	e.stop()
}

// TestProjectsHostileSharedPrefix attacks two projects that number their
// cases alike (case_prefix SEC in both, so SEC-YYYY-0001 is in each) on the
// real stack, with alice a member of knative alone, bob of kata alone,
// carol of both (the same key in both files) and dana a distributor on
// both projects' embargo lists:
//   - alice's command naming SEC-YYYY-0001 at knative's address acts on
//     knative's case alone; at kata's address it is a stranger's mail and
//     changes nothing;
//   - carol's command at knative's address acts on knative's case, at
//     kata's on kata's; each answer comes from that project's address,
//     signed by its key;
//   - carol plans the disclosure in both: dana gets two embargo notices,
//     each from its project's address, signed by its key and encrypted to
//     her alone (as gpg sees them), neither naming the other project or
//     carrying its case's text; her reply to knative's notice reaches
//     knative's case alone.
func TestProjectsHostileSharedPrefix(t *testing.T) {
	if testing.Short() {
		t.Skip("real mail stack")
	}
	e := startHostile(t, "SEC", "SEC", []hostileMember{{"alice", []string{"knative"}}, {"bob", []string{"kata"}},
		{"carol", []string{"knative", "kata"}}}, "dana")
	kn, kata := e.kn, e.kata
	ref := e.report(kn)
	if got := e.report(kata); got != ref || !strings.HasPrefix(ref, "SEC-") {
		t.Fatalf("refs %s (knative), %s (kata), want the same SEC-YYYY-NNNN", ref, got)
	}
	class := func(p *hostileProject) string {
		var c string
		e.query(p, `SELECT class FROM cases WHERE ref = ?`, ref).Scan(&c)
		return c
	}
	step := func(who string, p *hostileProject, body, wantKn, wantKata string) {
		t.Helper()
		id := e.command(who, p, "["+ref+"] triage", "/case "+ref+"\n"+body)
		in, state, reason := e.waitInbound(p, id)
		other := kata
		if p == kata {
			other = kn
		}
		e.notInbound(other, id)
		t.Logf("%s at %s: %s %s %s", who, p.name, in, state, reason)
		if kc, tc := class(kn), class(kata); kc != wantKn || tc != wantKata {
			t.Errorf("after %s's %q at %s: class %q in knative, %q in kata; want %q, %q", who, body, p.name, kc, tc, wantKn, wantKata)
		}
	}
	step("alice", kn, "/class C2\n", "C2", "")
	step("carol", kn, "/class D\n", "D", "")
	step("carol", kata, "/class A\n", "D", "A")
	step("alice", kata, "/class C2\n", "D", "A")
	// carol's answers: one from each project, each signed by its own key.
	deadline := time.Now().Add(time.Minute)
	for {
		from := map[string]int{}
		for _, g := range e.inbox("carol") {
			if !strings.Contains(g.text, "/class") && !strings.Contains(g.subject, "class") && !strings.Contains(g.text, "class ") {
				continue
			}
			for _, p := range []*hostileProject{kn, kata} {
				if strings.Contains(g.from, e.addr(p.mailbox)) {
					from[p.name]++
					if g.signer != p.team.Fingerprint() {
						t.Errorf("carol's answer from %s is signed by %q", p.name, g.signer)
					}
				}
			}
		}
		if from["knative"] >= 1 && from["kata"] >= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("carol's answers: %v, want one from each project", from)
		}
		time.Sleep(200 * time.Millisecond)
	}

	// 5. carol plans the disclosure in both projects.
	t0 := time.Now().Add(24 * 24 * time.Hour).UTC().Truncate(time.Minute)
	for _, p := range []*hostileProject{kn, kata} {
		id := e.command("carol", p, "["+ref+"] plan", fmt.Sprintf("/case %s\n/class A\n/status confirmed\n/impact\nRemote attackers can crash %s. CANARY-IMPACT-%s\n\n"+
			"/affected <= 1.4.0\n/fixed 1.4.1\n/disclose %s\n", ref, p.display, strings.ToUpper(p.name), t0.Format("2006-01-02 15:04 MST")))
		e.waitInbound(p, id)
		var last string
		e.query(p, `SELECT action || ' ' || detail FROM case_audit ORDER BY id DESC LIMIT 1`).Scan(&last)
		t.Logf("%s: carol's plan: %s", p.name, last)
	}
	for _, p := range []*hostileProject{kn, kata} {
		deadline := time.Now().Add(2 * time.Minute)
		for {
			var state string
			e.query(p, `SELECT state FROM cases WHERE ref = ?`, ref).Scan(&state)
			if state == "fix-committed" {
				break
			}
			if e.proc.exited() || time.Now().After(deadline) {
				t.Fatalf("%s's case is %q, want fix-committed\n%s", p.name, state, e.proc.tail(30))
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	msgs := e.stack.WaitMessages(t, "dana", "INBOX", 2, 2*time.Minute)
	if len(msgs) != 2 {
		t.Fatalf("dana got %d messages, want the two embargo notices", len(msgs))
	}
	noticeOf := map[string]string{} // project -> Message-ID of its notice
	for _, raw := range msgs {
		m, err := mail.ReadMessage(bytes.NewReader(toCRLF(raw)))
		if err != nil {
			t.Fatal(err)
		}
		var p, other *hostileProject
		switch {
		case strings.Contains(m.Header.Get("From"), e.addr(kn.mailbox)):
			p, other = kn, kata
		case strings.Contains(m.Header.Get("From"), e.addr(kata.mailbox)):
			p, other = kata, kn
		default:
			t.Fatalf("a notice to dana from %q", m.Header.Get("From"))
		}
		if _, dup := noticeOf[p.name]; dup {
			t.Errorf("dana got two notices from %s", p.name)
		}
		noticeOf[p.name] = m.Header.Get("Message-ID")
		if rt := m.Header.Get("Reply-To"); rt != "" && !strings.Contains(rt, e.addr(p.mailbox)) {
			t.Errorf("%s's notice: Reply-To %q", p.name, rt)
		}
		for _, h := range []string{"To", "Cc", "Reply-To", "Subject"} {
			if v := m.Header.Get(h); strings.Contains(v, e.addr(other.mailbox)) {
				t.Errorf("%s's notice names %s in %s: %q", p.name, other.name, h, v)
			}
		}
		if signer := gpgSigner(t, e.dists["dana"], raw); signer != p.team.Fingerprint() {
			t.Errorf("%s's notice is signed by %q, want %s's key", p.name, signer, p.name)
		}
		r := gpgOpenMail(t, e.dists["dana"], raw)
		var encTo []string
		for _, l := range r.Status {
			if strings.HasPrefix(l, "ENC_TO ") {
				encTo = append(encTo, strings.Fields(l)[1])
			}
		}
		if len(encTo) != 1 {
			t.Errorf("%s's notice is encrypted to %v, want dana's key alone", p.name, encTo)
		}
		text := strings.NewReplacer("=\r\n", "", "=\n", "").Replace(string(r.Stdout))
		if !strings.Contains(text, "CANARY-IMPACT-"+strings.ToUpper(p.name)) || !strings.Contains(text, ref) {
			t.Errorf("%s's notice lacks its case:\n%s", p.name, text)
		}
		if strings.Contains(text, "CANARY-IMPACT-"+strings.ToUpper(other.name)) || strings.Contains(text, other.display+" ") ||
			strings.Contains(text, e.addr(other.mailbox)) || strings.Contains(text, other.team.Fingerprint()) {
			t.Errorf("%s's notice names %s or carries its case:\n%s", p.name, other.name, text)
		}
	}
	// dana replies to knative's notice: it reaches knative's case alone.
	id := e.msgID("dana-reply")
	e.stack.Send(t, e.addr("dana"), []string{e.addr(kn.mailbox)},
		e.encryptedMail(e.dists["dana"], "dana", e.distFprs["dana"], kn.team.Fingerprint(), e.addr(kn.mailbox), "Re: ["+ref+"] embargo",
			"We will be ready. CANARY-DANA-REPLY", id))
	in, state, reason := e.waitInbound(kn, id)
	t.Logf("knative: dana's reply: %s %s %s", in, state, reason)
	var caseRef string
	e.query(kn, `SELECT c.ref FROM inbound i JOIN cases c ON c.id = i.case_id WHERE i.message_id IN (?, ?)`, id, "<"+id+">").Scan(&caseRef)
	if caseRef != ref {
		t.Errorf("dana's reply to knative: case %q, want knative's %s", caseRef, ref)
	}
	e.notInbound(kata, id)
	if n := e.count(kata, `SELECT count(*) FROM case_messages WHERE kind = 'distributor'`); n != 0 {
		t.Errorf("kata holds %d distributor messages", n)
	}
	time.Sleep(2 * time.Second)
	for _, user := range []string{"bob", "carol", "alice"} {
		for _, g := range e.inbox(user) {
			if strings.Contains(g.text, "CANARY-DANA-REPLY") && !strings.Contains(g.from, e.addr(kn.mailbox)) {
				t.Errorf("%s got dana's reply from %s", user, g.from)
			}
			if user == "bob" && strings.Contains(g.text, "CANARY-DANA-REPLY") {
				t.Errorf("bob (kata) got dana's reply to knative")
			}
		}
	}
	e.stop()
}
