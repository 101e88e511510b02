package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/secgate/secgate/distlist/smtpsink"
	"github.com/secgate/secgate/store"
)

// TestGenerateHistory: the generated years hold the numbers asked for,
// references and Message-IDs of their own, the open cases' jobs in the
// future and no mail waiting, counters that agree with the rows, and an
// audit log that `secgate audit verify` accepts; `secgate case show`
// opens a generated case's sealed report with the team key.
func TestGenerateHistory(t *testing.T) {
	if testing.Short() {
		t.Skip("runs reports through the gateway (a few seconds)")
	}
	ctx := context.Background()
	b := &bench{o: benchOptions{N: 5, Algos: []string{"x25519"}, RSAKeys: 1, Parallel: 4}, log: slog.New(slog.DiscardHandler),
		progress: io.Discard, start: time.Now(), dir: t.TempDir()}
	var err error
	if b.imap, err = startBenchIMAP(benchTeam, benchHistoryUser); err != nil {
		t.Fatal(err)
	}
	defer b.imap.Close()
	if b.sink, err = smtpsink.Start(smtpsink.Options{User: benchTeam, Password: benchPassword}); err != nil {
		t.Fatal(err)
	}
	defer b.sink.Close()
	cfgPath, err := b.setup(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	histPath, err := historyConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	sizes := historySizes{Cases: 90, Outbox: 4000, Inbound: 700, Open: 9, Years: 3}
	st, err := b.historyDatabase(ctx, histPath, sizes)
	if err != nil {
		t.Fatal(err)
	}
	if st.Templates != historyTemplateReports || st.Cases != 90 || st.Outbox != 4000 || st.Inbound != 700 || st.Audit == 0 || st.Bytes == 0 {
		t.Errorf("generated %+v", st)
	}

	db, err := store.Open(ctx, filepath.Join(b.dir, "history.db"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		what  string
		query string
		want  int
	}{
		{"cases", `SELECT count(*) FROM cases`, 90},
		{"open cases added", `SELECT count(*) FROM cases WHERE id > ? AND state NOT IN ('closed', 'wontfix', 'invalid')`, 9},
		{"cases in earlier years", `SELECT count(DISTINCT year) > 2 FROM cases`, 1},
		{"distinct references", `SELECT count(DISTINCT ref) FROM cases`, 90},
		{"outbox rows of generated cases", `SELECT count(*) FROM outbox WHERE case_id > ?`, 4000},
		{"outbox rows without their bytes", `SELECT count(*) FROM outbox o WHERE NOT EXISTS (SELECT 1 FROM outbox_message m WHERE m.outbox_id = o.id)`, 0},
		{"outbox rows waiting", `SELECT count(*) FROM outbox WHERE state IN ('queued', 'sending', 'deferred')`, 0},
		{"bounced or failed rows", `SELECT count(*) > 40 FROM outbox WHERE state IN ('bounced', 'failed')`, 1},
		{"inbound messages of generated cases", `SELECT count(*) FROM inbound WHERE case_id > ?`, 700},
		{"inbound messages without their bytes", `SELECT count(*) FROM inbound i WHERE NOT EXISTS (SELECT 1 FROM inbound_raw r WHERE r.inbound_id = i.id)`, 0},
		{"pending jobs due before now", `SELECT count(*) FROM schedule_job WHERE state = 'pending' AND due <= ?`, 0},
		{"pending jobs of the open copies", `SELECT count(DISTINCT case_id) FROM schedule_job WHERE state = 'pending' AND case_id > ?`, 9},
		{"outbox counters off", `SELECT count(*) FROM (SELECT state, count(*) AS n FROM outbox GROUP BY state) r
			LEFT JOIN outbox_count c USING (state) WHERE c.n IS NOT r.n`, 0},
		{"inbound counters off", `SELECT count(*) FROM (SELECT state, class, count(*) AS n FROM inbound GROUP BY state, class) r
			LEFT JOIN inbound_count c USING (state, class) WHERE c.n IS NOT r.n`, 0},
	} {
		var arg any = int64(historyTemplateReports)
		if strings.Contains(c.query, "due <=") {
			arg = store.Millis(time.Now())
		}
		var n int
		if err := db.Reader().QueryRowContext(ctx, c.query, arg).Scan(&n); err != nil {
			t.Fatalf("%s: %v", c.what, err)
		}
		if n != c.want {
			t.Errorf("%s: %d, want %d", c.what, n, c.want)
		}
	}
	var ref string
	if err := db.Reader().QueryRowContext(ctx, `SELECT ref FROM cases ORDER BY received LIMIT 1`).Scan(&ref); err != nil {
		t.Fatal(err)
	}
	db.Close()

	if code, out, errOut := runCLI(t, nil, "audit", "verify", "-config", histPath); code != 0 {
		t.Errorf("audit verify: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut := runCLI(t, nil, "case", "show", "-text", "-config", histPath, ref)
	if code != 0 || !strings.Contains(out, "the webhook endpoint returns other") || !strings.Contains(out, "audit log:   verified") {
		t.Errorf("case show %s: exit %d\n%s%s", ref, code, out, errOut)
	}
}

// TestBenchHistory runs secgate bench -history at a small size, to keep
// the path of the full run working: every figure of both databases is
// there and the goals are judged. Five rounds: every burst sends from
// addresses of its own, where the fifth from the templates' addresses was
// held by new_cases_per_day; each round's intake is traced
// (-history-trace).
func TestBenchHistory(t *testing.T) {
	if testing.Short() {
		t.Skip("runs secgate bench -history at a small size (about 30 s)")
	}
	traces := filepath.Join(t.TempDir(), "t")
	code, stdout, stderr := runCLI(t, map[string]string{"TMPDIR": os.TempDir()}, "bench", "-history", "-history-cases", "200",
		"-history-outbox", "5000", "-history-inbound", "1000", "-reports", "20", "-rounds", "5", "-n", "5", "-history-trace", traces, "--json")
	if code != 0 {
		t.Fatalf("bench -history: exit %d\n%s", code, stderr)
	}
	var r historyResult
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatalf("bench -history --json: %v\n%s", err, stdout)
	}
	if g := r.Generated; g.Cases != 200 || g.Outbox != 5000 || g.Inbound != 1000 || g.Bytes <= 0 || r.PerCase != g.Bytes/200 {
		t.Errorf("generated %+v, %d bytes a case", g, r.PerCase)
	}
	for name, f := range map[string]historyFigures{"empty": r.Empty, "years": r.History} {
		if f.Startup <= 0 || f.List <= 0 || f.ListOpen <= 0 || f.ListState <= 0 || f.ShowOld <= 0 || f.ShowBusy <= 0 ||
			f.Tick <= 0 || f.Checks <= 0 || f.Intake <= 0 || f.IntakeCPU <= 0 || f.OldRef == "" || f.BusyRef == "" {
			t.Errorf("%s: %+v", name, f)
		}
	}
	if r.History.Cases != 200+5*20 || r.Empty.Cases != 5*20 {
		t.Errorf("cases after the intakes: %d and %d, want 300 and 100", r.History.Cases, r.Empty.Cases)
	}
	for _, which := range []string{"empty", "years"} {
		for round := 1; round <= 5; round++ {
			if fi, err := os.Stat(fmt.Sprintf("%s-%s-%d.trace", traces, which, round)); err != nil || fi.Size() == 0 {
				t.Errorf("the trace of round %d, %s: %v", round, which, err)
			}
		}
	}
	if len(r.Goals) != 5 {
		t.Errorf("goals: %+v", r.Goals)
	}
}
