package cases

import (
	"bytes"
	"context"
	"database/sql"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/secgate/secgate/crypto"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestTeamSummary drives a case by signed command mails from Alice: each
// applied mail sends Bob and Carol exactly one summary, encrypted, that
// names what changed, who changed it (name and key fingerprint) and the
// next step of the timeline once there is a plan, with the mail's comment
// and /reply texts; Alice gets her answer and no summary; a refused mail,
// or one that changed nothing, sends no summary.
func TestTeamSummary(t *testing.T) {
	e := newEnv(t)
	c := e.open(true)
	alice := e.keys["alice@example.org"]
	fpr := e.member("alice@example.org").Fingerprint
	tests := []struct {
		name    string
		body    string
		summary bool     // the other members get one summary
		want    []string // in the summary
		refused bool     // the answer says nothing was changed
	}{
		{name: "state and CVE", body: "/status confirmed\n/cve CVE-2026-12345", summary: true,
			want: []string{"Alice <alice@example.org> changed " + c.Ref + " by a mail signed with key " + fpr,
				"- state new -> confirmed", "- CVE (none) -> CVE-2026-12345", "Case " + c.Ref + " is now confirmed.", "No disclosure is planned yet."}},
		{name: "plan", body: "/disclose 2026-12-15 16:00 UTC", summary: true,
			want: []string{"- public disclosure planned for 2026-12-15 16:00 UTC",
				"Next: pre-release notice to the distributors, 2026-12-14 16:00 UTC."}},
		{name: "date moved", body: "/disclose 2026-12-17 16:00 UTC", summary: true,
			want: []string{"- public disclosure planned for 2026-12-17 16:00 UTC",
				"Next: pre-release notice to the distributors, 2026-12-16 16:00 UTC."}},
		{name: "refused", body: "/fixed 1.2.3\n/status closed", refused: true},
		{name: "nothing changed", body: "/help"},
		{name: "comment and reply", body: "/fixed 1.2.3\n/reply Thanks, confirmed.\n\nI reproduced it on main; SECRET-COMMENT.", summary: true,
			want: []string{"- fixed versions: 1.2.3", "- reply to the reporter queued",
				"----- comment -----\nI reproduced it on main; SECRET-COMMENT.", "----- sent to the reporter -----\nThanks, confirmed."}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bob, carol := len(e.mailsTo("bob@example.org", MailTeamNote)), len(e.mailsTo("carol@example.org", MailTeamNote))
			answers := len(e.mailsTo("alice@example.org", MailAnswer))
			e.handle(e.signed("alice@example.org", alice, "["+c.Ref+"]", tt.body, e.clock.Now()))
			got := e.mailsTo("alice@example.org", MailAnswer)
			if len(got) <= answers {
				t.Fatal("alice got no answer")
			}
			if refused := strings.Contains(got[answers], "NOT applied"); refused != tt.refused {
				t.Fatalf("refused = %v, want %v:\n%s", refused, tt.refused, got[answers])
			}
			if n := e.count(`SELECT count(*) FROM outbox WHERE kind = ? AND recipient = 'alice@example.org'`, MailTeamNote); n != 0 {
				t.Errorf("the author got %d summaries of her own mails", n)
			}
			want := 0
			if tt.summary {
				want = 1
			}
			for addr, before := range map[string]int{"bob@example.org": bob, "carol@example.org": carol} {
				notes := e.mailsTo(addr, MailTeamNote)
				if len(notes)-before != want {
					t.Fatalf("%s got %d summaries, want %d", addr, len(notes)-before, want)
				}
				for _, w := range tt.want {
					lastContains(t, addr+"'s summary", notes, w)
				}
			}
		})
	}
	if n := e.count(`SELECT count(*) FROM outbox WHERE kind = ? AND encrypt = 0`, MailTeamNote); n != 0 {
		t.Errorf("%d summaries in clear", n)
	}
}

