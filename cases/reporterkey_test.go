package cases

import (
	"database/sql"
	"strings"
	"testing"
	"time"
)

// TestTakeReporterKey: a reporter who first wrote without a key sends one
// later; replies are encrypted to it from then on. A different key never
// replaces a usable one (anyone can write in the reporter's name), but it
// replaces one that expired.
func TestTakeReporterKey(t *testing.T) {
	e := newEnv(t)
	c := e.open(false)
	first := armorPub(t, testKey(t, "rita@reporter.example", 31*24*time.Hour)) // expires t0 + 1 day
	other := armorPub(t, testKey(t, "rita@reporter.example", 0))
	steps := []struct {
		name, from, key string
		advance         time.Duration
		note            string // substring; "" for nothing done
		want            string // the key on file afterwards
	}{
		{"someone else's mail", "mallory@outside.example", first, 0, "", ""},
		{"not a key", "rita@reporter.example", "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nAAAA\n-----END PGP PUBLIC KEY BLOCK-----\n", 0, "not usable", ""},
		{"someone else's key in her name", "rita@reporter.example", armorPub(t, testKey(t, "mallory@outside.example", 0)), 0, "none of its user IDs", ""},
		{"first key", "Rita@Reporter.Example", first, 0, "taken from a follow-up", first},
		{"the same key again", "rita@reporter.example", first, 0, "", first},
		{"another key while hers is usable", "rita@reporter.example", other, 0, "was not taken", first},
		{"another key once hers expired", "rita@reporter.example", other, 48 * time.Hour, "in place of the key on file", other},
	}
	for i, s := range steps {
		e.clock.Advance(s.advance)
		var note string
		err := e.db.Tx(e.ctx, func(tx *sql.Tx) error {
			var err error
			note, err = e.wf.TakeReporterKey(e.ctx, tx, c.ID, s.from, s.key, "<f"+string(rune('a'+i))+"@reporter.example>")
			return err
		})
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if (s.note == "") != (note == "") || !strings.Contains(note, s.note) {
			t.Errorf("%s: note %q, want %q", s.name, note, s.note)
		}
		got, err := e.wf.GetByID(e.ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.ReporterKey != s.want {
			t.Errorf("%s: key on file changed wrongly (%d bytes, want %d)", s.name, len(got.ReporterKey), len(s.want))
		}
	}
	lastContains(t, "audit", e.audit(c.ID), "in place of the key on file")
}

// TestOpenCaseKeyOfAnother: a key that came with a report is the
// reporter's only when one of its user IDs is the report's From address:
// anyone can attach a key, or offer one in an Autocrypt header, to a copy
// of someone else's report.
func TestOpenCaseKeyOfAnother(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		name, uid string
		taken     bool
	}{
		{"the reporter's own", "rita@reporter.example", true},
		{"another address", "mallory@outside.example", false},
	} {
		key := armorPub(t, testKey(t, tc.uid, 0))
		var c *Case
		err := e.db.Tx(e.ctx, func(tx *sql.Tx) error {
			var err error
			c, err = e.wf.OpenCase(e.ctx, tx, Report{MessageID: "<" + tc.name + "@reporter.example>", From: "Rita <rita@reporter.example>",
				Text: "report", Received: e.clock.Now(), Key: key})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if got := c.ReporterKey != ""; got != tc.taken {
			t.Errorf("%s: key taken %v, want %v", tc.name, got, tc.taken)
		}
		if !tc.taken && !strings.Contains(strings.Join(e.audit(c.ID), "\n"), "none of its user IDs is the reporter's address") {
			t.Errorf("%s: the audit log does not say why the key was not taken: %q", tc.name, e.audit(c.ID))
		}
	}
}
