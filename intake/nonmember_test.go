package intake

// Mail on a case from someone who is not a team member (the reporter, a
// distributor, a stranger) that carries lines reading as commands: nothing
// runs, the audit log and the team copy say so, and the sender is answered
// when the gateway may write to them. And the team copy's signature lines,
// for every key a signature can be verified with.

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/secgate/secgate/cases"
	"github.com/secgate/secgate/crypto"
	"github.com/secgate/secgate/distlist"
	"github.com/secgate/secgate/internal/clock"
	"github.com/secgate/secgate/internal/gpgtest"
	"github.com/secgate/secgate/store"
	"github.com/secgate/secgate/templates"
)

// nmEnv is the real processor and workflow without a mail server, with gpg
// as the mail client of the members, the reporter, a distributor and
// strangers: the outbox queues and the test reads its rows.
type nmEnv struct {
	t        *testing.T
	ctx      context.Context
	db       *store.DB
	team     *crypto.Key
	teamPub  string
	workflow *cases.Workflow
	proc     *Processor
	alice    *gpgtest.GPG // a member
	reporter *outsider
	dist     *outsider // on the embargo list, with the key the directory holds
	uid      uint32
}

const nmTeam = "security@example.test"

func newNMEnv(t *testing.T) *nmEnv {
	t.Helper()
	ctx := context.Background()
	e := &nmEnv{t: t, ctx: ctx}
	var err error
	e.team, err = crypto.GenerateKey("Security Team", nmTeam, crypto.GenerateOptions{Created: time.Now().Add(-time.Hour)})
	must(t, err)
	e.teamPub, _ = e.team.ArmorPublic()
	e.db, err = store.Open(ctx, filepath.Join(t.TempDir(), "nm.db"))
	must(t, err)
	t.Cleanup(func() { e.db.Close() })
	dir := distlist.NewDirectory(e.db, clock.Real{}, nil)
	e.reporter = e.newOutsider("Rita Reporter", "rita@reporter.example")
	e.dist = e.newOutsider("Vendor PSIRT", "psirt@vendor.example")
	err = e.db.Tx(ctx, func(tx *sql.Tx) error {
		for i, u := range []string{"alice", "bob"} {
			gp := gpgtest.New(t)
			addr := u + "@example.test"
			fpr := gp.GenKey(u+" <"+addr+">", "ed25519")
			gp.Import([]byte(e.teamPub))
			if u == "alice" {
				e.alice = gp
			}
			if _, err := dir.AddMember(ctx, tx, distlist.MemberSpec{Name: u, Address: addr, Role: distlist.RoleLead, Rota: i + 1, Key: gp.Export(fpr)}); err != nil {
				return err
			}
		}
		if err := dir.CreateList(ctx, tx, "embargo", distlist.KindEmbargo, ""); err != nil {
			return err
		}
		_, err := dir.AddRecipient(ctx, tx, "embargo", distlist.RecipientSpec{Name: "Vendor PSIRT", Address: e.dist.addr, Key: e.dist.gp.Export(e.dist.fpr)})
		return err
	})
	must(t, err)
	from := "Security Team <" + nmTeam + ">"
	ob, err := distlist.NewOutbox(ctx, distlist.OutboxOptions{DB: e.db, Directory: dir, TeamKey: e.team, Clock: clock.Real{}, Config: distlist.Config{
		From: from, SMTP: distlist.SMTPConfig{Addr: "127.0.0.1:1", TLS: distlist.TLSNone},
	}})
	must(t, err)
	set, err := templates.Load("")
	must(t, err)
	project := templates.Project{Name: "Example", TeamAddress: nmTeam, KeyFingerprint: e.team.Fingerprint()}
	e.workflow, err = cases.New(cases.Options{DB: e.db, Directory: dir, Outbox: ob, Templates: set, TeamKey: e.team,
		TeamAddress: from, Project: project, Clock: clock.Real{}})
	must(t, err)
	cfg := Config{Address: "127.0.0.1:143", User: nmTeam, TLS: TLSPlainLoopback, RateLimit: 1000, NewCasesPerDay: 1000}
	e.proc, err = NewStackProcessor(StackOptions{Config: cfg, DB: e.db, TeamKey: e.team, Directory: dir, Outbox: ob,
		Workflow: e.workflow, Templates: set, Project: project})
	must(t, err)
	return e
}

