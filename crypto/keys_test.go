package crypto

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

func TestGenerateKey(t *testing.T) {
	k, err := GenerateKey("Security Team", "security@example.org", GenerateOptions{Created: t0})
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^[0-9A-F]{40}$`).MatchString(k.Fingerprint()) {
		t.Errorf("fingerprint %q", k.Fingerprint())
	}
	if got := k.Emails(); len(got) != 1 || got[0] != "security@example.org" {
		t.Errorf("Emails = %v", got)
	}
	if !k.IsPrivate() || k.Public().IsPrivate() || k.Public().Fingerprint() != k.Fingerprint() {
		t.Error("IsPrivate/Public wrong")
	}
	if _, ok := k.Expires(); ok {
		t.Error("key without lifetime expires")
	}
	if err := k.Check(t0); err != nil {
		t.Errorf("Check: %v", err)
	}
	if k.entity.PrimaryKey.PubKeyAlgo != packet.PubKeyAlgoEdDSA || k.entity.Subkeys[0].PublicKey.PubKeyAlgo != packet.PubKeyAlgoECDH {
		t.Errorf("algorithms %v/%v", k.entity.PrimaryKey.PubKeyAlgo, k.entity.Subkeys[0].PublicKey.PubKeyAlgo)
	}
	for _, bad := range []GenerateOptions{{Algorithm: "dsa"}, {Algorithm: "rsa", Bits: 1024}, {Lifetime: -time.Hour}} {
		if _, err := GenerateKey("x", "x@example.org", bad); err == nil {
			t.Errorf("GenerateKey(%+v) succeeded", bad)
		}
	}
}

func TestGenerateRSA(t *testing.T) {
	if testing.Short() {
		t.Skip("RSA key generation is slow")
	}
	k, err := GenerateKey("Team", "team@example.org", GenerateOptions{Algorithm: "rsa", Created: t0})
	if err != nil {
		t.Fatal(err)
	}
	if k.entity.PrimaryKey.PubKeyAlgo != packet.PubKeyAlgoRSA {
		t.Fatalf("algorithm %v", k.entity.PrimaryKey.PubKeyAlgo)
	}
	if bits, _ := k.entity.PrimaryKey.BitLength(); bits != 3072 {
		t.Errorf("bits %d", bits)
	}
}

func TestArmorRoundTrip(t *testing.T) {
	k := testKey(t, "team")
	pub, err := k.ArmorPublic()
	if err != nil {
		t.Fatal(err)
	}
	priv, err := k.ArmorPrivate([]byte("pass"))
	if err != nil {
		t.Fatal(err)
	}
	for _, arm := range []string{pub, priv} {
		if strings.Contains(arm, "Version:") || strings.Contains(arm, "Comment:") {
			t.Errorf("armor header in\n%s", arm)
		}
	}
	if pub2, err := k.Public().ArmorPublic(); err != nil || pub2 != pub {
		t.Errorf("Public().ArmorPublic differs from ArmorPublic: %v", err)
	}
	if _, err := k.Public().Sign(Content{Subject: "x", Entity: []byte(textEntityCRLF)}, t0); !errors.Is(err, ErrNotPrivate) {
		t.Errorf("Sign with the public part: %v", err)
	}
	p, err := ParsePublicKey([]byte(pub))
	if err != nil || p.Fingerprint() != k.Fingerprint() || p.IsPrivate() {
		t.Fatalf("ParsePublicKey = %v, %v", p, err)
	}
	s, err := ParsePrivateKey([]byte(priv), []byte("pass"))
	if err != nil || s.Fingerprint() != k.Fingerprint() || !s.IsPrivate() {
		t.Fatalf("ParsePrivateKey = %v, %v", s, err)
	}
	// The original key stays unlocked.
	if _, err := k.Sign(Content{Subject: "x", Entity: []byte(textEntityCRLF)}, t0); err != nil {
		t.Fatalf("Sign after ArmorPrivate: %v", err)
	}
	path := filepath.Join(t.TempDir(), "team.asc")
	if err := os.WriteFile(path, []byte(priv), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadPrivateKey(path, []byte("pass")); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadPrivateKey(path, []byte("nope")); !errors.Is(err, ErrBadPassphrase) || !strings.Contains(err.Error(), path) {
		t.Fatalf("LoadPrivateKey wrong passphrase: %v", err)
	}
	if _, err := LoadPrivateKey(filepath.Join(t.TempDir(), "missing.asc"), nil); err == nil {
		t.Fatal("LoadPrivateKey of a missing file succeeded")
	}
	if _, err := k.ArmorPrivate(nil); err == nil {
		t.Error("ArmorPrivate with empty passphrase succeeded")
	}
	if _, err := p.ArmorPrivate([]byte("x")); !errors.Is(err, ErrNotPrivate) {
		t.Errorf("ArmorPrivate of public key: %v", err)
	}
}

func TestParseKeyErrors(t *testing.T) {
	k := testKey(t, "team")
	pub, _ := k.ArmorPublic()
	priv, _ := k.ArmorPrivate([]byte("pass"))
	other, _ := testKey(t, "alice").ArmorPublic()
	unprotected := func() string {
		cp := *k
		var b strings.Builder
		w, _ := armorWriter(&b, "PGP PRIVATE KEY BLOCK")
		cp.entity.SerializePrivateWithoutSigning(w, nil)
		w.Close()
		return b.String()
	}()
	tests := []struct {
		name    string
		public  bool
		data    string
		pass    string
		wantErr error
	}{
		{"public garbage", true, "not a key", "", ErrMalformedKey},
		{"public empty", true, "", "", ErrMalformedKey},
		{"public truncated", true, pub[:len(pub)/2], "", ErrMalformedKey},
		{"public two keys", true, pub + other, "", ErrMalformedKey},
		{"public is secret", true, priv, "", ErrSecretKey},
		{"public is unprotected secret", true, unprotected, "", ErrSecretKey},
		{"private garbage", false, "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nAAAA\n-----END PGP PRIVATE KEY BLOCK-----\n", "x", ErrMalformedKey},
		{"private is public", false, pub, "x", ErrNotPrivate},
		{"private wrong passphrase", false, priv, "wrong", ErrBadPassphrase},
		{"private no passphrase", false, priv, "", ErrBadPassphrase},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			if tt.public {
				_, err = ParsePublicKey([]byte(tt.data))
			} else {
				_, err = ParsePrivateKey([]byte(tt.data), []byte(tt.pass))
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
		})
	}
	// An unprotected private key needs no passphrase.
	if _, err := ParsePrivateKey([]byte(unprotected), nil); err != nil {
		t.Fatalf("unprotected key: %v", err)
	}
}

func TestCheck(t *testing.T) {
	created := t0
	k, err := GenerateKey("Short", "short@example.org", GenerateOptions{Created: created, Lifetime: 48 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	end, ok := k.Expires()
	if !ok || !end.Equal(created.Add(48*time.Hour)) {
		t.Errorf("Expires = %v, %v", end, ok)
	}
	tests := []struct {
		name        string
		from, until time.Time
		want        error
	}{
		{"valid", created.Add(time.Hour), created.Add(24 * time.Hour), nil},
		{"before creation", created.Add(-time.Hour), created.Add(time.Hour), ErrExpired},
		{"expires during", created.Add(time.Hour), created.Add(72 * time.Hour), ErrExpired},
		{"expired", created.Add(49 * time.Hour), created.Add(50 * time.Hour), ErrExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := k.Public().CheckThrough(tt.from, tt.until); !errors.Is(err, tt.want) {
				t.Fatalf("CheckThrough = %v, want %v", err, tt.want)
			}
		})
	}
	if err := k.Check(created.Add(49 * time.Hour)); !errors.Is(err, ErrExpired) {
		t.Errorf("Check after expiry = %v", err)
	}
	if _, err := k.EncryptionKeyID(created.Add(49 * time.Hour)); !errors.Is(err, ErrExpired) {
		t.Errorf("EncryptionKeyID after expiry = %v", err)
	}
	s, err := k.Sign(Content{Subject: "x", Entity: []byte(textEntityCRLF)}, created.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.SealFor(k.Public(), created.Add(49*time.Hour)); !errors.Is(err, ErrExpired) {
		t.Errorf("SealFor to expired key = %v", err)
	}
	if _, err := k.Sign(Content{Subject: "x", Entity: []byte(textEntityCRLF)}, created.Add(49*time.Hour)); !errors.Is(err, ErrExpired) {
		t.Errorf("Sign with expired key = %v", err)
	}
}

func TestCheckRevoked(t *testing.T) {
	mk := func() *Key {
		k, err := GenerateKey("Rev", "rev@example.org", GenerateOptions{Created: t0})
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	at := t0.Add(24 * time.Hour)
	cfg := baseConfig(at)

	soft := mk()
	if err := soft.entity.RevokeKey(packet.KeySuperseded, "replaced", cfg); err != nil {
		t.Fatal(err)
	}
	if err := soft.Public().Check(at.Add(time.Hour)); !errors.Is(err, ErrRevoked) {
		t.Errorf("soft-revoked key after revocation: %v", err)
	}
	if err := soft.Public().Check(at.Add(-time.Hour)); err != nil {
		t.Errorf("soft-revoked key before revocation: %v", err)
	}

	hard := mk()
	if err := hard.entity.RevokeKey(packet.KeyCompromised, "leaked", cfg); err != nil {
		t.Fatal(err)
	}
	if err := hard.Public().Check(at.Add(-time.Hour)); !errors.Is(err, ErrRevoked) {
		t.Errorf("compromised key before revocation: %v", err)
	}

	sub := mk()
	if err := sub.entity.RevokeSubkey(&sub.entity.Subkeys[0], packet.KeyRetired, "", cfg); err != nil {
		t.Fatal(err)
	}
	if err := sub.Public().Check(at.Add(time.Hour)); !errors.Is(err, ErrNoEncryptKey) {
		t.Errorf("key with revoked encryption subkey: %v", err)
	}
	if err := sub.Public().CheckThrough(t0.Add(time.Hour), at.Add(time.Hour)); !errors.Is(err, ErrNoEncryptKey) {
		t.Errorf("CheckThrough across subkey revocation: %v", err)
	}
}

// TestKeyConcurrentArmor: a parsed key is shared by goroutines (a key file
// parsed once for several projects): armoring it in several at once is
// not a data race under -race (go-crypto fills a field of each signature
// the first time it serializes it).
func TestKeyConcurrentArmor(t *testing.T) {
	arm, err := testKey(t, "shared").Public().ArmorPublic()
	if err != nil {
		t.Fatal(err)
	}
	k, err := ParsePublicKey([]byte(arm))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := k.ArmorPublic(); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
}
