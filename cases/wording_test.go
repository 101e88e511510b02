package cases

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestWordingGolden renders what the workflow really passes to the texts
// whose wording issue #17 corrected, from signed command mails: the
// hand-off confirmation (its reason labelled), the answer to a mail that
// changed three things (its subject counts the changes it lists, its notes
// apart, "1 line" not "1 lines"), and the decision a wontfix sends the
// reporter (final: new information is a new report, not a reply). Key
// fingerprints, which differ from run to run, read ALICE-FPR and BOB-FPR.
func TestWordingGolden(t *testing.T) {
	e := newEnv(t)
	c := e.open(true)
	alice, bob := e.keys["alice@example.org"], e.keys["bob@example.org"]
	scrub := func(s string) string {
		s = strings.ReplaceAll(s, e.member("alice@example.org").Fingerprint, "ALICE-FPR")
		return strings.ReplaceAll(s, e.member("bob@example.org").Fingerprint, "BOB-FPR")
	}
	e.handle(e.signed("alice@example.org", alice, "["+c.Ref+"]", "/lead offer @bob", e.clock.Now()))
	e.handle(e.signed("bob@example.org", bob, "["+c.Ref+"]", "/lead accept", e.clock.Now()))
	e.handle(e.signed("bob@example.org", bob, "["+c.Ref+"]",
		"/status confirmed\n/credit Rita R.\n/mitigation Turn the frobnicator off.\n\nReproduced on main.", e.clock.Now()))
	answers := e.withSubjects("bob@example.org", MailAnswer)
	e.handle(e.signed("bob@example.org", bob, "["+c.Ref+"]", "/close wontfix the frobnicator runs what its operator configures", e.clock.Now()))

	handoff := e.withSubjects("bob@example.org", MailHandoff)
	decision := e.withSubjects("rita@reporter.example", MailReporter)
	if len(handoff) != 2 || len(answers) != 2 || len(decision) != 2 {
		t.Fatalf("%d hand-off mails to bob (the offer, the confirmation), %d answers, %d mails to the reporter (confirmed, decision)",
			len(handoff), len(answers), len(decision))
	}
	done := answers[1]
	for name, text := range map[string]string{
		"handoff-confirm": handoff[1], "answer-done": done, "decision-wontfix": decision[1],
	} {
		t.Run(name, func(t *testing.T) {
			got := scrub(text)
			path := filepath.Join("testdata", name+".golden")
			if *updateGolden {
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

	// The answer's subject counts what it lists as changes, and the
	// signature's recorded outcome says the same.
	changes, notes, ok := strings.Cut(done, "\nNotes:\n")
	if !ok || !strings.Contains(done, "Subject: ["+c.Ref+"] Done: 4 changes\n") || strings.Count(changes, "\n- ") != 4 {
		t.Errorf("the answer does not count the changes it lists:\n%s", done)
	}
	if !strings.Contains(notes, "credited is not recorded yet") || !strings.Contains(notes, "reporter told") {
		t.Errorf("the answer's notes:\n%s", notes)
	}
	if n := e.count(`SELECT count(*) FROM case_signatures WHERE outcome = 'applied (4 changes)'`); n != 1 {
		t.Errorf("%d signatures recorded as applied (4 changes)", n)
	}
	// The team's summary counts the same changes.
	if sum := e.withSubjects("carol@example.org", MailTeamNote); len(sum) == 0 || !strings.Contains(sum[len(sum)-2], "Bob: 4 changes, now confirmed") {
		t.Errorf("carol's summaries: %q", sum)
	}
}

// TestCommandTextsKeepHowTheyCame: the texts a command mail stores (its
// comment, /impact, /note, /reply) are recorded as arriving encrypted when
// the mail was, so that case show's ARRIVED column tells the truth.
func TestCommandTextsKeepHowTheyCame(t *testing.T) {
	e := newEnv(t)
	c := e.open(true)
	alice := e.keys["alice@example.org"]
	e.handle(e.signed("alice@example.org", alice, "["+c.Ref+"]",
		"/impact An attacker runs commands.\n/note Looked at it.\n/reply Thanks, we are on it.\n\nA comment.", e.clock.Now()))
	ms, err := e.wf.Messages(e.ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]bool{}
	for _, m := range ms {
		if m.Kind == KindReport {
			continue
		}
		kinds[m.Kind] = true
		if !m.Encrypted {
			t.Errorf("%s from an encrypted command mail recorded as in clear", m.Kind)
		}
	}
	for _, k := range []string{KindImpact, KindNote, KindReply, KindComment} {
		if !kinds[k] {
			t.Errorf("no %s stored (%v)", k, kinds)
		}
	}
}