func (e *nmEnv) newOutsider(name, addr string) *outsider {
	o := &outsider{gp: gpgtest.New(e.t), addr: addr}
	o.fpr = o.gp.GenKey(name+" <"+addr+">", "ed25519")
	o.gp.Import([]byte(e.teamPub))
	return o
}

// process stores raw as the next message of the mailbox and processes it.
func (e *nmEnv) process(raw []byte) *Inbound {
	e.t.Helper()
	e.uid++
	ids, err := storeBatch(e.ctx, e.db, e.team, "INBOX", 1, []fetched{{uid: e.uid, size: int64(len(raw)), raw: raw}}, time.Now())
	must(e.t, err)
	must(e.t, e.proc.Process(e.ctx, ids[0]))
	in, err := getInbound(e.ctx, e.db.Reader(), ids[0])
	must(e.t, err)
	return in
}

// openReport has the reporter send a report signed and encrypted to the
// team key, their key attached inside: the case has it on file.
func (e *nmEnv) openReport() *cases.Case {
	e.t.Helper()
	r := e.reporter
	inner := "Content-Type: multipart/mixed; boundary=\"in\"\r\n\r\n--in\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nThe webhook leaks secrets.\r\n" +
		"--in\r\nContent-Type: application/pgp-keys\r\nContent-Disposition: attachment; filename=\"rita.asc\"\r\n\r\n" +
		strings.ReplaceAll(string(r.gp.Export(r.fpr)), "\n", "\r\n") + "\r\n--in--\r\n"
	raw := encryptedMail("Rita Reporter <"+r.addr+">", nmTeam, "...", "report-1@reporter.example", "", r.gp.Encrypt([]byte(inner), e.team.Fingerprint(), r.fpr))
	if in := e.process(raw); in.Class != ClassReport {
		e.t.Fatalf("report ended %s/%s %q", in.State, in.Class, in.Reason)
	}
	list, err := e.workflow.List(e.ctx, cases.ListOptions{})
	must(e.t, err)
	if len(list) != 1 || list[0].ReporterKey == "" {
		e.t.Fatalf("cases %d, key on file %v", len(list), len(list) == 1 && list[0].ReporterKey != "")
	}
	return list[0]
}

// signedMail returns a PGP/MIME signed mail from `from`, signed by o's
// gpg key, with body as its text.
func signedBy(o *outsider, from, subject, id, body string) []byte {
	signed := gpgtest.CRLF([]byte("Content-Type: text/plain; charset=utf-8\n\n" + body))
	sig := o.gp.Sign(signed, o.fpr, gpgtest.Detached)
	return gpgtest.CRLF([]byte(fmt.Sprintf("From: %s\nTo: %s\nSubject: %s\nDate: %s\nMessage-ID: <%s>\nMIME-Version: 1.0\n"+
		"Content-Type: multipart/signed; micalg=pgp-sha256; protocol=\"application/pgp-signature\"; boundary=\"sig\"\n\n"+
		"--sig\n%s\n--sig\nContent-Type: application/pgp-signature\n\n%s\n--sig--\n",
		from, nmTeam, subject, time.Now().Format(time.RFC1123Z), id, signed, sig)))
}

// outRow is one queued outgoing message.
type outRow struct {
	id              int64
	recipient, kind string
	raw             []byte
}

// outbox returns the rows queued after row `after`.
func (e *nmEnv) outbox(after int64) []outRow {
	e.t.Helper()
	rows, err := e.db.Reader().Query(`SELECT o.id, o.recipient, o.kind, m.raw FROM outbox o JOIN outbox_message m ON m.outbox_id = o.id WHERE o.id > ? ORDER BY o.id`, after)
	must(e.t, err)
	defer rows.Close()
	var out []outRow
	for rows.Next() {
		var r outRow
		must(e.t, rows.Scan(&r.id, &r.recipient, &r.kind, &r.raw))
		out = append(out, r)
	}
	must(e.t, rows.Err())
	return out
}

func (e *nmEnv) lastOut() int64 {
	var n int64
	must(e.t, e.db.Reader().QueryRow(`SELECT coalesce(max(id), 0) FROM outbox`).Scan(&n))
	return n
}

// to returns the rows of rs for addr.
func to(rs []outRow, addr string) []outRow {
	var out []outRow
	for _, r := range rs {
		if strings.EqualFold(r.recipient, addr) {
			out = append(out, r)
		}
	}
	return out
}

