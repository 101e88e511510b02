package main

import (
	"context"
	"database/sql"
	"os"
	"strings"
	"testing"

	"github.com/secgate/secgate/cases"
	"github.com/secgate/secgate/crypto"
	"github.com/secgate/secgate/distlist"
	"github.com/secgate/secgate/internal/clock"
	"github.com/secgate/secgate/store"
	"github.com/secgate/secgate/templates"
)

// TestShowSuspensionsApplicationsLeaks: list show names the suspended
// distributors and the applications waiting; case show counts the leaks
// recorded on the case and, with --text and the team key, shows them.
func TestShowSuspensionsApplicationsLeaks(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	cfg, err := LoadConfig(f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	team, err := crypto.LoadPrivateKey(cfg.TeamKey.Path, []byte(testPass))
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(ctx, cfg.Gateway.Database)
	if err != nil {
		t.Fatal(err)
	}
	d := distlist.NewDirectory(db, clock.NewFake(fixtureTime), nil)
	ob, err := distlist.NewOutbox(ctx, distlist.OutboxOptions{DB: db, Directory: d, TeamKey: team, Config: cfg.packageDistlist()})
	if err != nil {
		t.Fatal(err)
	}
	set, err := templates.Load("")
	if err != nil {
		t.Fatal(err)
	}
	w, err := cases.New(cases.Options{DB: db, Directory: d, Outbox: ob, TeamKey: team, TeamAddress: cfg.Gateway.Team, Templates: set,
		Clock: clock.NewFake(fixtureTime)})
	if err != nil {
		t.Fatal(err)
	}
	erin, err := os.ReadFile(f.keyFiles["Erin"])
	if err != nil {
		t.Fatal(err)
	}
	var ref string
	err = db.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := d.Suspend(ctx, tx, "dana@example.org", "told a journalist", f.fprs["Alice"]); err != nil {
			return err
		}
		if err := d.SetApplications(ctx, tx, "embargo", true, nil); err != nil {
			return err
		}
		res, err := w.ReceiveApplication(ctx, tx, cases.ApplicationMail{From: "erin@example.org", List: "embargo", Text: "We ship it.",
			Keys: [][]byte{erin}, Received: fixtureTime})
		if err != nil {
			return err
		}
		ref = res.Ref
		return w.RecordLeak(ctx, tx, f.caseID, f.fprs["Bob"], "LEAK-WHO", "LEAK-WHAT", "<l1@example.org>")
	})
	db.Close()
	if err != nil || ref == "" {
		t.Fatalf("setup: %q %v", ref, err)
	}
	for _, args := range [][]string{{"list", "show"}, {"list", "show", "embargo"}} {
		out := f.ok(t, false, args...)
		if !strings.Contains(out, "dana@example.org since") || !strings.Contains(out, "by Alice: told a journalist") ||
			!strings.Contains(out, ref+"  erin@example.org to embargo, key "+f.fprs["Erin"]) {
			t.Errorf("%s:\n%s", strings.Join(args, " "), out)
		}
	}
	if out := f.ok(t, false, "list", "show", "embargo"); !strings.Contains(out, "dana@example.org (SUSPENDED)") {
		t.Errorf("list show embargo does not mark the suspended distributor:\n%s", out)
	}
	var l listJSON
	decodeJSON(t, f.ok(t, false, "list", "show", "embargo", "--json"), &l)
	for _, r := range l.Recipients {
		if want := map[string]string{"dana@example.org": "told a journalist"}[r.Address]; r.Suspended != want {
			t.Errorf("JSON %s: suspended %q, want %q", r.Address, r.Suspended, want)
		}
	}
	out := f.ok(t, false, "case", "show", f.ref)
	if !strings.Contains(out, "1 leak recorded (encrypted; --text shows them)") || strings.Contains(out, "LEAK-WHAT") {
		t.Errorf("case show:\n%s", out)
	}
	out = f.ok(t, true, "case", "show", f.ref, "--text")
	if !strings.Contains(out, "who:  LEAK-WHO") || !strings.Contains(out, "what: LEAK-WHAT") || !strings.Contains(out, "by Bob") {
		t.Errorf("case show --text:\n%s", out)
	}
}
