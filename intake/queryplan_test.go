package intake

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/secgate/secgate/store"
)

// TestPerReportQueryPlans: the statements run for every new report search
// an index on what they look for, never one that grows with every report
// of the day (a burst of reports from many senders would cost each report
// in proportion to those before it).
func TestPerReportQueryPlans(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "plan.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	seen := &msgCtx{insp: &Inspection{From: "rita@example.org"}, in: &Inbound{ID: 3}}
	seenQuery, seenArgs := seen.seenBeforeQuery([][]byte{[]byte("session key"), []byte("plaintext")})
	tests := []struct {
		name, query string
		args        []any
		want        string
		not         string
	}{
		{"cases opened today", casesTodayQuery, []any{"rita@example.org", 0, ClassReport, 1}, "USING INDEX inbound_sender (sender=? AND received>?)", "inbound_class_received"},
		{"replay identities", seenQuery, seenArgs, "SEARCH inbound_cipher USING INDEX sqlite_autoindex_inbound_cipher_1 (sha256=?)", "SCAN inbound_cipher"},
		{"cases opened today, with the replay identities", seenQuery, seenArgs, "USING INDEX inbound_sender (sender=? AND received>?)", "inbound_class_received"},
		{"rate count", priorQuery, []any{"rita@example.org", 0, 1, 11, "m@example.org"}, "USING COVERING INDEX inbound_sender (sender=? AND received>?)", "SCAN inbound"},
		{"Message-ID seen before", priorQuery, []any{"rita@example.org", 0, 1, 11, "m@example.org"}, "USING COVERING INDEX inbound_message_id (message_id=? AND rowid<?)", "SCAN inbound"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan, err := store.QueryPlan(ctx, db.Reader(), tt.query, tt.args...)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(plan, tt.want) || tt.not != "" && strings.Contains(plan, tt.not) {
				t.Errorf("plan %q: want %q, not %q", plan, tt.want, tt.not)
			}
		})
	}
}