// teamCopy is alice's copy among rs, as her gpg reads it.
func (e *nmEnv) teamCopy(rs []outRow) string {
	e.t.Helper()
	for _, r := range to(rs, "alice@example.test") {
		if r.kind == "team-copy" {
			return contentOf(e.t, e.alice, r.raw, e.team.Fingerprint())
		}
	}
	e.t.Fatalf("alice got no team copy: %v", rs)
	return ""
}

// refusals are the refusal events of case id after event `after`.
func (e *nmEnv) refusals(id int64, after int) []cases.AuditEvent {
	e.t.Helper()
	log, err := e.workflow.AuditLog(e.ctx, id)
	must(e.t, err)
	var out []cases.AuditEvent
	for _, ev := range log[min(after, len(log)):] {
		if ev.Action == cases.ActionRefused {
			out = append(out, ev)
		}
	}
	return out
}

func (e *nmEnv) auditLen(id int64) int {
	log, err := e.workflow.AuditLog(e.ctx, id)
	must(e.t, err)
	return len(log)
}

// signatureLine is the "Signature:" line of a team copy.
func signatureLine(copyText string) string {
	for _, l := range strings.Split(copyText, "\n") {
		if strings.HasPrefix(l, "Signature:") {
			return l
		}
	}
	return ""
}

// checkSignatureLines fails when a team copy's lines about the signature
// contradict each other: verified next to "not verified", "do not hold" or
// "does NOT verify".
func checkSignatureLines(t *testing.T, copyText string) {
	t.Helper()
	sig := signatureLine(copyText)
	if !strings.Contains(sig, "verified, key ") {
		return
	}
	for _, s := range []string{"not verified", "do not hold", "does NOT verify"} {
		if strings.Contains(copyText, s) {
			t.Errorf("the signature verified (%q), yet the copy says %q:\n%s", sig, s, copyText)
		}
	}
}

