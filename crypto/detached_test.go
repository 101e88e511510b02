package crypto

import (
	"errors"
	"strings"
	"testing"
	"time"
)

const headText = "secgate audit head\nevents: 3\nhash: 00ff\ntime: 2026-11-01T12:00:00Z\n"

func TestDetached(t *testing.T) {
	team, other := testKey(t, "team"), testKey(t, "mallory")
	expiring, err := GenerateKey("Old", "old@example.org", GenerateOptions{Created: t0.Add(-time.Hour), Lifetime: 2 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	sig, err := team.SignDetached([]byte(headText), t0)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(sig, "-----BEGIN PGP SIGNATURE-----\n") || !strings.HasSuffix(sig, "-----END PGP SIGNATURE-----\n") {
		t.Fatalf("signature is not armored:\n%s", sig)
	}
	oldSig, err := expiring.SignDetached([]byte(headText), t0)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		key       *Key
		text, sig string
		want      error
	}{
		{"valid", team.Public(), headText, sig, nil},
		{"private key verifies too", team, headText, sig, nil},
		{"CRLF text", team.Public(), strings.ReplaceAll(headText, "\n", "\r\n"), sig, nil},
		{"changed text", team.Public(), strings.Replace(headText, "events: 3", "events: 4", 1), sig, ErrBadSignature},
		{"other key", other.Public(), headText, sig, ErrUnknownSigner},
		{"not a signature", team.Public(), headText, "-----BEGIN PGP SIGNATURE-----\n\nAAAA\n-----END PGP SIGNATURE-----\n", ErrBadSignature},
		{"garbage", team.Public(), headText, "hello", ErrBadSignature},
		{"made while the key was valid, checked after it expired", expiring.Public(), headText, oldSig, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := tc.key.VerifyDetached([]byte(tc.text), []byte(tc.sig))
			if tc.want == nil {
				if err != nil || s.Fingerprint != tc.key.Fingerprint() || !s.Created.Equal(t0) {
					t.Fatalf("VerifyDetached = %+v, %v", s, err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("VerifyDetached = %v, want %v", err, tc.want)
			}
		})
	}
	if _, err := team.Public().SignDetached([]byte(headText), t0); !errors.Is(err, ErrNotPrivate) {
		t.Errorf("public key signs: %v", err)
	}
	if _, err := expiring.SignDetached([]byte(headText), t0.Add(2*time.Hour)); !errors.Is(err, ErrExpired) {
		t.Errorf("expired key signs: %v", err)
	}
}

func BenchmarkDetached(b *testing.B) {
	for _, name := range []string{"team-x25519", "team-rsa"} {
		k := loadTestKey(b, name)
		sig, err := k.SignDetached([]byte(headText), fixtureTime)
		if err != nil {
			b.Fatal(err)
		}
		b.Run("sign-"+name, func(b *testing.B) {
			for b.Loop() {
				if _, err := k.SignDetached([]byte(headText), fixtureTime); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("verify-"+name, func(b *testing.B) {
			for b.Loop() {
				if _, err := k.VerifyDetached([]byte(headText), []byte(sig)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
