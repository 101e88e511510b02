package crypto

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/secgate/secgate/internal/gpgtest"
)

// TestWithPrevious: during a key rotation, mail and stored data encrypted
// to the old key open with the new key carrying the old one, and not with
// the new key alone; what it writes is for the new key alone.
func TestWithPrevious(t *testing.T) {
	old, newKey, rita := testKey(t, "old-team"), testKey(t, "new-team"), testKey(t, "rita")
	both := newKey.WithPrevious(old)
	if both.Fingerprint() != newKey.Fingerprint() || strings.Join(both.Previous(), ",") != old.Fingerprint() {
		t.Fatalf("fingerprint %s, previous %v", both.Fingerprint(), both.Previous())
	}
	toOld := sealedTo(t, rita, old)
	if _, err := Open(toOld, OpenOptions{Decrypt: newKey, Verifiers: []*Key{rita.Public()}, Now: t0}); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("new key alone opened mail to the old one: %v", err)
	}
	op, err := Open(toOld, OpenOptions{Decrypt: both, Verifiers: []*Key{rita.Public()}, Now: t0})
	if err != nil || !op.Encrypted || op.Signature == nil || op.Signature.Err != nil {
		t.Fatalf("mail to the old key: %+v %v", op, err)
	}
	if _, err := Open(sealedTo(t, rita, newKey), OpenOptions{Decrypt: both, Now: t0}); err != nil {
		t.Fatalf("mail to the new key: %v", err)
	}

	stored, err := old.EncryptAtRest([]byte("stored before the rotation"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := newKey.DecryptAtRest(stored); err == nil {
		t.Fatal("the new key alone read data stored for the old one")
	}
	if plain, err := both.DecryptAtRest(stored); err != nil || string(plain) != "stored before the rotation" {
		t.Fatalf("data at rest from before the rotation: %q %v", plain, err)
	}
	fresh, err := both.EncryptAtRest([]byte("after"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := old.DecryptAtRest(fresh); err == nil {
		t.Error("data stored after the rotation opens with the old key")
	}
	if pub := both.Public(); pub.IsPrivate() || strings.Join(pub.Previous(), ",") != old.Fingerprint() || pub.previousPrivate() {
		t.Error("the public part carries private keys, or not the previous public keys")
	}

	// An audit head the old key signed verifies as the team's, with the
	// private pair or with the public keys alone (secgate audit verify
	// has no passphrase); by the new key alone it does not.
	sig, err := old.SignDetached([]byte("head"), t0)
	if err != nil {
		t.Fatal(err)
	}
	for name, k := range map[string]*Key{"private": both, "public": newKey.Public().WithPrevious(old.Public())} {
		if _, err := k.VerifyDetached([]byte("head"), []byte(sig)); err != nil {
			t.Errorf("%s: the old key's signature: %v", name, err)
		}
	}
	if _, err := newKey.VerifyDetached([]byte("head"), []byte(sig)); !errors.Is(err, ErrUnknownSigner) && !errors.Is(err, ErrBadSignature) {
		t.Errorf("the new key alone accepted the old key's signature: %v", err)
	}
	pubOnly := newKey.WithPrevious(old.Public())
	if _, err := Open(toOld, OpenOptions{Decrypt: pubOnly, Now: t0}); !errors.Is(err, ErrWrongKey) {
		t.Errorf("a previous public key claimed to decrypt: %v", err)
	}
}

// TestTransitionStatement: gpg, holding both public keys, finds two good
// signatures on the statement, the old key's and the new key's, over its
// text.
func TestTransitionStatement(t *testing.T) {
	old, newKey := testKey(t, "old-team"), testKey(t, "new-team")
	text := []byte("The team key changes from " + old.Fingerprint() + " to " + newKey.Fingerprint() + ".\n")
	st, err := TransitionStatement(text, old, newKey, t0)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(st, []byte("-----BEGIN PGP SIGNED MESSAGE-----")) || !bytes.Contains(st, text) {
		t.Fatalf("statement:\n%s", st)
	}
	g := gpgtest.New(t)
	for _, k := range []*Key{old, newKey} {
		arm, err := k.Public().ArmorPublic()
		if err != nil {
			t.Fatal(err)
		}
		g.Import([]byte(arm))
	}
	f := filepath.Join(t.TempDir(), "statement.asc")
	if err := os.WriteFile(f, st, 0o600); err != nil {
		t.Fatal(err)
	}
	r := g.Run(nil, "--faked-system-time", t0.Add(3600e9).Format("20060102T150405")+"!", "--verify", f)
	if r.Err != nil {
		t.Fatalf("gpg --verify: %v\n%s", r.Err, r.Stderr)
	}
	for _, k := range []*Key{old, newKey} {
		if !r.Has("VALIDSIG") || !strings.Contains(strings.Join(r.Args("VALIDSIG"), " ")+strings.Join(r.Status, "\n"), k.Fingerprint()) {
			t.Errorf("gpg found no valid signature by %s: %v", k.Fingerprint(), r.Status)
		}
	}
	if n := strings.Count(strings.Join(r.Status, "\n"), "VALIDSIG"); n != 2 {
		t.Errorf("%d valid signatures, want 2: %v", n, r.Status)
	}
	if _, err := TransitionStatement(text, old.Public(), newKey, t0); !errors.Is(err, ErrNotPrivate) {
		t.Errorf("a statement without the old secret key: %v", err)
	}
}