// TestNonMemberCommandsReporter: the reporter answers on their case with
// a mail signed by their key on file whose text holds command lines.
// Nothing runs; the follow-up is stored; the audit log records that the
// lines were not applied and why; the team copy says so, and that the
// reporter's key on file signed it; the reporter gets one answer an hour,
// encrypted to that key, saying that commands are taken only from team
// members. The consent line "/agree" is not a team command.
func TestNonMemberCommandsReporter(t *testing.T) {
	e := newNMEnv(t)
	c := e.openReport()
	r := e.reporter
	subject := "Re: [" + c.Ref + "] more"

	mark, audit := e.lastOut(), e.auditLen(c.ID)
	in := e.process(signedBy(r, "Rita Reporter <"+r.addr+">", subject, "fu-1@reporter.example",
		"/status confirmed\n/cvss CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H\nI think this is confirmed now.\n"))
	if in.Class != ClassFollowUp || in.CaseID != c.ID {
		t.Fatalf("follow-up ended %s/%s %q in case %d", in.State, in.Class, in.Reason, in.CaseID)
	}
	if !strings.Contains(in.Reason, "not applied") {
		t.Errorf("inbound reason %q does not say the command lines were not applied", in.Reason)
	}
	got, err := e.workflow.Get(e.ctx, c.Ref)
	must(t, err)
	if got.State != cases.StateNew || got.CVSSVector != "" {
		t.Fatalf("the reporter's lines ran: state %s, cvss %q", got.State, got.CVSSVector)
	}
	msgs, err := e.workflow.Messages(e.ctx, c.ID)
	must(t, err)
	if len(msgs) != 2 || !strings.Contains(msgs[1].Text, "/status confirmed") {
		t.Errorf("the follow-up was not stored with its case: %d messages", len(msgs))
	}
	ref := e.refusals(c.ID, audit)
	if len(ref) != 1 {
		t.Fatalf("%d refusal events, want 1: %+v", len(ref), ref)
	}
	d := ref[0].Detail
	for _, s := range []string{"2 lines", "/status", "/cvss", "not applied", "not a team member", "told"} {
		if !strings.Contains(d, s) {
			t.Errorf("audit detail %q does not say %q", d, s)
		}
	}
	if strings.Contains(d, "confirmed") || strings.Contains(d, "AV:N") {
		t.Errorf("audit detail %q quotes the sender's text (the log is in clear)", d)
	}
	if ref[0].Actor != "reporter:"+r.addr || ref[0].Source != "fu-1@reporter.example" {
		t.Errorf("refusal by %q from %q", ref[0].Actor, ref[0].Source)
	}

	rows := e.outbox(mark)
	copyText := e.teamCopy(rows)
	if want := "Signature:  verified, key " + r.fpr + " (the reporter's key on file)"; signatureLine(copyText) != want {
		t.Errorf("signature line %q, want %q", signatureLine(copyText), want)
	}
	checkSignatureLines(t, copyText)
	for _, s := range []string{"NOT applied", "/status, /cvss", "not a team member", "the sender was told"} {
		if !strings.Contains(copyText, s) {
			t.Errorf("team copy does not say %q:\n%s", s, copyText)
		}
	}
	answers := to(rows, r.addr)
	if len(answers) != 1 || answers[0].kind != KindSenderNotice {
		t.Fatalf("the reporter got %d answers, want 1: %+v", len(answers), answers)
	}
	answer := contentOf(t, r.gp, answers[0].raw, e.team.Fingerprint()) // encrypted to the key on file
	for _, s := range []string{"only from members", "none of these lines was applied", "kept"} {
		if !strings.Contains(answer, s) {
			t.Errorf("the answer does not say %q:\n%s", s, answer)
		}
	}
	if strings.Contains(answer, "I think this is confirmed") || strings.Contains(answer, "AV:N") {
		t.Errorf("the answer quotes the message:\n%s", answer)
	}
	for _, l := range strings.Split(answer, "\n") {
		if strings.HasPrefix(l, "/") {
			t.Errorf("the answer has a line that reads as a command: %q", l)
		}
	}

	// Again within the hour: audited, not answered again.
	mark, audit = e.lastOut(), e.auditLen(c.ID)
	e.process(signedBy(r, "Rita Reporter <"+r.addr+">", subject, "fu-2@reporter.example", "/status invalid\n"))
	if ref := e.refusals(c.ID, audit); len(ref) != 1 || !strings.Contains(ref[0].Detail, "within the hour") {
		t.Errorf("second mail: refusals %+v, want one saying the sender was told within the hour", ref)
	}
	rows = e.outbox(mark)
	if n := len(to(rows, r.addr)); n != 0 {
		t.Errorf("the reporter was answered again within the hour (%d)", n)
	}
	if cp := e.teamCopy(rows); !strings.Contains(cp, "NOT applied") || !strings.Contains(cp, "within the hour") {
		t.Errorf("second team copy:\n%s", cp)
	}

	// The consent line is the reporter's own, not a team command.
	mark, audit = e.lastOut(), e.auditLen(c.ID)
	e.process(signedBy(r, "Rita Reporter <"+r.addr+">", subject, "fu-3@reporter.example", "/agree K7Q2-M9XD\n"))
	if ref := e.refusals(c.ID, audit); len(ref) != 0 {
		t.Errorf("/agree was taken for a team command: %+v", ref)
	}
	if cp := e.teamCopy(e.outbox(mark)); strings.Contains(cp, "NOT applied") {
		t.Errorf("/agree was taken for a team command:\n%s", cp)
	}
}

