package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/secgate/secgate/crypto"
)

func TestKeyCommands(t *testing.T) {
	f := newFixture(t)

	t.Run("check", func(t *testing.T) {
		code, out, stderr := f.runNoKey(t, "key", "check")
		mustFail(t, code, stderr, "1 of 5 key(s) not usable through")
		// Keys that never expire come in fingerprint order: sort the lines.
		lines := strings.Split(strings.TrimSpace(regexpThrough.ReplaceAllString(f.scrub(out), "through <DATE>")), "\n")
		slices.Sort(lines[3:])
		golden(t, "key_check", strings.Join(lines, "\n")+"\n")
		var got struct {
			Keys     []keyJSON `json:"keys"`
			Problems int       `json:"problems"`
		}
		code, out, _ = f.runNoKey(t, "key", "check", "--json", "-through", "2026-12-31")
		decodeJSON(t, out, &got)
		if code != 1 || got.Problems != 1 || len(got.Keys) != 5 || got.Keys[0].Fingerprint != f.fprs["team"] ||
			got.Keys[0].Status != "ok" || got.Keys[1].Status != "expired" ||
			len(got.Keys[1].Holders) != 1 || got.Keys[1].Holders[0] != "list embargo: olga@example.org" {
			t.Errorf("JSON: exit %d, %+v", code, got)
		}
		code, _, stderr = f.runNoKey(t, "key", "check", "-through", "next week")
		mustFail(t, code, stderr, "want YYYY-MM-DD")
	})

	t.Run("show", func(t *testing.T) {
		out := f.ok(t, false, "key", "show", "dana@example.org")
		for _, want := range []string{f.fprs["Dana"], "status now:  ok", "used by:     list embargo: dana@example.org", "expires:     never"} {
			if !strings.Contains(out, want) {
				t.Errorf("key show lacks %q:\n%s", want, out)
			}
		}
		out = f.ok(t, false, "key", "show", strings.ToLower(f.fprs["Olga"]))
		if !strings.Contains(out, "status now:  expired") {
			t.Errorf("key show expired:\n%s", out)
		}
		var k keyJSON
		decodeJSON(t, f.ok(t, false, "key", "show", "alice@example.org", "--json", "--armor"), &k)
		if k.Fingerprint != f.fprs["Alice"] || k.Status != "ok" || !strings.HasPrefix(k.Armored, "-----BEGIN PGP PUBLIC KEY BLOCK-----") ||
			len(k.Holders) != 1 || k.Holders[0] != "member alice@example.org" {
			t.Errorf("JSON: %+v", k)
		}
		code, _, stderr := f.runNoKey(t, "key", "show", "nobody@example.org")
		mustFail(t, code, stderr, "no member or list entry nobody@example.org")
		code, _, stderr = f.runNoKey(t, "key", "show", "0000")
		mustFail(t, code, stderr, "no stored key 0000")
	})

	t.Run("import", func(t *testing.T) {
		out := f.ok(t, false, "key", "import", f.keyFiles["Erin"])
		if !strings.Contains(out, "imported key "+f.fprs["Erin"]+" (erin@example.org), expires never, status ok") {
			t.Errorf("import: %q", out)
		}
		out = f.ok(t, false, "key", "import", f.keyFiles["Erin"], "-list", "embargo", "-address", "erin@example.org")
		if !strings.Contains(out, "erin@example.org is on list embargo with this key") {
			t.Errorf("import to a list: %q", out)
		}
		if out := f.ok(t, false, "list", "show", "embargo"); !strings.Contains(out, "erin@example.org") {
			t.Errorf("the list lacks the imported entry:\n%s", out)
		}
		code, _, stderr := f.runNoKey(t, "key", "import", f.keyFiles["Erin"], "-list", "embargo")
		mustFail(t, code, stderr, "-list needs -address")
		code, _, stderr = f.runNoKey(t, "key", "import", f.keyFiles["Erin"], "-list", "embargo", "-address", "x@example.org")
		mustFail(t, code, stderr, "not among the key's user IDs")
		code, _, stderr = f.runNoKey(t, "key", "import", f.cfg)
		mustFail(t, code, stderr, "key")
		// A secret key is never taken for a public one.
		code, _, stderr = f.runNoKey(t, "key", "import", filepath.Join(f.dir, "data", "team-key.asc"))
		mustFail(t, code, stderr, "secret key")
	})

	t.Run("report", func(t *testing.T) {
		out := f.ok(t, false, "key", "report")
		if !strings.Contains(out, "olga@example.org") || strings.Contains(out, "dana@example.org") {
			t.Errorf("key report:\n%s", out)
		}
		var got map[string]any
		decodeJSON(t, f.ok(t, false, "key", "report", "--json"), &got)
		if got["empty"] != false || !strings.Contains(got["report"].(string), f.fprs["Olga"]) {
			t.Errorf("JSON: %v", got)
		}
	})
}

// TestKeyCheckRevoked imports a key for a list entry, then its revocation:
// key check and key show report it.
func TestKeyCheckRevoked(t *testing.T) {
	f := newFixture(t)
	k, err := crypto.GenerateKey("Rev", "rev@example.org", crypto.GenerateOptions{Created: keysCreated})
	if err != nil {
		t.Fatal(err)
	}
	pub, err := k.ArmorPublic()
	if err != nil {
		t.Fatal(err)
	}
	priv, err := k.ArmorPrivate([]byte("p"))
	if err != nil {
		t.Fatal(err)
	}
	el, err := openpgp.ReadArmoredKeyRing(strings.NewReader(priv))
	if err != nil || len(el) != 1 {
		t.Fatalf("read key: %v", err)
	}
	e := el[0]
	if err := e.DecryptPrivateKeys([]byte("p")); err != nil {
		t.Fatal(err)
	}
	if err := e.RevokeKey(packet.KeySuperseded, "superseded", &packet.Config{Time: func() time.Time { return keysCreated.Add(time.Hour) }}); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w, err := armor.Encode(&buf, openpgp.PublicKeyType, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Serialize(w); err != nil {
		t.Fatal(err)
	}
	w.Close()
	dir := t.TempDir()
	for name, text := range map[string]string{"rev.asc": pub, "revoked.asc": buf.String()} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f.ok(t, false, "key", "import", filepath.Join(dir, "rev.asc"), "-list", "embargo", "-address", "rev@example.org")
	out := f.ok(t, false, "key", "import", filepath.Join(dir, "revoked.asc"))
	if !strings.Contains(out, "status revoked") {
		t.Errorf("import of the revocation: %q", out)
	}
	code, out, stderr := f.runNoKey(t, "key", "check")
	mustFail(t, code, stderr, "2 of 6 key(s) not usable")
	if !strings.Contains(out, k.Fingerprint()) || !strings.Contains(out, "revoked  list embargo: rev@example.org") {
		t.Errorf("key check:\n%s", out)
	}
	if out := f.ok(t, false, "key", "show", "rev@example.org"); !strings.Contains(out, "status now:  revoked") {
		t.Errorf("key show:\n%s", out)
	}
}