// TestTeamSummaryFoldsSteps: a step of the timeline the scheduler carries
// out inside a command mail's transaction (the embargo notice a /disclose
// sends at once) is part of that mail's one summary; outside a command
// mail it is a summary of its own, to every member.
func TestTeamSummaryFoldsSteps(t *testing.T) {
	e := newEnv(t)
	c := e.open(true)
	alice := e.keys["alice@example.org"]
	e.sched.onDisclose = func(ctx context.Context, tx *sql.Tx, c *Case) error {
		return e.wf.TellStep(ctx, tx, c.ID, Step{What: "the embargo notice went out",
			Changes: []string{"embargo notice sent to 2 distributors", "state cve-requested -> fix-committed"}})
	}
	e.handle(e.signed("alice@example.org", alice, "["+c.Ref+"]", "/disclose 2026-12-15 16:00 UTC", e.clock.Now()))
	notes := e.mailsTo("bob@example.org", MailTeamNote)
	if len(notes) != 1 {
		t.Fatalf("bob got %d summaries of one mail, want 1", len(notes))
	}
	for _, w := range []string{"- public disclosure planned for 2026-12-15 16:00 UTC", "- embargo notice sent to 2 distributors",
		"- state cve-requested -> fix-committed", "changed " + c.Ref + " by a mail signed"} {
		lastContains(t, "summary", notes, w)
	}
	if n := e.count(`SELECT count(*) FROM outbox WHERE kind = ? AND recipient = 'alice@example.org'`, MailTeamNote); n != 0 {
		t.Errorf("the author got %d summaries", n)
	}

	// The same step run by the job loop: every member hears of it once.
	err := e.db.Tx(e.ctx, func(tx *sql.Tx) error {
		return e.wf.TellStep(e.ctx, tx, c.ID, Step{What: "the embargo notice went out", Changes: []string{"embargo notice sent to 2 distributors"},
			Next: "pre-release notice to the distributors", NextAt: t0.Add(24 * 24 * time.Hour)})
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, addr := range []string{"alice@example.org", "bob@example.org", "carol@example.org"} {
		notes := e.mailsTo(addr, MailTeamNote)
		for _, w := range []string{"The gateway carried out a step of the timeline of " + c.Ref + ": the embargo notice went out.",
			"- embargo notice sent to 2 distributors", "Next: pre-release notice to the distributors, 2026-12-14 10:00 UTC."} {
			lastContains(t, addr+"'s summary", notes, w)
		}
	}
	if n := len(e.mailsTo("alice@example.org", MailTeamNote)); n != 1 {
		t.Errorf("alice got %d summaries of the step, want 1", n)
	}
}

// TestReporterConfirmed: /status confirmed tells the reporter that work on
// a fix has begun and asks about credit, encrypted to her key; without a
// key the mail goes in clear and names nothing of the case but its
// reference (no report text, no title).
func TestReporterConfirmed(t *testing.T) {
	for _, withKey := range []bool{true, false} {
		e := newEnv(t)
		c := e.open(withKey)
		alice := e.keys["alice@example.org"]
		e.handle(e.signed("alice@example.org", alice, "["+c.Ref+"]", "/title SECRET-TITLE in the frobnicator\n/status confirmed", e.clock.Now()))
		rep := e.mailsTo("rita@reporter.example", MailReporter)
		if len(rep) != 1 {
			t.Fatalf("key %v: %d mails to the reporter, want 1", withKey, len(rep))
		}
		for _, w := range []string{"We have confirmed your report " + c.Ref + " as a vulnerability", "work on a fix has begun",
			"Would you like to be credited"} {
			if !strings.Contains(rep[0], w) {
				t.Errorf("key %v: the mail lacks %q:\n%s", withKey, w, rep[0])
			}
		}
		encrypted := e.count(`SELECT count(*) FROM outbox WHERE kind = ? AND encrypt = 1`, MailReporter)
		raw := e.raw(MailReporter, "rita@reporter.example")
		switch {
		case withKey && (encrypted != 1 || !strings.Contains(rep[0], "Title:    SECRET-TITLE in the frobnicator")):
			t.Errorf("key known: encrypted=%d\n%s", encrypted, rep[0])
		case !withKey && encrypted != 0:
			t.Errorf("no key: encrypted=%d", encrypted)
		case !withKey:
			for _, secret := range []string{"SECRET-", "frobnicator", "X-Frob"} {
				if bytes.Contains(raw, []byte(secret)) || strings.Contains(rep[0], secret) {
					t.Errorf("no key: the clear mail names %q:\n%s", secret, raw)
				}
			}
		}
		lastContains(t, "answer", e.mailsTo("alice@example.org", MailAnswer), "reporter told (reporter-confirmed)")
	}
}

// TestReporterPublished: the announcement step tells the reporter her
// report is public, with the advisory's link, encrypted to her key; in
// clear without a key, without the link or anything else of the case.
func TestReporterPublished(t *testing.T) {
	const link = "https://example.org/advisories/EXSA-2026-001"
	for _, withKey := range []bool{true, false} {
		e := newEnv(t)
		c := e.open(withKey)
		alice := e.keys["alice@example.org"]
		e.handle(e.signed("alice@example.org", alice, "["+c.Ref+"]", "/title SECRET-TITLE\n/advisory EXSA-2026-001\n/cve CVE-2026-12345", e.clock.Now()))
		err := e.db.Tx(e.ctx, func(tx *sql.Tx) error {
			return e.wf.TellStep(e.ctx, tx, c.ID, Step{What: "the public announcement went out", Changes: []string{"announced to announce"},
				Published: true, AdvisoryLink: link})
		})
		if err != nil {
			t.Fatal(err)
		}
		rep := e.mailsTo("rita@reporter.example", MailReporter)
		if len(rep) != 1 || !strings.Contains(rep[0], "Your report "+c.Ref+" has been made public") {
			t.Fatalf("key %v: reporter mails %q", withKey, rep)
		}
		raw := e.raw(MailReporter, "rita@reporter.example")
		if withKey {
			for _, w := range []string{"Advisory: " + link, "CVE:      CVE-2026-12345", "Title:    SECRET-TITLE"} {
				if !strings.Contains(rep[0], w) {
					t.Errorf("the encrypted mail lacks %q:\n%s", w, rep[0])
				}
			}
			continue
		}
		for _, secret := range []string{"SECRET-", "EXSA-2026", "CVE-2026", "X-Frob"} {
			if bytes.Contains(raw, []byte(secret)) {
				t.Errorf("no key: the clear mail names %q:\n%s", secret, raw)
			}
		}
	}
}

// TestKeptInStepGolden renders what the workflow really passes to the
// texts that keep the team and the reporter in step: a case confirmed and
// planned by Alice's signed mails, then published by the timeline. Key
// fingerprints, which differ from run to run, read ALICE-FPR.
func TestKeptInStepGolden(t *testing.T) {
	e := newEnv(t)
	c := e.open(true)
	alice := e.keys["alice@example.org"]
	fpr := e.member("alice@example.org").Fingerprint
	e.handle(e.signed("alice@example.org", alice, "["+c.Ref+"]",
		"/status confirmed\n/title Frobnicator runs commands from a header\n/credit Rita R.\n\nReproduced on main.", e.clock.Now()))
	e.handle(e.signed("alice@example.org", alice, "["+c.Ref+"]", "/advisory EXSA-2026-001\n/disclose 2026-12-15 16:00 UTC", e.clock.Now()))
	err := e.db.Tx(e.ctx, func(tx *sql.Tx) error {
		return e.wf.TellStep(e.ctx, tx, c.ID, Step{What: "the public announcement went out",
			Changes: []string{"announced to announce"},
			Next:    "retrospective reminder to the fix lead", NextAt: t0.Add(26 * 24 * time.Hour),
			Published: true, AdvisoryLink: "https://example.org/advisories/EXSA-2026-001"})
	})
	if err != nil {
		t.Fatal(err)
	}
	notes, rep := e.withSubjects("bob@example.org", MailTeamNote), e.withSubjects("rita@reporter.example", MailReporter)
	if len(notes) != 3 || len(rep) != 3 {
		t.Fatalf("%d summaries to bob, %d mails to the reporter; want 3 each", len(notes), len(rep))
	}
	for name, text := range map[string]string{
		"summary-confirmed": notes[0], "summary-planned": notes[1], "summary-published": notes[2],
		"reporter-confirmed": rep[0], "reporter-published": rep[2],
	} {
		t.Run(name, func(t *testing.T) {
			got := strings.ReplaceAll(text, fpr, "ALICE-FPR")
			path := filepath.Join("testdata", name+".golden")
			if *updateGolden {
				if err := os.MkdirAll("testdata", 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("%s differs from %s:\n%s", name, path, got)
			}
		})
	}
}

// withSubjects returns the texts mailsTo returns, each after its
// (protected) Subject line as the recipient sees it.
func (e *env) withSubjects(addr, kind string) []string {
	e.t.Helper()
	texts := e.mailsTo(addr, kind)
	rows, err := e.db.Reader().Query(`SELECT m.raw FROM outbox o JOIN outbox_message m ON m.outbox_id = o.id
		WHERE o.recipient = ? AND o.kind = ? ORDER BY o.id`, addr, kind)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	for i := 0; rows.Next(); i++ {
		var raw []byte
		if err := rows.Scan(&raw); err != nil {
			e.t.Fatal(err)
		}
		key := e.keys[addr]
		if key == nil {
			key = testKey(e.t, addr, 0)
		}
		o, err := crypto.Open(raw, crypto.OpenOptions{Decrypt: key, Verifiers: []*crypto.Key{e.team.Public()}, Now: e.clock.Now()})
		if err != nil {
			e.t.Fatal(err)
		}
		subj, _, _ := crypto.ProtectedHeaders(o.Entity)
		texts[i] = "Subject: " + subj + "\n\n" + texts[i]
	}
	return texts
}

// raw returns the queued bytes of the last mail of kind to addr.
func (e *env) raw(kind, addr string) []byte {
	e.t.Helper()
	var raw []byte
	if err := e.db.Reader().QueryRow(`SELECT m.raw FROM outbox o JOIN outbox_message m ON m.outbox_id = o.id
		WHERE o.kind = ? AND o.recipient = ? ORDER BY o.id DESC LIMIT 1`, kind, addr).Scan(&raw); err != nil {
		e.t.Fatal(err)
	}
	return raw
}