// TestReporterOtherAddressSignatureLines: the reporter writes from another
// address, signed by their key on file. The signature is their key's all
// the same and the team copy says so (never "a key we do not hold"), with
// the warning that the address is not the reporter's. With command lines,
// the gateway writes to neither address: the key does not carry the From.
func TestReporterOtherAddressSignatureLines(t *testing.T) {
	e := newNMEnv(t)
	c := e.openReport()
	r := e.reporter
	subject := "Re: [" + c.Ref + "] more"
	want := "Signature:  verified, key " + r.fpr + " (the reporter's key on file)"

	mark := e.lastOut()
	e.process(signedBy(r, "Rita <rita@elsewhere.example>", subject, "fu-1@elsewhere.example", "From my other address.\n"))
	copyText := e.teamCopy(e.outbox(mark))
	if signatureLine(copyText) != want {
		t.Errorf("signature line %q, want %q", signatureLine(copyText), want)
	}
	checkSignatureLines(t, copyText)
	if !strings.Contains(copyText, "NOT from the reporter's address") {
		t.Errorf("no warning that the address is not the reporter's:\n%s", copyText)
	}

	mark, audit := e.lastOut(), e.auditLen(c.ID)
	e.process(signedBy(r, "Rita <rita@elsewhere.example>", subject, "fu-2@elsewhere.example", "/status invalid\nFrom my other address.\n"))
	rows := e.outbox(mark)
	copyText = e.teamCopy(rows)
	if signatureLine(copyText) != want {
		t.Errorf("with commands: signature line %q, want %q", signatureLine(copyText), want)
	}
	checkSignatureLines(t, copyText)
	if !strings.Contains(copyText, "NOT applied") || !strings.Contains(copyText, "nobody was told") {
		t.Errorf("with commands: team copy:\n%s", copyText)
	}
	for _, rw := range rows {
		if rw.kind != "team-copy" {
			t.Errorf("with commands: %s to %s", rw.kind, rw.recipient)
		}
	}
	if ref := e.refusals(c.ID, audit); len(ref) != 1 || !strings.Contains(ref[0].Detail, "nobody was told") {
		t.Errorf("with commands: refusals %+v", ref)
	}
}

// TestNonMemberCommandsStrangers: strangers on a case thread. None is
// answered: not the one whose signature verified with a key carrying their
// From (the key came with the mail, and anyone can make a key naming any
// address), not one whose key does not carry the From (a victim's address
// with the attacker's key), not one whose key we do not hold, not one who
// did not sign at all: the gateway never becomes a way to mail an address.
// Every one is audited and shown to the team.
func TestNonMemberCommandsStrangers(t *testing.T) {
	e := newNMEnv(t)
	c := e.openReport()
	subject := "Re: [" + c.Ref + "] status"
	stranger := e.newOutsider("Sam Stranger", "sam@stranger.example")
	mallory := e.newOutsider("Mallory", "mallory@evil.example")
	withKey := func(o *outsider, body string) string {
		return body + "\nMy key:\n\n" + string(o.gp.Export(o.fpr))
	}
	tests := []struct {
		name, from, id string
		raw            []byte
		signature      string // the start of the signature line
		told           string
	}{
		{name: "signed, key carries From but came with the mail", id: "sam-1@stranger.example",
			raw:       signedBy(stranger, "Sam <"+stranger.addr+">", subject, "sam-1@stranger.example", withKey(stranger, "/status invalid\nThis is not a bug.\n")),
			signature: "Signature:  verified, key " + stranger.fpr + " (a key that came with the message)", told: "nobody was told"},
		{name: "a victim's From, the attacker's key", id: "forged-1@evil.example",
			raw:       signedBy(mallory, "Victim <victim@outside.example>", subject, "forged-1@evil.example", withKey(mallory, "/status invalid\n")),
			signature: "Signature:  verified, key " + mallory.fpr + " (a key that came with the message)", told: "nobody was told"},
		{name: "signed by a key we do not hold", id: "mallory-2@evil.example",
			raw:       signedBy(mallory, "Mallory <"+mallory.addr+">", subject, "mallory-2@evil.example", "/class B1\n"),
			signature: "Signature:  signed by a key that is neither the sender's on file nor a member's", told: "nobody was told"},
		{name: "unsigned", id: "mallory-3@evil.example",
			raw:       plainMail("Mallory <"+mallory.addr+">", subject, "mallory-3", "/close invalid\n"),
			signature: "Signature:  none", told: "nobody was told"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mark, audit := e.lastOut(), e.auditLen(c.ID)
			in := e.process(tc.raw)
			if in.Class != ClassFollowUp || in.CaseID != c.ID {
				t.Fatalf("ended %s/%s %q in case %d", in.State, in.Class, in.Reason, in.CaseID)
			}
			if got, _ := e.workflow.Get(e.ctx, c.Ref); got.State != cases.StateNew || got.Class != "" {
				t.Fatalf("a stranger's line ran: state %s class %q", got.State, got.Class)
			}
			ref := e.refusals(c.ID, audit)
			if len(ref) != 1 || !strings.Contains(ref[0].Detail, "not a team member") || !strings.Contains(ref[0].Detail, tc.told) {
				t.Errorf("refusals %+v, want one saying %q", ref, tc.told)
			}
			rows := e.outbox(mark)
			copyText := e.teamCopy(rows)
			if sig := signatureLine(copyText); !strings.HasPrefix(sig, tc.signature) {
				t.Errorf("signature line %q, want %q...", sig, tc.signature)
			}
			checkSignatureLines(t, copyText)
			if !strings.Contains(copyText, "NOT applied") || !strings.Contains(copyText, tc.told) {
				t.Errorf("team copy does not say the lines were not applied and %q:\n%s", tc.told, copyText)
			}
			var others []string
			for _, rw := range rows {
				if rw.kind != "team-copy" {
					others = append(others, rw.kind+" to "+rw.recipient)
				}
			}
			if len(others) > 0 {
				t.Errorf("mail to an address that may not be answered: %v", others)
			}
		})
	}
}

