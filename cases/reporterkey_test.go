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
