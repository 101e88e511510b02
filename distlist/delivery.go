package distlist

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/secgate/secgate/store"
)

// Outcomes of a row beyond its state: a failed row whose reply starts
// "missed:" (its disclosure time passed first) or "withdrawn:" (its plan
// changed or ended) never reached a server.
const (
	OutcomeMissed    = "missed"
	OutcomeWithdrawn = "withdrawn"
)

// Delivery is an outbox row as a case's timeline tells it.
type Delivery struct {
	Row
	// Outcome is the row's state, or OutcomeMissed or OutcomeWithdrawn
	// for a failed row that never went out.
	Outcome string
	// Sent is when the server accepted the message (250), also for a row
	// a DSN bounced later; zero when no server ever did.
	Sent time.Time
}

// At is the time of the delivery's outcome: when it was sent, when it
// ended (failed, missed, withdrawn, bounced), its last attempt while it is
// still to be sent, or when it was queued if it was never tried.
func (d Delivery) At() time.Time {
	switch d.Outcome {
	case StateSent:
		if !d.Sent.IsZero() {
			return d.Sent
		}
	case StateQueued, StateSending, StateDeferred:
		if !d.LastAttempt.IsZero() {
			return d.LastAttempt
		}
		return d.Created
	}
	for _, t := range []time.Time{d.Finished, d.LastAttempt} {
		if !t.IsZero() {
			return t
		}
	}
	return d.Created
}

// rowOutcome names how row r ended, or where it stands.
func rowOutcome(r Row) string {
	if r.State == StateFailed {
		for _, o := range []string{OutcomeMissed, OutcomeWithdrawn} {
			if strings.HasPrefix(r.LastReply, o+":") {
				return o
			}
		}
	}
	return r.State
}

// CaseDeliveries returns every outbox row of case caseID, oldest first,
// with its outcome and when a server accepted it. It only reads.
func CaseDeliveries(ctx context.Context, db *store.DB, caseID int64) ([]Delivery, error) {
	rows, err := db.Reader().QueryContext(ctx, `SELECT `+rowCols+`,
		(SELECT coalesce(max(a.finished), 0) FROM outbox_attempt a WHERE a.outbox_id = outbox.id AND a.outcome = 'sent')
		FROM outbox WHERE case_id = ? ORDER BY id`, caseID)
	if err != nil {
		return nil, fmt.Errorf("distlist: deliveries of case %d: %w", caseID, err)
	}
	defer rows.Close()
	var out []Delivery
	for rows.Next() {
		var sent int64
		r, err := scanRow(scanWith{rows, &sent})
		if err != nil {
			return nil, fmt.Errorf("distlist: deliveries of case %d: %w", caseID, err)
		}
		d := Delivery{Row: r, Outcome: rowOutcome(r), Sent: store.Time(sent)}
		if d.Sent.IsZero() && r.State == StateSent {
			d.Sent = r.Finished
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// scanWith scans the columns scanRow reads, then extra.
type scanWith struct {
	sc    interface{ Scan(...any) error }
	extra any
}

func (s scanWith) Scan(dest ...any) error { return s.sc.Scan(append(dest, s.extra)...) }