// TestDistributorReplySignatureLines: a distributor's reply signed by the
// key the directory holds for them (not attached): the team copy's
// signature line says it verified and with whose key, and the distributor
// line agrees. With command lines in it, they are not applied, and the
// distributor, whose key carries their address, is told, encrypted to it.
func TestDistributorReplySignatureLines(t *testing.T) {
	e := newNMEnv(t)
	c := e.openReport()
	d := e.dist
	subject := "Re: [" + c.Ref + "] embargo"

	mark := e.lastOut()
	in := e.process(signedBy(d, "Vendor PSIRT <"+d.addr+">", subject, "dack-1@vendor.example", "Acknowledged; we will patch under embargo.\n"))
	if in.Class != ClassDistributorAck {
		t.Fatalf("ended %s/%s %q", in.State, in.Class, in.Reason)
	}
	copyText := e.teamCopy(e.outbox(mark))
	if want := "Signature:  verified, key " + d.fpr + " (the key we hold for this distributor)"; signatureLine(copyText) != want {
		t.Errorf("signature line %q, want %q", signatureLine(copyText), want)
	}
	if !strings.Contains(copyText, "Distributor: signed by their own key") {
		t.Errorf("distributor line:\n%s", copyText)
	}
	checkSignatureLines(t, copyText)

	mark, audit := e.lastOut(), e.auditLen(c.ID)
	e.process(signedBy(d, "Vendor PSIRT <"+d.addr+">", subject, "dack-2@vendor.example", "/status fix-released\nWe shipped.\n"))
	if got, _ := e.workflow.Get(e.ctx, c.Ref); got.State != cases.StateNew {
		t.Fatalf("a distributor's line ran: state %s", got.State)
	}
	if ref := e.refusals(c.ID, audit); len(ref) != 1 || ref[0].Actor != "distributor:"+d.addr || !strings.Contains(ref[0].Detail, "the sender was told") {
		t.Errorf("refusals %+v", ref)
	}
	rows := e.outbox(mark)
	checkSignatureLines(t, e.teamCopy(rows))
	answers := to(rows, d.addr)
	if len(answers) != 1 || !bytes.Contains(answers[0].raw, []byte("multipart/encrypted")) {
		t.Fatalf("the distributor got %d answers (want 1, encrypted to the key we hold)", len(answers))
	}
	if a := contentOf(t, d.gp, answers[0].raw, e.team.Fingerprint()); !strings.Contains(a, "only from members") {
		t.Errorf("answer:\n%s", a)
	}
}

