package main

import (
	"context"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/secgate/secgate/store"
)

// settleMax bounds settle: work that stays due (a recipient's server that
// keeps deferring) does not hold the demo up longer.
const settleMax = time.Second

// settle waits until the mail the step caused has arrived: nothing waits
// in the team's mailbox, the gateway has no message left to handle, no
// outbox row and no scheduled step due at the simulated now, and no
// delivery came in over two looks 10 ms apart.
func (d *demo) settle(ctx context.Context) {
	n := len(d.mail.Deliveries())
	deadline := time.Now().Add(settleMax)
	for quiet := 0; quiet < 2 && time.Now().Before(deadline); {
		select {
		case <-ctx.Done():
			return
		case <-time.After(10 * time.Millisecond):
		}
		d.g.outbox.Kick()
		d.g.sched.Kick()
		if m := len(d.mail.Deliveries()); m != n || d.busy(ctx) {
			n, quiet = m, 0
			continue
		}
		quiet++
	}
}

// busy reports whether the gateway has work waiting that a step caused.
func (d *demo) busy(ctx context.Context) bool {
	st, err := d.mail.user(d.teamAddr()).Status("INBOX", &imap.StatusOptions{NumMessages: true})
	if err != nil || st.NumMessages == nil || *st.NumMessages > 0 {
		return true
	}
	now := store.Millis(d.clock.Now())
	var n int
	err = d.g.db.Reader().QueryRowContext(ctx, `SELECT
		(SELECT count(*) FROM inbound WHERE state = 'stored') +
		(SELECT count(*) FROM outbox WHERE state = 'sending' OR state IN ('queued', 'deferred') AND next_attempt <= ?1) +
		(SELECT count(*) FROM schedule_job WHERE state = 'pending' AND due <= ?1)`, now).Scan(&n)
	return err != nil || n > 0
}
