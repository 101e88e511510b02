package intake

import (
	"strings"
	"time"

	"github.com/secgate/secgate/store"
)

// seenBeforeQuery returns the statement that looks up the first message
// that had one of the replay identities ids, and its sender (none: NULL),
// and counts, as casesTodayQuery does, the cases m's sender opened within
// 24 hours (0 when m has no sender). What it counts and finds is the same
// when a new report reads it later in its run: nothing between writes to
// the database. One statement rather than two for every encrypted
// message from outside the team; each part searches its own index
// (TestPerReportQueryPlans).
func (m *msgCtx) seenBeforeQuery(ids [][]byte) (string, []any) {
	args := make([]any, 0, len(ids)+5)
	today := "0"
	if m.insp.From != "" {
		today = "(" + casesTodayQuery + ")"
		args = append(args, m.insp.From, store.Millis(m.now.Add(-24*time.Hour)), ClassReport, m.in.ID)
	}
	for _, id := range ids {
		args = append(args, id)
	}
	args = append(args, m.in.ID)
	return `SELECT ` + today + `, c.inbound_id, c.sender FROM (SELECT 1) LEFT JOIN
		(SELECT inbound_id, sender FROM inbound_cipher WHERE sha256 IN (?` + strings.Repeat(", ?", len(ids)-1) +
		`) AND inbound_id != ? ORDER BY inbound_id LIMIT 1) c`, args
}
