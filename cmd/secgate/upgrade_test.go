package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/secgate/secgate/cases"
	"github.com/secgate/secgate/internal/clock"
	"github.com/secgate/secgate/store"
)

// TestUpgradeKeepsData opens a database an earlier secgate wrote (schema
// version 9, testdata/upgrade-v9/README.md) with the current code: the
// schema migrates, the case, its audit chain, its mail and its timeline are
// all there, and nothing already sent is sent again.
func TestUpgradeKeepsData(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(filepath.Join("testdata", "upgrade-v9"))); err != nil {
		t.Fatal(err)
	}
	cfg, err := loadConfig(filepath.Join(dir, "secgate.toml"))
	if err != nil {
		t.Fatal(err)
	}
	before, err := openRO(cfg.Gateway.Database)
	if err != nil {
		t.Fatal(err)
	}
	var version, rows, sent int
	var lastSent int64
	before.QueryRow(`PRAGMA user_version`).Scan(&version)
	before.QueryRow(`SELECT count(*), count(*) FILTER (WHERE state = 'sent'), max(finished) FROM outbox`).Scan(&rows, &sent, &lastSent)
	before.Close()
	if version != 9 || rows == 0 || rows != sent {
		t.Fatalf("the fixture is not what its README says: version %d, %d rows, %d sent", version, rows, sent)
	}

	key, err := loadTeamKey(cfg, os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	// The gateway restarts a minute after its last message went out.
	clk := clock.NewFake(store.Time(lastSent).Add(time.Minute))
	g, err := openGateway(ctx, cfg, gatewayOptions{TeamKey: key, Clock: clk})
	if err != nil {
		t.Fatalf("the current code does not open the old database: %v", err)
	}
	defer g.Close()
	var now int
	g.db.Reader().QueryRow(`PRAGMA user_version`).Scan(&now)
	if now <= 9 {
		t.Errorf("schema version %d after opening, want it migrated past 9", now)
	}
	list, err := g.workflow.List(ctx, cases.ListOptions{})
	if err != nil || len(list) != 1 {
		t.Fatalf("cases after the upgrade: %d, %v", len(list), err)
	}
	if err := g.workflow.VerifyAudit(ctx, list[0].ID); err != nil {
		t.Errorf("the audit chain of %s does not verify after the upgrade: %v", list[0].Ref, err)
	}
	if msgs, err := g.workflow.Messages(ctx, list[0].ID); err != nil || len(msgs) == 0 {
		t.Errorf("the case's messages do not decrypt after the upgrade: %d, %v", len(msgs), err)
	}
	// One restart's worth of work: the jobs due and the outbox.
	if n, err := g.sched.RunDue(ctx); err != nil || n != 0 {
		t.Errorf("the scheduler ran %d jobs (%v) that were already done", n, err)
	}
	if err := g.outbox.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	var after, afterSent int
	g.db.Reader().QueryRow(`SELECT count(*), count(*) FILTER (WHERE state = 'sent') FROM outbox`).Scan(&after, &afterSent)
	if after != rows || afterSent != sent {
		t.Errorf("outbox after the upgrade: %d rows, %d sent; before %d, %d: something was queued or sent again", after, afterSent, rows, sent)
	}
}