// TestTeamCopySignatureData renders the team copy from the data intake
// builds (teamCopyData) for each way a signature can end: its lines say
// the same thing, and "Signature:" names whose key verified it.
func TestTeamCopySignatureData(t *testing.T) {
	gen := func(name, addr string) (*crypto.Key, string) {
		k, err := crypto.GenerateKey(name, addr, crypto.GenerateOptions{Created: time.Now().Add(-time.Hour)})
		must(t, err)
		a, err := k.ArmorPublic()
		must(t, err)
		return k, a
	}
	rep, repPub := gen("Rita", "rita@reporter.example")
	dist, _ := gen("Vendor", "psirt@vendor.example")
	other, otherPub := gen("Other", "other@elsewhere.example")
	set, err := templates.Load("")
	must(t, err)
	p := NewProcessor(ProcessorOptions{Project: templates.Project{Name: "Example", TeamAddress: nmTeam}})
	c := CaseInfo{ID: 1, Ref: "SEC-2026-0001", State: "new", ReporterAddr: rep.Emails()[0], ReporterKey: repPub}
	distMember := &Member{Name: "Vendor", Address: "psirt@vendor.example", Fingerprint: dist.Fingerprint(), Key: dist}
	tests := []struct {
		name     string
		from     string
		kind     copyKind
		opened   Opened
		dist     *Member
		commands []string
		want     []string // lines the copy has
	}{
		{name: "unsigned report", from: "rita@reporter.example", kind: copyReport,
			want: []string{"Signature:  none"}},
		{name: "report signed by the key it brought", from: "rita@reporter.example", kind: copyReport,
			opened: Opened{Signer: rep.Fingerprint(), SignerKey: repPub, SignerEmails: rep.Emails()},
			want:   []string{"Signature:  verified, key " + rep.Fingerprint() + " (a key that came with the message)"}},
		{name: "follow-up signed by the reporter's key on file", from: "rita@reporter.example", kind: copyFollowUp,
			opened: Opened{Signer: rep.Fingerprint(), SignerKey: repPub, SignerEmails: rep.Emails()},
			want:   []string{"Signature:  verified, key " + rep.Fingerprint() + " (the reporter's key on file)"}},
		{name: "follow-up signed by a key we do not hold", from: "rita@reporter.example", kind: copyFollowUp,
			opened: Opened{SignatureErr: crypto.ErrUnknownSigner},
			want:   []string{"Signature:  signed by a key that is neither the sender's on file nor a member's: not verified"}},
		{name: "follow-up whose signature does not verify", from: "rita@reporter.example", kind: copyFollowUp,
			opened: Opened{SignatureErr: fmt.Errorf("%w: hash mismatch", crypto.ErrBadSignature)},
			want:   []string{"Signature:  present but does NOT verify: "}},
		{name: "follow-up of a stranger with commands", from: "other@elsewhere.example", kind: copyFollowUp,
			opened:   Opened{Signer: other.Fingerprint(), SignerKey: otherPub, SignerEmails: other.Emails()},
			commands: []string{"/status", "1 unknown"},
			want: []string{"Signature:  verified, key " + other.Fingerprint() + " (a key that came with the message)",
				"WARNING:    this follow-up is NOT from the reporter's address rita@reporter.example:",
				"Commands:   NOT applied (/status, 1 unknown):"}},
		{name: "distributor, their key", from: "psirt@vendor.example", kind: copyDistributor, dist: distMember,
			opened: Opened{Signer: dist.Fingerprint(), SignerEmails: dist.Emails()},
			want: []string{"Signature:  verified, key " + dist.Fingerprint() + " (the key we hold for this distributor)",
				"Distributor: signed by their own key"}},
		{name: "distributor, another key", from: "psirt@vendor.example", kind: copyDistributor, dist: distMember,
			opened: Opened{Signer: other.Fingerprint(), SignerKey: otherPub, SignerEmails: other.Emails()},
			want: []string{"Signature:  verified, key " + other.Fingerprint() + " (a key that came with the message)",
				"Distributor: NOT signed by the key we hold for them: the sender may not be who the From says"}},
		{name: "distributor, a key we do not hold", from: "psirt@vendor.example", kind: copyDistributor, dist: distMember,
			opened: Opened{SignatureErr: crypto.ErrUnknownSigner},
			want: []string{"Signature:  signed by a key that is neither the sender's on file nor a member's: not verified",
				"Distributor: NOT signed by the key we hold for them: the sender may not be who the From says"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			op := tc.opened
			op.Text = "hello\n"
			m := &msgCtx{p: p, in: &Inbound{ID: 7, Received: time.Now()}, insp: &Inspection{From: tc.from}, now: time.Now(),
				opened: &op, dist: tc.dist, commands: tc.commands, commandsTold: "nobody was told"}
			txt, err := set.Render(templates.TeamCopy, m.teamCopyData(c, "Re: [SEC-2026-0001] x", tc.kind))
			must(t, err)
			lines := strings.Split(txt.Body, "\n")
			for _, w := range tc.want {
				found := false
				for _, l := range lines {
					found = found || strings.HasPrefix(l, w)
				}
				if !found {
					t.Errorf("no line %q in:\n%s", w, txt.Body)
				}
			}
			checkSignatureLines(t, txt.Body)
			if op.Signer == "" && strings.Contains(txt.Body, "own key") {
				t.Errorf("unverified, yet:\n%s", txt.Body)
			}
		})
	}
}
