package intake

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/secgate/secgate/crypto"
)

// countingRest is the team key at rest, counting the stored messages the
// processor reads back and decrypts.
type countingRest struct {
	*crypto.Key
	decrypted *atomic.Int64
}

func (c countingRest) DecryptAtRest(ct []byte) ([]byte, error) {
	c.decrypted.Add(1)
	return c.Key.DecryptAtRest(ct)
}

// TestRealStackHandOverRestart: reports gpg encrypted, delivered by
// Postfix and Dovecot. The gateway dies once the first batch is stored,
// before processing it; the one restarted processes that batch from the
// database (read back and decrypted at rest) and the next as the poller
// hands it over (nothing read back), and both end alike: one case, one
// acknowledgement and a copy for each member per report.
func TestRealStackHandOverRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("real mail stack")
	}
	g := startGateway(t)
	g.cfg.FetchBatch = 3
	const n = 6
	for i := range n {
		if i%2 == 0 {
			g.send(g.inlineReport(200+i, fmt.Sprintf("report number %d", i)))
		} else {
			g.send(g.pgpMIMEReport(200+i, fmt.Sprintf("report number %d", i)))
		}
	}
	g.stack.WaitMessages(t, "security", "INBOX", n, 60*time.Second)

	var decrypted atomic.Int64
	o := g.proc.o
	o.AtRest = countingRest{g.team, &decrypted}
	proc := NewProcessor(o)
	run := func(ctx context.Context, hook func(string) error) <-chan struct{} {
		return runPollerRest(t, ctx, g.cfg, g.db, g.team, proc, hook)
	}

	ctx, kill := context.WithCancel(g.ctx)
	var once sync.Once
	<-run(ctx, func(step string) error {
		if step == "stored" {
			once.Do(kill)
			return fmt.Errorf("crash")
		}
		return nil
	})
	var stored, handled int
	g.db.Reader().QueryRow(`SELECT count(*) FILTER (WHERE state = 'stored'), count(*) FILTER (WHERE state != 'stored') FROM inbound`).Scan(&stored, &handled)
	if stored != 3 || handled != 0 || decrypted.Load() != 0 {
		t.Fatalf("before the crash: %d stored, %d handled, %d read back; want the first batch of 3 stored, none handled or read", stored, handled, decrypted.Load())
	}

	ctx2, cancel := context.WithCancel(g.ctx)
	done := run(ctx2, nil)
	defer func() { cancel(); <-done }()
	g.stack.WaitMessages(t, "security", "Processed", n, 60*time.Second)
	g.stack.WaitMessages(t, "sink", "INBOX", n, 60*time.Second)
	for _, u := range []string{"alice", "bob"} {
		g.stack.WaitMessages(t, u, "INBOX", n, 60*time.Second)
	}
	if got := decrypted.Load(); got != 3 {
		t.Errorf("%d messages read back and decrypted at rest, want the 3 stored before the crash (the 3 after handed over)", got)
	}
	rows, err := g.db.Reader().Query(`SELECT i.uid, i.class, i.reason, c.ref IS NOT NULL FROM inbound i LEFT JOIN cases c ON c.id = i.case_id ORDER BY i.uid`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var first string
	for rows.Next() {
		var uid int
		var class, reason string
		var hasCase bool
		if err := rows.Scan(&uid, &class, &reason, &hasCase); err != nil {
			t.Fatal(err)
		}
		got := fmt.Sprintf("%s %q case %v", class, reason, hasCase)
		if uid%2 == 1 && first == "" {
			first = got
		}
		if class != ClassReport || !hasCase {
			t.Errorf("uid %d: %s, want a report with its case", uid, got)
		}
		// Inline and PGP/MIME alternate: uids 1 and 5 (read back, handed
		// over) are inline, 2 and 4 PGP/MIME.
		if uid == 5 && got != first {
			t.Errorf("uid 5, handed over: %s; uid 1, read back: %s", got, first)
		}
	}
}
