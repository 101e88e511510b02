package crypto

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/secgate/secgate/internal/gpgtest"
)

// TestGPGKeys reads keys exported by gpg: a protected secret key, a secret
// key without its primary (offline primary, subkeys only), and a public key.
func TestGPGKeys(t *testing.T) {
	g := gpgtest.New(t)
	g.Passphrase = testPassphrase
	member := loadTestKey(t, "member-rsa")
	arm, err := member.ArmorPrivate([]byte(testPassphrase))
	if err != nil {
		t.Fatal(err)
	}
	g.Import([]byte(arm))
	fpr := member.Fingerprint()

	sec := g.ExportSecret(fpr) // protected by gpg with the passphrase
	if _, err := ParsePrivateKey(sec, []byte("wrong")); !errors.Is(err, ErrBadPassphrase) {
		t.Fatalf("gpg secret key, wrong passphrase: %v", err)
	}
	k, err := ParsePrivateKey(sec, []byte(testPassphrase))
	if err != nil || k.Fingerprint() != fpr {
		t.Fatalf("gpg secret key: %v", err)
	}
	if _, err := ParsePublicKey(sec); !errors.Is(err, ErrSecretKey) {
		t.Fatalf("gpg secret key as public: %v", err)
	}

	// Offline primary: gpg --export-secret-subkeys.
	ed := g.GenKey("Team <security@example.org>", "ed25519")
	r := g.Run(nil, "--armor", "--export-secret-subkeys", ed)
	if r.Err != nil {
		t.Fatalf("export-secret-subkeys: %v %s", r.Err, r.Stderr)
	}
	sub, err := ParsePrivateKey(r.Stdout, []byte(testPassphrase))
	if err != nil {
		t.Fatalf("subkeys-only secret key: %v", err)
	}
	if sub.Fingerprint() != ed {
		t.Fatalf("fingerprint %s, want %s", sub.Fingerprint(), ed)
	}
	// It has no signing subkey (gpg's primary signs), so it cannot sign,
	// but it can decrypt.
	now := time.Now()
	s, err := testKey(t, "alice").Sign(Content{Subject: "x", Entity: []byte(textEntityCRLF)}, now)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := s.SealFor(sub.Public(), now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(outerMessage(sealed), OpenOptions{Decrypt: sub, Now: now}); err != nil {
		t.Fatalf("decrypt with subkeys-only key: %v", err)
	}
	if _, err := sub.Sign(Content{Subject: "x", Entity: []byte(textEntityCRLF)}, now); err == nil {
		t.Fatal("signed with a key whose signing primary is offline")
	}
}

// TestEncryptOnlyKey: a recipient key that cannot sign (certify-only
// primary, encryption subkey) is fine to encrypt to.
func TestEncryptOnlyKey(t *testing.T) {
	g := gpgtest.New(t)
	r := g.Run(nil, "--passphrase", "", "--quick-gen-key", "Vendor <psirt@vendor.example>", "ed25519", "cert", "never")
	if r.Err != nil {
		t.Fatalf("%v %s", r.Err, r.Stderr)
	}
	fpr := r.Args("KEY_CREATED")[1]
	if r := g.Run(nil, "--passphrase", "", "--quick-add-key", fpr, "cv25519", "encr", "never"); r.Err != nil {
		t.Fatalf("%v %s", r.Err, r.Stderr)
	}
	k, err := ParsePublicKey(g.Export(fpr))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if err := k.Check(now); err != nil {
		t.Fatalf("Check: %v", err)
	}
	priv, err := ParsePrivateKey(g.ExportSecret(fpr), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := priv.Sign(Content{Subject: "x", Entity: []byte(textEntityCRLF)}, now); !errors.Is(err, ErrNoSignKey) {
		t.Fatalf("Sign with a certify-only key: %v", err)
	}
}

// TestConcurrentUse shares keys between goroutines (run with -race).
func TestConcurrentUse(t *testing.T) {
	team, alice := testKey(t, "team"), testKey(t, "alice")
	s, err := team.Sign(Content{Subject: "x", Entity: []byte(textEntityCRLF)}, t0)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sealed, err := s.SealFor(alice.Public(), t0)
			if err != nil {
				errs <- err
				return
			}
			o, err := Open(outerMessage(sealed), OpenOptions{Decrypt: alice, Verifiers: []*Key{team}, Now: t0})
			if err != nil || o.Signature.Err != nil {
				errs <- errors.Join(err, o.Signature.Err)
				return
			}
			if _, err := team.Sign(Content{Subject: "y", Entity: []byte(textEntityCRLF)}, t0); err != nil {
				errs <- err
			}
			if _, err := team.EncryptAtRest([]byte("x")); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestSigningSubkey: a signature by a signing subkey reports the primary
// key's fingerprint (and the subkey's ID).
func TestSigningSubkey(t *testing.T) {
	g := gpgtest.New(t)
	r := g.Run(nil, "--passphrase", "", "--quick-gen-key", "Member <m@example.org>", "ed25519", "cert", "never")
	if r.Err != nil {
		t.Fatalf("%v %s", r.Err, r.Stderr)
	}
	fpr := r.Args("KEY_CREATED")[1]
	for _, sub := range [][]string{{"ed25519", "sign"}, {"cv25519", "encr"}} {
		if r := g.Run(nil, "--passphrase", "", "--quick-add-key", fpr, sub[0], sub[1], "never"); r.Err != nil {
			t.Fatalf("%v %s", r.Err, r.Stderr)
		}
	}
	member, err := ParsePublicKey(g.Export(fpr))
	if err != nil {
		t.Fatal(err)
	}
	msg := append([]byte(mailHeader), pgpSigned(g, fpr, innerEntity, gpgtest.Detached)...)
	o, err := Open(msg, OpenOptions{Verifiers: []*Key{member}, Now: time.Now().Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	s := o.Signature
	if s == nil || s.Err != nil || s.Fingerprint != fpr {
		t.Fatalf("signature %+v, want valid by primary %s", s, fpr)
	}
	if s.KeyID == member.KeyID() {
		t.Errorf("KeyID is the primary's; want the signing subkey's")
	}
}
