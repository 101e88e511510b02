package crypto

import (
	"time"

	"bytes"
	"errors"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"strings"
	"testing"
)

func outerMessage(entity []byte) []byte {
	return append([]byte("From: Security Team <security@example.org>\r\nTo: alice@example.org\r\nSubject: ...\r\nMIME-Version: 1.0\r\n"), entity...)
}

func TestSignSealOpen(t *testing.T) {
	team := testKey(t, "team")
	alice := testKey(t, "alice")
	s, err := team.Sign(Content{Subject: "SEC-2026-0001 embargo", From: "security@example.org", Entity: []byte(textEntityCRLF)}, t0)
	if err != nil {
		t.Fatal(err)
	}
	if s.Micalg() != "pgp-sha512" {
		t.Errorf("micalg = %q", s.Micalg())
	}
	sealed, err := s.SealFor(alice.Public(), t0)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("Version: Go")) || bytes.Contains(sealed, []byte("Comment:")) {
		t.Errorf("armor headers in output:\n%s", sealed)
	}
	o, err := Open(outerMessage(sealed), OpenOptions{Decrypt: alice, Verifiers: []*Key{team.Public()}, Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	if !o.Encrypted || o.Signature == nil || o.Signature.Err != nil || !o.Signature.Whole {
		t.Fatalf("opened = %+v sig %+v", o, o.Signature)
	}
	if o.Signature.Fingerprint != team.Fingerprint() {
		t.Errorf("signer %s, want %s", o.Signature.Fingerprint, team.Fingerprint())
	}
	if !bytes.Contains(o.Entity, []byte("Subject: SEC-2026-0001 embargo")) || !bytes.Contains(o.Entity, []byte(`hp="cipher"`)) {
		t.Errorf("entity:\n%s", o.Entity)
	}
	text, _, err := TextBody(o.Entity)
	if err != nil || !strings.Contains(text, "the embargo ends Tuesday.") {
		t.Errorf("TextBody = %q, %v", text, err)
	}

	// Public signed mail.
	o, err = Open(outerMessage(entityOf(t, s)), OpenOptions{Verifiers: []*Key{team.Public()}, Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	if o.Encrypted || o.Signature == nil || o.Signature.Err != nil || !o.Signature.Whole || o.Signature.Fingerprint != team.Fingerprint() {
		t.Fatalf("opened = %+v sig %+v", o, o.Signature)
	}
	if o.Signature.ID == "" || o.Signature.Hash != "SHA-512" || !o.Signature.Created.Equal(t0) {
		t.Errorf("sig = %+v", o.Signature)
	}

	// Bob cannot read Alice's copy.
	bob := testKey(t, "bob")
	o, err = Open(outerMessage(sealed), OpenOptions{Decrypt: bob, Now: t0})
	if !errors.Is(err, ErrWrongKey) || o == nil || len(o.EncryptedTo) != 1 || o.Entity != nil {
		t.Fatalf("Open with bob = %+v, %v", o, err)
	}
	id, _ := alice.EncryptionKeyID(t0)
	if o.EncryptedTo[0] != id {
		t.Errorf("EncryptedTo = %X, want %X", o.EncryptedTo, id)
	}
}

func TestAtRest(t *testing.T) {
	team := testKey(t, "team")
	ct, err := team.EncryptAtRest([]byte("secret report"))
	if err != nil {
		t.Fatal(err)
	}
	pt, err := team.DecryptAtRest(ct)
	if err != nil || string(pt) != "secret report" {
		t.Fatalf("DecryptAtRest = %q, %v", pt, err)
	}
	ct[len(ct)-5] ^= 1
	if pt, err := team.DecryptAtRest(ct); !errors.Is(err, ErrDecrypt) || pt != nil {
		t.Fatalf("tampered: %q, %v", pt, err)
	}
}

func TestAtRestExpiredKey(t *testing.T) {
	k, err := GenerateKey("Old", "old@example.org", GenerateOptions{Created: t0.AddDate(-3, 0, 0), Lifetime: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"team-rsa", "old"} {
		kk := k
		if name != "old" {
			kk = loadTestKey(t, name)
		}
		ct, err := kk.EncryptAtRest([]byte("kept"))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		pt, err := kk.DecryptAtRest(ct)
		if err != nil || string(pt) != "kept" {
			t.Fatalf("%s: %q %v", name, pt, err)
		}
		if _, err := kk.Public().DecryptAtRest(ct); !errors.Is(err, ErrNotPrivate) {
			t.Fatalf("%s: decrypt with public key: %v", name, err)
		}
		other, _ := testKey(t, "alice").DecryptAtRest(ct)
		if other != nil {
			t.Fatalf("%s: another key decrypted", name)
		}
	}
	// A compromised team key is not used.
	if err := k.entity.RevokeKey(packet.KeyCompromised, "", baseConfig(t0)); err != nil {
		t.Fatal(err)
	}
	if _, err := k.EncryptAtRest([]byte("x")); !errors.Is(err, ErrNoEncryptKey) {
		t.Fatalf("revoked key: %v", err)
	}
}
