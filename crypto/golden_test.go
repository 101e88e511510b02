package crypto

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// maskArmor replaces the contents of armored blocks, which change on every
// run (signatures, ciphertext).
var armorRE = regexp.MustCompile(`(?s)(-----BEGIN PGP [A-Z ]+-----\r\n).*?(-----END PGP [A-Z ]+-----)`)

func maskArmor(b []byte) []byte {
	return armorRE.ReplaceAll(b, []byte("${1}<masked>\r\n${2}"))
}

// fixedBoundaries makes a copy of k whose boundaries are BOUNDARY-1, -2, ...
func fixedBoundaries(k *Key) *Key {
	cp := *k
	n := 0
	cp.boundary = func() string { n++; return fmt.Sprintf("BOUNDARY-%d", n) }
	return &cp
}

func TestGolden(t *testing.T) {
	contents := []struct {
		name string
		c    Content
	}{
		{"text", Content{
			Subject: "[SEC-2026-0007] Embargoed: heap overflow in parser",
			From:    "Security Team <security@example.org>",
			Entity:  []byte("Content-Type: text/plain; charset=utf-8\r\n\r\nHello,\r\n\r\nthe fix ships on 2026-12-01 at 14:00 UTC.\r\nCredit: Zoë Müller   \r\nFrom the team.\r\n"),
		}},
		{"mixed", Content{
			Subject: "Advisory draft",
			From:    "security@example.org",
			Entity: []byte("Content-Type: multipart/mixed; boundary=\"inner\"\r\n\r\n" +
				"--inner\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nDraft attached.\r\n" +
				"--inner\r\nContent-Type: text/markdown; name=\"advisory.md\"\r\nContent-Disposition: attachment; filename=\"advisory.md\"\r\nContent-Transfer-Encoding: base64\r\n\r\nIyBBZHZpc29yeQo=\r\n" +
				"--inner--\r\n"),
		}},
	}
	alice := testKey(t, "alice")
	for _, tc := range contents {
		name, c := tc.name, tc.c
		t.Run(name, func(t *testing.T) {
			team := fixedBoundaries(testKey(t, "team"))
			s, err := team.Sign(c, t0)
			if err != nil {
				t.Fatal(err)
			}
			sealed, err := s.SealFor(alice, t0)
			if err != nil {
				t.Fatal(err)
			}
			o, err := Open(outerMessage(sealed), OpenOptions{Decrypt: alice, Verifiers: []*Key{team}, Now: t0})
			if err != nil || o.Signature == nil || o.Signature.Err != nil {
				t.Fatalf("open sealed: %v %+v", err, o)
			}
			for kind, got := range map[string][]byte{
				"signed": entityOf(t, s),
				"sealed": sealed,
				"inner":  sealedInner(t, alice, sealed),
			} {
				checkGolden(t, filepath.Join("testdata", "golden", name+"."+kind+".eml"), maskArmor(got))
			}
		})
	}
}

// sealedInner decrypts a sealed entity and returns the multipart/signed
// plaintext.
func sealedInner(t *testing.T, k *Key, sealed []byte) []byte {
	t.Helper()
	i := bytes.Index(sealed, []byte("-----BEGIN PGP MESSAGE-----"))
	j := bytes.Index(sealed, []byte("-----END PGP MESSAGE-----")) + len("-----END PGP MESSAGE-----")
	bin, err := dearmor(sealed[i:j], "PGP MESSAGE")
	if err != nil {
		t.Fatal(err)
	}
	res, err := readPGP(binarySource(bin), k, nil, t0, DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	return res.plain
}

func checkGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run TestGolden -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs:\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}
