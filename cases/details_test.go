package cases

import (
	"bytes"
	"database/sql"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/secgate/secgate/templates"
)

// TestDetailsCommands: /title, /component, /mitigation, /patch,
// /reference and /release fill what the notices and the advisory show; they are stored
// encrypted (the title names the vulnerability), and "none" clears.
func TestDetailsCommands(t *testing.T) {
	e := newEnv(t)
	c := e.open(true)
	alice := e.keys["alice@example.org"]
	e.handle(e.signed("alice@example.org", alice, "["+c.Ref+"]", "/title SECRET-TITLE: path traversal in uploads\n"+
		"/component upload-handler\n"+
		"/mitigation Disable uploads:\n  set uploads.enabled = false\n\n"+
		"/patch https://git.example.org/commit/abc123\n/patch fix-1.2.3.patch (attached to the notice)\n/patch https://git.example.org/commit/abc123\n"+
		"/reference https://example.org/advisories/EXSA-2026-001\n/release https://example.org/releases/SECRET-v1.2.3", e.clock.Now()))
	got, err := e.wf.GetByID(e.ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := Details{Title: "SECRET-TITLE: path traversal in uploads", Component: "upload-handler",
		Mitigation: "Disable uploads:\n  set uploads.enabled = false",
		Patches:    []string{"https://git.example.org/commit/abc123", "fix-1.2.3.patch (attached to the notice)"},
		References: []string{"https://example.org/advisories/EXSA-2026-001"}, Release: "https://example.org/releases/SECRET-v1.2.3"}
	if got.Title != want.Title || got.Component != want.Component || strings.TrimSpace(got.Mitigation) != want.Mitigation ||
		!slices.Equal(got.Patches, want.Patches) || !slices.Equal(got.References, want.References) || got.Release != want.Release {
		t.Errorf("details = %+v\nwant %+v", got.Details, want)
	}
	lastContains(t, "answer", e.mailsTo("alice@example.org", MailAnswer), "already listed")
	var stored []byte
	if err := e.db.Reader().QueryRow(`SELECT details_enc FROM cases WHERE id = ?`, c.ID).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if len(stored) == 0 || bytes.Contains(stored, []byte("SECRET-")) {
		t.Errorf("details stored in clear or not at all (%d bytes)", len(stored))
	}
	// The audit log (in clear) says what changed, not the values.
	for _, ev := range e.audit(c.ID) {
		if strings.Contains(ev, "SECRET-") || strings.Contains(ev, "abc123") || strings.Contains(ev, "EXSA-2026-001") {
			t.Errorf("audit event shows a sealed value: %s", ev)
		}
	}
	audit := strings.Join(e.audit(c.ID), "\n")
	for _, want := range []string{"references: 1 listed", "release link updated"} {
		if !strings.Contains(audit, want) {
			t.Errorf("audit lacks %q:\n%s", want, audit)
		}
	}
	e.handle(e.signed("alice@example.org", alice, "["+c.Ref+"]", "/mitigation none\n/patch none\n/reference none\n/release none", e.clock.Now()))
	got, _ = e.wf.GetByID(e.ctx, c.ID)
	if got.Mitigation != "" || got.Patches != nil || got.References != nil || got.Release != "" || got.Title != want.Title {
		t.Errorf("after none: %+v", got.Details)
	}
	if d := got.TemplateData(); d.Title != want.Title || d.Component != want.Component {
		t.Errorf("template data %+v", d)
	}
}

// TestDraft: /draft mails the member who asked, encrypted, the text the
// scheduler renders for the case; an unknown text is refused.
func TestDraft(t *testing.T) {
	e := newEnv(t)
	c := e.open(true)
	bob := e.keys["bob@example.org"]
	e.handle(e.signed("bob@example.org", bob, "["+c.Ref+"]", "/title Traversal\n/draft CVE-Request-Private", e.clock.Now()))
	ans := e.mailsTo("bob@example.org", MailAnswer)
	if len(ans) != 2 || !strings.Contains(ans[1], "The cve-request-private text of "+c.Ref) ||
		!strings.Contains(ans[1], "Subject: rendered cve-request-private") || !strings.Contains(ans[1], "DRAFT-BODY of "+c.Ref+": Traversal") {
		t.Errorf("answers %q", ans)
	}
	if n := e.count(`SELECT count(*) FROM outbox WHERE kind = ? AND recipient != 'bob@example.org'`, MailAnswer); n != 0 {
		t.Errorf("the draft went to %d others", n)
	}
	e.handle(e.signed("bob@example.org", bob, "["+c.Ref+"]", "/draft ack", e.clock.Now()))
	lastContains(t, "refusal", e.mailsTo("bob@example.org", MailAnswer), `no text "ack" to draft`)
}

// TestTeamNote: a member's comment and /reply texts reach the other
// members, encrypted, with what the mail changed; the author gets only the
// answer.
func TestTeamNote(t *testing.T) {
	e := newEnv(t)
	c := e.open(true)
	bob := e.keys["bob@example.org"]
	e.handle(e.signed("bob@example.org", bob, "["+c.Ref+"]", "/fixed 1.2.3\n/reply Thanks, confirmed.\n\nI reproduced it on main; SECRET-COMMENT.", e.clock.Now()))
	for _, addr := range []string{"alice@example.org", "carol@example.org"} {
		notes := e.mailsTo(addr, MailTeamNote)
		if len(notes) != 1 {
			t.Fatalf("%s got %d team notes", addr, len(notes))
		}
		for _, want := range []string{"Bob <bob@example.org> changed " + c.Ref, "SECRET-COMMENT", "----- sent to the reporter -----\nThanks, confirmed.", "- fixed versions: 1.2.3"} {
			if !strings.Contains(notes[0], want) {
				t.Errorf("%s's note lacks %q:\n%s", addr, want, notes[0])
			}
		}
	}
	if n := e.count(`SELECT count(*) FROM outbox WHERE kind = ? AND recipient = 'bob@example.org'`, MailTeamNote); n != 0 {
		t.Errorf("the author got %d copies of their own note", n)
	}
	// Commands alone, without a comment or a reply, are summarized too.
	e.handle(e.signed("bob@example.org", bob, "["+c.Ref+"]", "/affected < 1.2.3", e.clock.Now()))
	if n := len(e.mailsTo("alice@example.org", MailTeamNote)); n != 2 {
		t.Errorf("alice has %d team notes after a mail without a comment, want 2", n)
	}
}

// TestTerms: the reporter's disclosure terms are recorded encrypted and
// shown with every /disclose.
func TestTerms(t *testing.T) {
	e := newEnv(t)
	c := e.open(true)
	alice := e.keys["alice@example.org"]
	e.handle(e.signed("alice@example.org", alice, "["+c.Ref+"]", "/terms Not before the talk on 2026-12-10.\n\n/disclose 2026-12-15 16:00 UTC", e.clock.Now()))
	lastContains(t, "answer", e.mailsTo("alice@example.org", MailAnswer), "which this plan must respect: Not before the talk on 2026-12-10.")
	got, _ := e.wf.GetByID(e.ctx, c.ID)
	if strings.TrimSpace(got.Terms) != "Not before the talk on 2026-12-10." {
		t.Errorf("terms %q", got.Terms)
	}
	for _, ev := range e.audit(c.ID) {
		if strings.Contains(ev, "the talk") {
			t.Errorf("audit event shows the terms: %s", ev)
		}
	}
}

// TestPatchFile: "/patch NAME" naming a file attached to the command mail
// keeps the file for the notices; a new version replaces it; none clears.
func TestPatchFile(t *testing.T) {
	e := newEnv(t)
	c := e.open(true)
	alice := e.keys["alice@example.org"]
	withPatch := func(version string) []byte {
		return []byte("Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" +
			"/patch fix-1.2.3.patch\r\n--b\r\nContent-Type: text/x-patch\r\nContent-Disposition: attachment; filename=\"fix-1.2.3.patch\"\r\n\r\n" +
			"--- a/upload.go\r\n+++ b/upload.go\r\n" + version + "\r\n--b--\r\n")
	}
	files := func() []Attachment {
		t.Helper()
		var out []Attachment
		err := e.db.Tx(e.ctx, func(tx *sql.Tx) error {
			got, err := e.wf.GetTx(e.ctx, tx, c.ID)
			if err != nil {
				return err
			}
			out, err = e.wf.PatchFiles(e.ctx, tx, got)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	e.handle(e.signedEntity("alice@example.org", alice, "["+c.Ref+"]", withPatch("@@ v1 @@"), e.clock.Now()))
	if got := files(); len(got) != 1 || got[0].Filename != "fix-1.2.3.patch" || !strings.Contains(string(got[0].Data), "v1") {
		t.Fatalf("patch files %+v", got)
	}
	lastContains(t, "answer", e.mailsTo("alice@example.org", MailAnswer), "added: fix-1.2.3.patch (the file goes with the notices)")
	e.handle(e.signedEntity("alice@example.org", alice, "["+c.Ref+"]", withPatch("@@ v2 @@"), e.clock.Now()))
	if got := files(); len(got) != 1 || !strings.Contains(string(got[0].Data), "v2") {
		t.Fatalf("after a new version: %+v", got)
	}
	e.handle(e.signed("alice@example.org", alice, "["+c.Ref+"]", "/patch none", e.clock.Now()))
	if got := files(); len(got) != 0 {
		t.Errorf("after /patch none: %d files", len(got))
	}

	// KubeEdge: the reporter's proof of concept may go with the notices,
	// named as the report attached it.
	e.handle(e.signed("alice@example.org", alice, "["+c.Ref+"]", "/patch POC.sh\n/patch run.sh", e.clock.Now()))
	if got := files(); len(got) != 1 || got[0].Filename != "poc.sh" || string(got[0].Data) != "echo SECRET-POC" {
		t.Fatalf("after /patch POC.sh: %+v", got)
	}
	lastContains(t, "answer", e.mailsTo("alice@example.org", MailAnswer), "added: POC.sh (the file goes with the notices)")
	if got := e.get(c.ID); !slices.Equal(got.Patches, []string{"POC.sh", "run.sh"}) || !slices.Equal(got.PatchFiles, []string{"poc.sh"}) {
		t.Errorf("patches %q, files %q", got.Patches, got.PatchFiles)
	}
}

// TestClearMailToReporterNamesNothing: mail to a reporter without a key
// goes in clear and carries none of the case's details (here the title,
// which the incomplete notice's subject shows when encrypted).
func TestClearMailToReporterNamesNothing(t *testing.T) {
	e := newEnv(t)
	c := e.open(false)
	alice := e.keys["alice@example.org"]
	e.handle(e.signed("alice@example.org", alice, "["+c.Ref+"]", "/title SECRET-TITLE in uploads\n/component SECRET-COMPONENT\n/status incomplete", e.clock.Now()))
	rep := e.mailsTo("rita@reporter.example", MailReporter)
	if len(rep) != 1 || !strings.Contains(rep[0], c.Ref) {
		t.Fatalf("reporter mails %q", rep)
	}
	var raw []byte
	if err := e.db.Reader().QueryRow(`SELECT m.raw FROM outbox o JOIN outbox_message m ON m.outbox_id = o.id WHERE o.kind = ?`, MailReporter).Scan(&raw); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte("SECRET-")) {
		t.Errorf("clear mail to the reporter names a detail:\n%s", raw)
	}
}

// TestDraftRetrospective: /draft retrospective hands the scheduler the
// case's own history: members by name, the reporter by their credit only
// once they agreed, the team's discussion left out, and no address or key
// anywhere (the text is meant for the project's public list).
func TestDraftRetrospective(t *testing.T) {
	e := newEnv(t)
	c := e.open(true)
	bob, alice := e.keys["bob@example.org"], e.keys["alice@example.org"]
	e.handle(e.signed("alice@example.org", alice, "["+c.Ref+"]", "/status confirmed\n/team add @bob\n/credit Rita R.\n\nSECRET-DISCUSSION", e.clock.Now()))
	e.clock.Advance(time.Hour)
	// Someone else writes on the case's thread: never the reporter.
	if err := e.db.Tx(e.ctx, func(tx *sql.Tx) error {
		return e.wf.AddMessage(e.ctx, tx, c.ID, Message{Kind: KindFollowUp, Author: "mallory@elsewhere.example", MessageID: "<m1@elsewhere.example>",
			Text: "I found it first\n/status invalid", Received: e.clock.Now()})
	}); err != nil {
		t.Fatal(err)
	}
	log, err := e.wf.AuditLog(e.ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	var senders int
	for _, ev := range log {
		switch {
		case ev.Actor == "reporter:mallory@elsewhere.example":
			t.Errorf("a stranger's follow-up recorded as the reporter's: %+v", ev)
		case ev.Actor == ActorSender+"mallory@elsewhere.example":
			senders++
		}
	}
	if senders < 2 {
		t.Errorf("%d events by the stranger, want the message and the refusal of its command line", senders)
	}
	e.handle(e.signed("bob@example.org", bob, "["+c.Ref+"]", "/cve CVE-2026-1234\n/draft retrospective", e.clock.Now()))

	if n := len(e.sched.drafts); n != 1 {
		t.Fatalf("%d drafts", n)
	}
	if call := e.sched.calls[len(e.sched.calls)-1]; call != "draft "+c.Ref+" "+templates.RetroDraft {
		t.Errorf("scheduler call %q", call)
	}
	r := e.sched.drafts[0].Retrospective
	var lines []string
	for _, l := range r.Timeline {
		lines = append(lines, l.Who+": "+l.What)
	}
	all := strings.Join(append(r.People, lines...), "\n")
	for _, want := range []string{"Alice (fix lead)", "Bob (fix team)", "the reporter (not named without their consent)",
		"secgate: case opened from a report by the reporter", "Alice: state new -> confirmed", "Alice: Bob added to the fix team", "Bob: CVE (none) -> CVE-2026-1234"} {
		if !strings.Contains(all, want) {
			t.Errorf("retrospective lacks %q:\n%s", want, all)
		}
	}
	for _, never := range []string{"@", "SECRET-", "Rita", "comment", e.member("alice@example.org").Fingerprint, "the reporter: followup"} {
		if strings.Contains(all, never) {
			t.Errorf("retrospective shows %q:\n%s", never, all)
		}
	}
	if r.Timeline[0].At != t0 || !r.Timeline[len(r.Timeline)-1].At.Equal(t0.Add(time.Hour)) {
		t.Errorf("times %v .. %v", r.Timeline[0].At, r.Timeline[len(r.Timeline)-1].At)
	}

	// With the reporter's consent, the credit names them.
	e.handle(e.signed("alice@example.org", alice, "["+c.Ref+"]", "/credit consent yes\n/draft retrospective", e.clock.Now()))
	if r := e.sched.drafts[1].Retrospective; !slices.Contains(r.People, "Rita R. (reporter)") {
		t.Errorf("people with consent: %q", r.People)
	}
}
