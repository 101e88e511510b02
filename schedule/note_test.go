package schedule

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/secgate/secgate/cases"
	"github.com/secgate/secgate/templates"
)

// TestClassPublication: what the disclosure of each Kata class publishes.
// A (and no class) an advisory after the embargo notice; B1-B3, C1, C2
// and D a security note with its own ID, planned from opinion, sent to
// the public lists at T0 with no embargo notice and written to the
// artifacts directory; E, Y and Z nothing (refused).
func TestClassPublication(t *testing.T) {
	tests := []struct {
		class string
		state cases.State
		want  string // "advisory", "note" or the refusal
	}{
		{"", cases.StateCVERequested, "advisory"},
		{"A", cases.StateCVERequested, "advisory"},
		{"A", cases.StateOpinion, "needs a confirmed case"},
		{"B1", cases.StateOpinion, "note"},
		{"B2", cases.StateOpinion, "note"},
		{"B3", cases.StateOpinion, "note"},
		{"C1", cases.StateOpinion, "note"},
		{"C2", cases.StateOpinion, "note"},
		{"D", cases.StateOpinion, "note"},
		{"B1", cases.StateCVERequested, "/status opinion first"},
		{"E", cases.StateOpinion, "publishes nothing"},
		{"Y", cases.StateConfirmed, "publishes nothing"},
		{"Z", cases.StateCVERequested, "publishes nothing"},
	}
	for _, tc := range tests {
		t.Run(tc.class+"/"+string(tc.state), func(t *testing.T) {
			now := utc("2026-12-03 10:00") // Thursday
			e := newEnv(t, now, "kata")
			c := e.newCase(1, "kata", utc("2026-11-30 08:00"))
			c.Class, c.State, c.Title = tc.class, tc.state, "Insecure default of the debug console"
			if tc.want == "note" {
				c.Advisory, c.Fixed = "", "" // a note may have no fix at all (B2)
			}
			e.cases.put(c)
			t0 := utc("2026-12-09 00:00")
			plan, err := e.disclose(c, t0, "")
			switch tc.want {
			case "advisory", "note":
				if err != nil {
					t.Fatal(err)
				}
			default:
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("Disclose = %v, want a refusal saying %q", err, tc.want)
				}
				if !errors.Is(err, ErrState) {
					t.Errorf("refusal %v is not ErrState", err)
				}
				return
			}
			e.advance(t0.Add(Day))
			files, _ := filepath.Glob(filepath.Join(e.artifacts, "*"))
			for i, f := range files {
				files[i] = filepath.Base(f)
			}
			if tc.want == "advisory" {
				e.checkMails(
					"2026-12-03 10:00 embargo-notice encrypted to "+vendors,
					"2026-12-08 00:00 prerelease-notice encrypted to "+vendors,
					"2026-12-09 00:00 announcement signed to "+public,
				)
				containsAll(t, "artifacts", strings.Join(files, " "), "EXSA-2026-001.md", "EXSA-2026-001.osv.json")
				return
			}
			containsAll(t, "plan", plan, "no embargo", "a security note")
			ms := e.checkMails("2026-12-09 00:00 announcement signed to " + public)
			if len(ms) == 1 {
				containsAll(t, "note subject", ms[0].Subject, "KCSN-2026-001: Insecure default of the debug console")
				containsAll(t, "note", ms[0].Entity, "KCSN-2026-001", "Recommended actions")
			}
			if strings.Join(files, " ") != "KCSN-2026-001.md" {
				t.Errorf("artifacts %v, want the note alone", files)
			}
			note, _ := os.ReadFile(filepath.Join(e.artifacts, "KCSN-2026-001.md"))
			containsAll(t, "note file", string(note), "# KCSN-2026-001: Insecure default of the debug console",
				"| Published | 2026-12-09 00:00 UTC |", "| Class | "+tc.class+" (", c.Impact)
			if got, _ := e.cases.get(c.ID); got.State != cases.StateOpinion {
				t.Errorf("state %s after the note, want opinion (the lead closes the case)", got.State)
			}
		})
	}
}

// TestNoteIDs: note IDs are PREFIX-YYYY-NNN, numbered in the order the
// notes are published, per prefix and year, and never given twice.
func TestNoteIDs(t *testing.T) {
	now := utc("2026-12-03 10:00")
	e := newEnv(t, now, "kata")
	note := func(id int64, t0 string) {
		t.Helper()
		c := e.newCase(id, "kata", utc("2026-11-30 08:00"))
		c.Class, c.State = "B2", cases.StateOpinion
		e.cases.put(c)
		if _, err := e.disclose(c, utc(t0), ""); err != nil {
			t.Fatal(err)
		}
	}
	note(1, "2026-12-16 00:00")
	note(2, "2026-12-09 00:00")
	note(3, "2027-01-06 00:00")
	e.advance(utc("2027-01-10 00:00"))
	var subjects []string
	for _, m := range e.mails() {
		subjects = append(subjects, m.Subject[:strings.Index(m.Subject, ":")])
	}
	if got := strings.Join(subjects, " "); got != "KCSN-2026-001 KCSN-2026-002 KCSN-2027-001" {
		t.Errorf("note IDs in publication order: %s", got)
	}
	for id, want := range map[int64]string{2: "KCSN-2026-001", 1: "KCSN-2026-002", 3: "KCSN-2027-001"} {
		var got string
		e.db.Reader().QueryRow(`SELECT id FROM security_note WHERE case_id = ?`, id).Scan(&got)
		if got != want {
			t.Errorf("case %d: note %q, want %s", id, got, want)
		}
	}

	// The prefix is [project] note_prefix.
	e2 := newEnv(t, now, "kata")
	e2.s = e2.newScheduler("kata")
	e2.s.project.NotePrefix = "EXSN"
	c := e2.newCase(1, "kata", utc("2026-11-30 08:00"))
	c.Class, c.State = "B1", cases.StateOpinion
	e2.cases.put(c)
	if _, err := e2.disclose(c, utc("2026-12-09 00:00"), ""); err != nil {
		t.Fatal(err)
	}
	e2.advance(utc("2026-12-10 00:00"))
	if ms := e2.mails(); len(ms) != 1 || !strings.HasPrefix(ms[0].Subject, "EXSN-2026-001: ") {
		t.Errorf("mails with note_prefix EXSN: %v", ms)
	}
}

// TestNotePrefix: a prefix that cannot make an ID PREFIX-YYYY-NNN (and a
// file name) is refused when the scheduler is built.
func TestNotePrefix(t *testing.T) {
	for _, tc := range []struct {
		prefix string
		ok     bool
	}{
		{"", true}, {"KCSN", true}, {"EXSN2", true}, {"kcsn", false}, {"K", false}, {"KC-SN", false}, {"../x", false},
	} {
		err := checkNotePrefix(tc.prefix)
		if (err == nil) != tc.ok {
			t.Errorf("note prefix %q: %v, want ok %v", tc.prefix, err, tc.ok)
		}
	}
	e := newEnv(t, utc("2026-12-03 10:00"), "kata")
	if _, err := New(Options{DB: e.db, Directory: e.dir, Outbox: e.out, Templates: e.s.tmpl, TeamAddress: "security@example.org",
		Project: templates.Project{NotePrefix: "K/SN"}}); err == nil || !strings.Contains(err.Error(), "note prefix") {
		t.Errorf("New with note prefix K/SN: %v", err)
	}
}
