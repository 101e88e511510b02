package crypto

import (
	"testing"
	"time"
)

// v6Key returns a version 6 key made by GenerateKey, its public half read
// back from armor, and the private key read back too.
func v6Key(t *testing.T, email string) (pub, priv *Key) {
	t.Helper()
	k, err := GenerateKey("V6", email, GenerateOptions{V6: true, Created: t0.Add(-time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	a, err := k.ArmorPublic()
	if err != nil {
		t.Fatal(err)
	}
	if pub, err = ParsePublicKey([]byte(a)); err != nil {
		t.Fatalf("parse v6 public key: %v", err)
	}
	sa, err := k.ArmorPrivate([]byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	if priv, err = ParsePrivateKey([]byte(sa), []byte("pw")); err != nil {
		t.Fatalf("parse v6 private key: %v", err)
	}
	return pub, priv
}

// TestV6Keys: a version 6 key works as a recipient (sealed mail opens, the
// team's signature verifies), as a signer (a member's signed mail verifies
// whole against its 64-hex-digit fingerprint) and as a team key at rest.
func TestV6Keys(t *testing.T) {
	team := testKey(t, "team")
	pub, priv := v6Key(t, "v6@example.org")
	if _, err := GenerateKey("x", "x@example.org", GenerateOptions{V6: true, Algorithm: "rsa"}); err == nil {
		t.Error("a version 6 RSA key was made")
	}
	if len(pub.Fingerprint()) != 64 {
		t.Errorf("v6 fingerprint %q: want 64 hex digits", pub.Fingerprint())
	}
	s, err := team.Sign(Content{Subject: "s", Entity: []byte(textEntityCRLF)}, t0)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := s.SealFor(pub, t0)
	if err != nil {
		t.Fatalf("seal to v6: %v", err)
	}
	o, err := Open(outerMessage(sealed), OpenOptions{Decrypt: priv, Verifiers: []*Key{team.Public()}, Now: t0})
	if err != nil {
		t.Fatalf("open as v6: %v", err)
	}
	if !o.Encrypted || len(o.EncryptedTo) != 1 || o.Signature == nil || o.Signature.Err != nil || !o.Signature.Whole {
		t.Fatalf("opened %+v, signature %+v", o, o.Signature)
	}

	s2, err := priv.Sign(Content{Subject: "s", Entity: []byte(textEntityCRLF)}, t0)
	if err != nil {
		t.Fatalf("v6 sign: %v", err)
	}
	o, err = Open(outerMessage(entityOf(t, s2)), OpenOptions{Verifiers: []*Key{pub}, Now: t0})
	if err != nil || o.Signature == nil || o.Signature.Err != nil || !o.Signature.Whole || o.Signature.Fingerprint != pub.Fingerprint() {
		t.Fatalf("v6 signature: %v, %+v", err, o)
	}

	ct, err := priv.EncryptAtRest([]byte("stored report"))
	if err != nil {
		t.Fatalf("v6 at rest: %v", err)
	}
	if back, err := priv.DecryptAtRest(ct); err != nil || string(back) != "stored report" {
		t.Fatalf("v6 at rest back: %q, %v", back, err)
	}
}
