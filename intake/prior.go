package intake

import (
	"context"
	"fmt"

	"github.com/secgate/secgate/store"
)

// priorQuery reads, in one statement, what a message's preparation needs
// of the messages stored before it: how many came from its sender within
// the rate window, counted only as far as the limit (a flood from one
// sender costs each of its messages the limit's worth of index entries,
// not the flood's), and the first earlier message with its Message-ID.
// Each part searches its own index (inbound_sender, inbound_message_id:
// TestPerReportQueryPlans) and is skipped when the message has no sender
// or no Message-ID.
const priorQuery = `SELECT
	CASE WHEN ?1 = '' THEN 0 ELSE (SELECT count(*) FROM
		(SELECT 1 FROM inbound WHERE sender = ?1 AND received >= ?2 AND id <= ?3 LIMIT ?4)) END,
	CASE WHEN ?5 = '' THEN 0 ELSE coalesce(
		(SELECT id FROM inbound WHERE message_id = ?5 AND id < ?3 ORDER BY id LIMIT 1), 0) END`

// readPrior sets m.rate and m.dupOf from the messages stored before m.
func (m *msgCtx) readPrior(ctx context.Context) error {
	since := store.Millis(m.now.Add(-m.p.o.Config.RateWindow))
	err := m.p.o.DB.Reader().QueryRowContext(ctx, priorQuery,
		m.insp.From, since, m.in.ID, m.p.o.Config.RateLimit+1, m.insp.MessageID).Scan(&m.rate, &m.dupOf)
	if err != nil {
		return fmt.Errorf("intake: rate count and Message-ID lookup of %d: %w", m.in.ID, err)
	}
	return nil
}
