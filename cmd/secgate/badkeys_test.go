package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/secgate/secgate/distlist"
	"github.com/secgate/secgate/store"
)

// Kinds of public keys written by keyFile.
const (
	keyOK            = "ok"             // valid, does not expire
	keyAllExpired    = "expired"        // primary key and subkey expired a year ago
	keySubExpired    = "subkey-expired" // primary valid forever, its one encryption subkey expired yesterday
	keyRevokedByUser = "revoked"        // revoked by its holder
	keyNoEncryption  = "sign-only"      // no encryption subkey at all
)

// keyFile writes the armored public key of a new key for email of kind to
// dir/NAME.asc and returns the path and the entity (with its private keys,
// to renew it).
func keyFile(t *testing.T, dir, email, kind string) (string, *openpgp.Entity) {
	t.Helper()
	now := time.Now()
	created := now.Add(-72 * time.Hour)
	var life time.Duration
	if kind == keyAllExpired {
		created, life = now.AddDate(-2, 0, 0), 365*24*time.Hour
	}
	at := func(tm time.Time, life time.Duration) *packet.Config {
		return &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA, Time: func() time.Time { return tm }, KeyLifetimeSecs: uint32(life / time.Second)}
	}
	e, err := openpgp.NewEntity(strings.Split(email, "@")[0], "", email, at(created, life))
	if err != nil {
		t.Fatal(err)
	}
	switch kind {
	case keySubExpired:
		e.Subkeys = nil
		err = e.AddEncryptionSubkey(at(created, 48*time.Hour))
	case keyNoEncryption:
		e.Subkeys = nil
	case keyRevokedByUser:
		err = e.RevokeKey(packet.KeyCompromised, "lost laptop", at(now.Add(-time.Hour), 0))
	}
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, strings.Split(email, "@")[0]+".asc")
	writePublic(t, path, e)
	return path, e
}

