package schedule

import (
	"database/sql"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/secgate/secgate/cases"
	"github.com/secgate/secgate/crypto"
	"github.com/secgate/secgate/templates"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares got with testdata/NAME.golden; -update rewrites it.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./schedule -update)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from %s:\n%s", name, path, got)
	}
}

// TestRetrospectiveReminderGolden renders the retrospective reminder the
// timeline really sends the lead after a release: it suggests a /close the
// gateway reads as closing the case, never "/close fix-released".
func TestRetrospectiveReminderGolden(t *testing.T) {
	e := newEnv(t, utc("2026-11-20 09:30"), "knative")
	e.wholePreset = true
	e.s = e.newScheduler("knative")
	c := e.newCase(1, "knative", utc("2026-11-16 08:00"))
	c.Title = "Path traversal in uploads"
	e.cases.put(c)
	if _, err := e.disclose(c, utc("2026-12-11 16:00"), ""); err != nil {
		t.Fatal(err)
	}
	e.advance(utc("2026-12-13 00:00"))
	var reminder *sentMail
	for _, m := range e.mails() {
		if m.Kind == MailReminder && strings.Contains(m.Subject, "Retrospective") {
			reminder = &m
			break
		}
	}
	if reminder == nil {
		t.Fatal("no retrospective reminder")
	}
	text, _, err := crypto.TextBody([]byte(reminder.Entity))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(text, "/close fix-released") {
		t.Errorf("the reminder suggests /close fix-released:\n%s", text)
	}
	golden(t, "retrospective-reminder", "Subject: "+reminder.Subject+"\n\n"+text)
}

// TestCVERequestCredit: the CVE request drafted from a case names the
// credit only with the reporter's consent, and otherwise says why nobody
// is named: consent pending (asked, not answered) or declined, never
// "(anonymous)".
func TestCVERequestCredit(t *testing.T) {
	e := newEnv(t, utc("2026-11-20 09:30"), "knative")
	c := e.newCase(1, "knative", utc("2026-11-16 08:00"))
	for consent, want := range map[string]string{
		cases.ConsentYes:     "Discoverer/credits: Rita Reporter\n",
		cases.ConsentUnknown: "Discoverer/credits: (none yet: credit pending the reporter's consent)\n",
		cases.ConsentNo:      "Discoverer/credits: (none: the reporter declined to be named)\n",
	} {
		c.CreditConsent = consent
		for _, name := range []string{templates.CVERequestPrivate, templates.CVERequestPublic} {
			var body string
			if err := e.tx(func(tx *sql.Tx) error {
				var err error
				_, body, err = e.s.Draft(e.ctx, tx, c, name, cases.DraftOptions{Actor: templates.Person{Name: "Alice Lead", Address: "alice@team.example"}})
				return err
			}); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(body, want) || strings.Contains(body, "(anonymous)") {
				t.Errorf("consent %q, %s: want %q:\n%s", consent, name, want, body)
			}
			if consent == cases.ConsentUnknown && name == templates.CVERequestPrivate {
				golden(t, "cve-request-credit-pending", body)
			}
		}
	}
}
