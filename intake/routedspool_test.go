package intake

import (
	"bytes"
	"context"
	"testing"

	"github.com/secgate/secgate/crypto"
	"github.com/secgate/secgate/internal/testwait"
)

// TestRoutedPollerSpoolsBigMessage: in a mailbox two projects share, a
// message bigger than one piece is streamed from the IMAP literal into
// the pieces of the project its header routes it to, sealed with that
// project's key (the other project's key does not open it), as in a
// mailbox of one project; mail no project owns goes, in pieces, to the
// default project's quarantine. No piece is left in either database that
// no row names, and nothing reaches the other project's database.
func TestRoutedPollerSpoolsBigMessage(t *testing.T) {
	e := newRoutedEnv(t)
	keys := map[string]*crypto.Key{}
	for i, p := range []string{"a", "b"} {
		keys[p] = spoolKey(t)
		e.routes.Routes[i].AtRest = keys[p]
	}
	big := func(deliveredTo, mid string) []byte {
		return []byte("Delivered-To: " + deliveredTo + "\r\nFrom: Reporter <reporter@example.net>\r\nTo: " + deliveredTo +
			"\r\nSubject: big\r\nMessage-ID: <" + mid + ">\r\n\r\n" + bigBody(3<<20))
	}
	msgs := []struct {
		mid, project string
		raw          []byte
	}{
		{"big-a@x", "a", big("security+a@example.test", "big-a@x")},
		{"big-b@x", "b", big("security+b@example.test", "big-b@x")},
		{"big-nobody@x", "b", big("security+c@example.test", "big-nobody@x")},
	}
	for _, m := range msgs {
		e.s.deliverRaw(t, "INBOX", m.raw)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := e.run(t, ctx, nil)
	defer func() { cancel(); <-done }()
	testwait.For(t, "all moved", func() bool { return e.s.count(t, "INBOX") == 0 })
	other := map[string]string{"a": "b", "b": "a"}
	for _, m := range msgs {
		db := e.db[m.project]
		var id int64
		var spool int
		if err := db.Reader().QueryRow(`SELECT i.id, count(s.spool) FROM inbound i LEFT JOIN inbound_spool s ON s.inbound_id = i.id
			WHERE i.message_id = ? GROUP BY i.id`, m.mid).Scan(&id, &spool); err != nil {
			t.Fatalf("%s: not in %s's database: %v", m.mid, m.project, err)
		}
		if spool != 1 {
			t.Errorf("%s: not stored in pieces (streamed) in %s's database", m.mid, m.project)
		}
		got, err := rawMessage(ctx, db.Reader(), keys[m.project], id)
		if err != nil || !bytes.Equal(got, m.raw) {
			t.Errorf("%s: read back with %s's key: %d bytes, %v; want the %d delivered", m.mid, m.project, len(got), err, len(m.raw))
		}
		if _, err := rawMessage(ctx, db.Reader(), keys[other[m.project]], id); err == nil {
			t.Errorf("%s: project %s's key opens what is stored for %s", m.mid, other[m.project], m.project)
		}
		if _, _, _, _, ok := e.row(t, other[m.project], m.mid); ok {
			t.Errorf("%s: also in %s's database", m.mid, other[m.project])
		}
	}
	if state, class, _, _, _ := e.row(t, "b", "big-nobody@x"); state != StateQuarantined || class != ClassRoute {
		t.Errorf("mail no project owns: %s/%s, want held (route) in the default project's quarantine", state, class)
	}
	for p, db := range e.db {
		if n := strayPieces(t, db); n != 0 {
			t.Errorf("%s: %d spooled pieces left that no row names", p, n)
		}
	}
}