func writePublic(t *testing.T, path string, e *openpgp.Entity) {
	t.Helper()
	var buf bytes.Buffer
	w, err := armor.Encode(&buf, openpgp.PublicKeyType, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Serialize(w); err != nil {
		t.Fatal(err)
	}
	w.Close()
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestConfigCheckWarnsAboutKeys: config check reads the key files serve
// loads. A key that cannot be used is a warning, one line per key with the
// reason, and the check passes (serve starts); a key file serve refuses is
// a problem.
func TestConfigCheckWarnsAboutKeys(t *testing.T) {
	dir, cfgPath, _ := initDir(t)
	for _, f := range []string{"imap.pass", "smtp.pass"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("pw\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range []struct{ email, kind string }{
		{"alice@example.org", keyOK}, {"carol@example.org", keyRevokedByUser},
		{"dana@example.org", keyOK}, {"olga@example.org", keyAllExpired}, {"sam@example.org", keySubExpired},
		{"sig@example.org", keyNoEncryption},
	} {
		keyFile(t, dir, k.email, k.kind)
	}
	base, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	extra := `
[[distlist.member]]
name = "Alice"
address = "alice@example.org"
key_file = "alice.asc"
role = "lead"

[[distlist.member]]
name = "Carol"
address = "carol@example.org"
key_file = "carol.asc"

[[distlist.list]]
name = "embargo"
kind = "embargo"

[[distlist.list.recipient]]
address = "dana@example.org"
key_file = "dana.asc"

[[distlist.list.recipient]]
address = "olga@example.org"
key_file = "olga.asc"

[[distlist.list.recipient]]
address = "sam@example.org"
key_file = "sam.asc"

[[distlist.list.recipient]]
address = "sig@example.org"
key_file = "sig.asc"

[[distlist.list]]
name = "announce"
kind = "public"
`
	if err := os.WriteFile(cfgPath, append(base, extra...), 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"SECGATE_PASSPHRASE": testPass}
	code, out, stderr := runCLI(t, env, "config", "check", "-config", cfgPath)
	if code != 0 || !strings.Contains(out, "OK (team key ") {
		t.Fatalf("config check: exit %d, stdout %q, stderr %q; want OK", code, out, stderr)
	}
	want := map[string]string{
		"member carol@example.org":       "is revoked",
		"list embargo: olga@example.org": "has expired",
		"list embargo: sam@example.org":  "has no usable encryption subkey",
		"list embargo: sig@example.org":  "has no usable encryption subkey",
	}
	var warnings []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "warning: ") {
			warnings = append(warnings, l)
		}
	}
	if len(warnings) != len(want) {
		t.Errorf("%d warnings, want %d:\n%s", len(warnings), len(want), out)
	}
	for holder, why := range want {
		n := 0
		for _, w := range warnings {
			if strings.Contains(w, holder+":") {
				n++
				if !strings.Contains(w, why) || !strings.Contains(w, "gets nothing encrypted") {
					t.Errorf("warning about %s does not say %q: %s", holder, why, w)
				}
			}
		}
		if n != 1 {
			t.Errorf("%d warnings about %s, want 1:\n%s", n, holder, out)
		}
	}
	var res checkResult
	code, out, _ = runCLI(t, env, "config", "check", "-config", cfgPath, "--json")
	decodeJSON(t, out, &res)
	if code != 0 || !res.OK || len(res.Warnings) != len(want) || len(res.Problems) != 0 {
		t.Errorf("config check --json: exit %d, %+v", code, res)
	}

	// A key file serve would refuse is a problem, named by its entry.
	bad := strings.Replace(extra, `key_file = "dana.asc"`, `key_file = "missing.asc"`, 1)
	bad = strings.Replace(bad, `key_file = "alice.asc"`, `key_file = "dana.asc"`, 1)
	if err := os.WriteFile(cfgPath, append(base, bad...), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, stderr = runCLI(t, env, "config", "check", "-config", cfgPath)
	if code != 1 || !strings.Contains(stderr, "2 problems") ||
		!strings.Contains(out, "member alice@example.org (dana.asc)") || !strings.Contains(out, "not among the key's user IDs") ||
		!strings.Contains(out, "list embargo: dana@example.org: key of dana@example.org") {
		t.Errorf("config check with refused key files: exit %d, stdout:\n%s\nstderr %q", code, out, stderr)
	}
}

// TestListAddUnusableKey: list add and key import -list record a key that
// cannot be used, with a warning, so that it can be replaced later; list
// show names the entry with the reason; importing a usable key (the same
// key renewed, or a new one) makes the entry usable.
func TestListAddUnusableKey(t *testing.T) {
	f := newFixture(t)
	dir := t.TempDir()
	sam, samKey := keyFile(t, dir, "sam@example.org", keySubExpired)
	sig, _ := keyFile(t, dir, "sig@example.org", keyNoEncryption)
	rev, _ := keyFile(t, dir, "rev@example.org", keyRevokedByUser)

	code, out, stderr := f.runNoKey(t, "list", "add", "embargo", "sam@example.org", "-key", sam)
	if code != 0 || !strings.Contains(out, "added sam@example.org to list embargo") ||
		!strings.Contains(stderr, "warning: ") || !strings.Contains(stderr, "no usable encryption subkey") ||
		!strings.Contains(stderr, "sam@example.org is on list embargo but gets nothing encrypted (no encryption subkey)") {
		t.Errorf("list add with an expired subkey: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
	code, out, stderr = f.runNoKey(t, "key", "import", sig, "-list", "embargo", "-address", "sig@example.org")
	if code != 0 || !strings.Contains(out, "sig@example.org is on list embargo") || !strings.Contains(stderr, "sig@example.org is on list embargo but gets nothing encrypted") {
		t.Errorf("key import -list of a key without encryption subkey: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
	var res map[string]any
	code, out, _ = f.runNoKey(t, "list", "add", "embargo", "rev@example.org", "-key", rev, "--json")
	decodeJSON(t, out, &res)
	if code != 0 || res["key_problem"] != "revoked" {
		t.Errorf("list add --json of a revoked key: exit %d, %v", code, res)
	}

	show := func() map[string]string {
		t.Helper()
		var l listJSON
		decodeJSON(t, f.ok(t, false, "list", "show", "embargo", "--json"), &l)
		got := map[string]string{}
		for _, r := range l.Recipients {
			got[r.Address] = r.KeyProblem
		}
		return got
	}
	want := map[string]string{"dana@example.org": "", "olga@example.org": "expired", "sam@example.org": "no encryption subkey",
		"sig@example.org": "no encryption subkey", "rev@example.org": "revoked"}
	if got := show(); !sameMap(got, want) {
		t.Errorf("list show embargo: %v, want %v", got, want)
	}
	out = f.ok(t, false, "list", "show", "embargo")
	if !strings.Contains(out, "(no encryption subkey)") || !strings.Contains(out, "(revoked)") {
		t.Errorf("list show embargo:\n%s", out)
	}
	// The overview names every member and entry that gets nothing.
	carol, _ := keyFile(t, dir, "carol@example.org", keyRevokedByUser)
	addMember(t, f, "carol@example.org", carol)
	out = f.ok(t, false, "list", "show")
	for _, w := range []string{"member carol@example.org: revoked", "list embargo: olga@example.org: expired", "list embargo: sam@example.org: no encryption subkey",
		"list embargo: rev@example.org: revoked"} {
		if !strings.Contains(out, w) {
			t.Errorf("list show lacks %q:\n%s", w, out)
		}
	}

	// The holder renews the key: the same fingerprint, a new subkey.
	if err := samKey.AddEncryptionSubkey(&packet.Config{Algorithm: packet.PubKeyAlgoEdDSA, Time: func() time.Time { return time.Now().Add(-time.Minute) }}); err != nil {
		t.Fatal(err)
	}
	renewed := filepath.Join(dir, "sam-renewed.asc")
	writePublic(t, renewed, samKey)
	if out := f.ok(t, false, "key", "import", renewed); !strings.Contains(out, "status ok") {
		t.Errorf("import of the renewed key: %q", out)
	}
	want["sam@example.org"] = ""
	// A new key replaces the one without an encryption subkey.
	other, _ := keyFile(t, t.TempDir(), "sig@example.org", keyOK)
	code, _, stderr = f.runNoKey(t, "list", "add", "embargo", "sig@example.org", "-key", other)
	if code != 0 || stderr != "" {
		t.Errorf("list add with a usable key: exit %d, stderr %q", code, stderr)
	}
	want["sig@example.org"] = ""
	if got := show(); !sameMap(got, want) {
		t.Errorf("after renewal: %v, want %v", got, want)
	}
}

// addMember adds a member to the fixture's database, as serve does from
// the configuration.
func addMember(t *testing.T, f *fixture, addr, keyPath string) {
	t.Helper()
	ctx := context.Background()
	cfg, err := LoadConfig(f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(ctx, cfg.Gateway.Database)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	key, err := os.ReadFile(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := distlist.NewDirectory(db, nil, nil).AddMember(ctx, nil, distlist.MemberSpec{Address: addr, Key: key, Source: distlist.SourceConfig}); err != nil {
		t.Fatal(err)
	}
}

func sameMap(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
