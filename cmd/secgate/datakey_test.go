package main

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/secgate/secgate/cases"
	"github.com/secgate/secgate/crypto"
	"github.com/secgate/secgate/store"
)

// TestDataKeyRotation: the gateway's first start makes a data key wrapped
// to the team key and seals new data with it; what was stored before
// (sealed to the team key) still opens; after secgate key rotate the next
// start wraps the old data key to the new team key and makes a new one,
// and data sealed before and after the rotation opens through the
// gateway and `case show`. The database alone, or with the wrong
// passphrase, reads nothing: neither a data key nor a stored text is in
// it in clear.
func TestDataKeyRotation(t *testing.T) {
	f := newFixture(t) // its case's report was sealed to the team key
	ctx := context.Background()
	var err error
	cfg, _ := f.gatewayConfig(t)
	pass := func(string) string { return testPass }

	// addNote stores a follow-up through the gateway's workflow, as
	// intake does, and returns the team key the gateway runs with.
	addNote := func(text string) *crypto.Key {
		t.Helper()
		team, err := loadTeamKey(cfg, pass)
		if err != nil {
			t.Fatal(err)
		}
		g, err := openGateway(ctx, cfg, gatewayOptions{TeamKey: team})
		if err != nil {
			t.Fatal(err)
		}
		defer g.Close()
		err = g.db.Tx(ctx, func(tx *sql.Tx) error {
			return g.workflow.AddMessage(ctx, tx, f.caseID, cases.Message{Kind: cases.KindNote, Author: f.fprs["Alice"], Text: text})
		})
		if err != nil {
			t.Fatal(err)
		}
		return g.teamKey
	}
	first := addNote("NOTE-SEALED-WITH-DATA-KEY-1")
	if id, ok := first.SealsWithDataKey(); !ok || id != 1 {
		t.Fatalf("first start seals with data key %d, %v; want 1", id, ok)
	}

	f.ok(t, true, "key", "rotate")
	second := addNote("NOTE-SEALED-WITH-DATA-KEY-2")
	if id, ok := second.SealsWithDataKey(); !ok || id != 2 {
		t.Fatalf("after the rotation the gateway seals with data key %d, %v; want 2", id, ok)
	}

	db, err := store.Open(ctx, cfg.Gateway.Database)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := readDataKeys(ctx, db.Reader())
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	oldFpr, newFpr := f.fprs["team"], second.Fingerprint()
	if len(stored) != 2 || stored[0].team != oldFpr || stored[1].team != newFpr ||
		len(stored[0].wraps) != 2 || stored[0].wraps[newFpr] == nil || len(stored[1].wraps) != 1 {
		t.Fatalf("stored data keys: %+v", stored)
	}
	// The old team key alone, should it leak, opens the first data key
	// but not the one made after the rotation.
	oldKey, err := crypto.LoadPrivateKey(cfg.previousKeyDir()+"/"+oldFpr+".asc", []byte(testPass))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := oldKey.UnwrapDataKey(stored[0].id, stored[0].wraps[oldFpr]); err != nil {
		t.Fatalf("the old key does not open its own data key: %v", err)
	}
	if _, err := oldKey.UnwrapDataKey(stored[1].id, stored[1].wraps[newFpr]); err == nil {
		t.Fatal("the old team key opened the data key made after the rotation")
	}

	out := f.ok(t, true, "case", "show", f.ref, "-text")
	for _, want := range []string{"SECRET-REPORT-TEXT", "NOTE-SEALED-WITH-DATA-KEY-1", "NOTE-SEALED-WITH-DATA-KEY-2"} {
		if !strings.Contains(out, want) {
			t.Errorf("case show -text lacks %s:\n%s", want, out)
		}
	}
	f.env["SECGATE_PASSPHRASE"] = "not the passphrase"
	if code, stdout, _ := f.run(t, "case", "show", f.ref, "-text"); code == 0 || strings.Contains(stdout, "NOTE-SEALED") {
		t.Errorf("case show -text with a wrong passphrase: exit %d\n%s", code, stdout)
	}
	if out := f.ok(t, false, "case", "show", f.ref); strings.Contains(out, "NOTE-SEALED") || strings.Contains(out, "SECRET-REPORT") {
		t.Errorf("case show without the passphrase shows the texts:\n%s", out)
	}
	// The database alone: neither a text nor a data key in clear (the
	// wrapped keys open only with a private team key, crypto's
	// TestDataKeyWrap).
	var file []byte
	for _, p := range []string{cfg.Gateway.Database, cfg.Gateway.Database + "-wal"} {
		b, err := os.ReadFile(p)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		file = append(file, b...)
	}
	for _, secret := range []string{"SECRET-REPORT-TEXT", "NOTE-SEALED-WITH-DATA-KEY"} {
		if bytes.Contains(file, []byte(secret)) {
			t.Errorf("the database holds %q in clear", secret)
		}
	}
	if _, err := second.Public().UnwrapDataKey(stored[1].id, stored[1].wraps[newFpr]); err == nil {
		t.Error("the public team key unwrapped a data key")
	}
}

// TestDataKeyPlanted: someone who can write the database but holds no
// team key plants a data key of their own, wrapped to the team's public
// key (which anyone has), as the newest for the team key, hoping the
// gateway seals what it stores next with a key they know. The gateway
// refuses to start: a data key counts only when the team key signed it
// (the wrap holds the key and the team key's signature, naming the team
// key it was made for).
func TestDataKeyPlanted(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	cfg, _ := f.gatewayConfig(t)
	team, err := loadTeamKey(cfg, func(string) string { return testPass })
	if err != nil {
		t.Fatal(err)
	}
	g, err := openGateway(ctx, cfg, gatewayOptions{TeamKey: team})
	if err != nil {
		t.Fatal(err)
	}
	g.Close()

	mallory, err := crypto.GenerateKey("Mallory", "mallory@example.net", crypto.GenerateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	key := bytes.Repeat([]byte{0x42}, 32)
	for _, tt := range []struct {
		name   string
		raw    bool        // the bare key, as data keys were first wrapped
		signer *crypto.Key // nil: no signature at all
	}{{"bare key", true, nil}, {"unsigned", false, nil}, {"signed by another key", false, mallory}} {
		t.Run(tt.name, func(t *testing.T) {
			text := fmt.Sprintf("secgate data key\nid: 9\nmade for: %s\nkey: %x\n", team.Fingerprint(), key)
			payload := text
			if tt.raw {
				payload = string(key)
			}
			if tt.signer != nil {
				sig, err := tt.signer.SignDetached([]byte(text), time.Now())
				if err != nil {
					t.Fatal(err)
				}
				payload += sig
			}
			wrapped, err := team.Public().EncryptAtRest([]byte(payload))
			if err != nil {
				t.Fatal(err)
			}
			db, err := store.Open(ctx, cfg.Gateway.Database)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			err = db.Tx(ctx, func(tx *sql.Tx) error {
				if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO data_key (id, team, created) VALUES (9, ?, 0)`, team.Fingerprint()); err != nil {
					return err
				}
				_, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO data_key_wrap (key_id, fingerprint, wrapped, created) VALUES (9, ?, ?, 0)`, team.Fingerprint(), wrapped)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			g, err := openGateway(ctx, cfg, gatewayOptions{TeamKey: team})
			if err == nil {
				id, _ := g.teamKey.SealsWithDataKey()
				g.Close()
				t.Fatalf("the gateway started with a planted data key (it seals with data key %d)", id)
			}
			if !strings.Contains(err.Error(), "data key 9") {
				t.Errorf("error %q does not name the planted data key", err)
			}
		})
	}
}
