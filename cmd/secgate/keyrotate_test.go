package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/secgate/secgate/crypto"
	"github.com/secgate/secgate/intake"
	"github.com/secgate/secgate/internal/gpgtest"
	"github.com/secgate/secgate/store"
)

// TestKeyRotation: secgate key rotate makes a new team key and a
// statement gpg verifies with both keys; the team and every distributor
// with a usable key get it, encrypted and signed by the new key (gpg, as a
// distributor, decrypts it and finds the new key attached); what was
// stored before stays readable and the audit log still verifies; mail
// encrypted to the old key opens during the overlap and, after secgate
// key retire, is a wrong-key message; a rotation cut off before the new
// key took its file's place stops serve with one line until key rotate
// finishes it.
func TestKeyRotation(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	g := gpgtest.New(t)
	gabe := g.GenKey("Gabe <gabe@example.org>", "ed25519")
	keyFile := filepath.Join(f.dir, "gabe.asc")
	if err := os.WriteFile(keyFile, g.Export(gabe), 0o600); err != nil {
		t.Fatal(err)
	}
	f.ok(t, false, "list", "add", "embargo", "gabe@example.org", "-key", keyFile)
	oldFpr := f.fprs["team"]
	cfg, err := LoadConfig(f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	oldKey, err := crypto.LoadPrivateKey(cfg.TeamKey.Path, []byte(testPass))
	if err != nil {
		t.Fatal(err)
	}
	// A report encrypted by gpg to the old key, before the rotation.
	oldArmored, _ := oldKey.ArmorPublic()
	g.Import([]byte(oldArmored))
	toOld := reportMail(t, g, oldFpr)

	out := f.ok(t, true, "key", "rotate")
	if !strings.Contains(out, "team key rotated: "+oldFpr+" -> ") || !strings.Contains(out, "not told (no usable key): olga@example.org") {
		t.Fatalf("key rotate:\n%s", out)
	}
	team, err := loadTeamKey(cfg, func(string) string { return testPass })
	if err != nil {
		t.Fatal(err)
	}
	newFpr := team.Fingerprint()
	if newFpr == oldFpr || strings.Join(team.Previous(), ",") != oldFpr {
		t.Fatalf("team key %s, previous %v", newFpr, team.Previous())
	}

	// The statement: two good signatures, the old key's and the new one's.
	newArmored, _ := team.ArmorPublic()
	g.Import([]byte(newArmored))
	st := filepath.Join(cfg.Gateway.DataDir, "key-transition-"+oldFpr+".asc")
	r := g.Run(nil, "--verify", st)
	if r.Err != nil || strings.Count(strings.Join(r.Status, "\n"), "VALIDSIG") != 2 ||
		!strings.Contains(strings.Join(r.Status, "\n"), oldFpr) || !strings.Contains(strings.Join(r.Status, "\n"), newFpr) {
		t.Fatalf("gpg --verify %s: %v %v", st, r.Err, r.Status)
	}

	// The announcement: to the team and the distributors with a key.
	db, err := store.Open(ctx, cfg.Gateway.Database)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Reader().QueryContext(ctx, `SELECT o.recipient, m.raw FROM outbox o JOIN outbox_message m ON m.outbox_id = o.id
		WHERE o.kind = 'key-transition' ORDER BY o.recipient`)
	if err != nil {
		t.Fatal(err)
	}
	var told []string
	var gabeMail []byte
	for rows.Next() {
		var rcpt string
		var raw []byte
		rows.Scan(&rcpt, &raw)
		told = append(told, rcpt)
		if rcpt == "gabe@example.org" {
			gabeMail = raw
		}
	}
	rows.Close()
	if strings.Join(told, " ") != "alice@example.org bob@example.org dana@example.org gabe@example.org" {
		t.Errorf("told %v", told)
	}
	if signer := gpgSigner(t, g, gabeMail); signer != newFpr {
		t.Errorf("Gabe's announcement is signed by %q, want the new key %s", signer, newFpr)
	}
	if res := gpgOpenMail(t, g, gabeMail); !strings.Contains(string(res.Stdout), newFpr+".asc") {
		t.Errorf("the announcement lacks the new key:\n%.600s", res.Stdout)
	}

	// What was stored before: the case's text, and the audit log.
	if out := f.ok(t, true, "case", "show", f.ref, "-text"); !strings.Contains(out, "SECRET-REPORT-TEXT") {
		t.Errorf("case show -text after the rotation:\n%s", out)
	}
	f.ok(t, false, "audit", "verify")

	// Mail to the old key opens during the overlap, not after retire.
	opener := &intake.CryptoOpener{TeamKey: team.WithPrevious(), Previous: inboundPrevious(ctx, db, team)}
	if _, err := opener.Open(ctx, toOld, nil, nil, time.Now()); err != nil {
		t.Fatalf("mail to the old key during the overlap: %v", err)
	}
	if _, err := opener.Open(ctx, toOld, nil, nil, time.Now().Add(defaultOverlap+time.Hour)); !errors.Is(err, intake.ErrWrongKey) {
		t.Errorf("mail to the old key after the overlap: %v", err)
	}
	if out := f.ok(t, false, "key", "retire"); !strings.Contains(out, "retired "+oldFpr) {
		t.Errorf("key retire:\n%s", out)
	}
	if _, err := opener.Open(ctx, toOld, nil, nil, time.Now()); !errors.Is(err, intake.ErrWrongKey) {
		t.Errorf("mail to the old key after key retire: %v", err)
	}

	// A rotation cut off before its last step.
	locked, err := os.ReadFile(cfg.TeamKey.Path)
	if err != nil {
		t.Fatal(err)
	}
	oldLocked, err := os.ReadFile(filepath.Join(cfg.previousKeyDir(), oldFpr+".asc"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(cfg.TeamKey.Path+".new", locked, 0o600)
	os.WriteFile(cfg.TeamKey.Path, oldLocked, 0o600)
	back, err := loadTeamKey(cfg, func(string) string { return testPass })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := openGateway(ctx, cfg, gatewayOptions{TeamKey: back}); err == nil || !strings.Contains(err.Error(), "run secgate key rotate again to finish") {
		t.Fatalf("serve with the rotated-out key: %v", err)
	}
	if out := f.ok(t, true, "key", "rotate"); !strings.Contains(out, "finished the rotation") {
		t.Fatalf("key rotate to finish:\n%s", out)
	}
	if k, err := loadTeamKey(cfg, func(string) string { return testPass }); err != nil || k.Fingerprint() != newFpr {
		t.Fatalf("after finishing: %v %v", k, err)
	}
}

// reportMail is a report Rita's gpg encrypts to fpr, as PGP/MIME.
func reportMail(t *testing.T, g *gpgtest.GPG, fpr string) []byte {
	t.Helper()
	r := g.Run([]byte("Content-Type: text/plain\r\n\r\nreport to the old key\r\n"), "--armor", "--encrypt", "--recipient", fpr)
	if r.Err != nil {
		t.Fatalf("gpg encrypt: %v %s", r.Err, r.Stderr)
	}
	return gpgtest.CRLF([]byte("From: rita@example.net\nTo: security@example.org\nSubject: report\nMessage-ID: <old@example.net>\n" +
		"MIME-Version: 1.0\nContent-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=\"b\"\n\n" +
		"--b\nContent-Type: application/pgp-encrypted\n\nVersion: 1\n\n--b\nContent-Type: application/octet-stream\n\n" +
		string(r.Stdout) + "\n--b--\n"))
}
