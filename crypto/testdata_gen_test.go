package crypto

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/secgate/secgate/internal/gpgtest"
)

// testPassphrase protects the test-only private keys under testdata/.
const testPassphrase = "secgate-test-only-passphrase"

// fixtureTime is when the testdata fixtures are opened.
var fixtureTime = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

// TestGenerateTestdataKeys rewrites the test keys kept under testdata/
// (RSA-3072 is slow to make). Run with SECGATE_REGEN_KEYS=1.
func TestGenerateTestdataKeys(t *testing.T) {
	if os.Getenv("SECGATE_REGEN_KEYS") == "" {
		t.Skip("set SECGATE_REGEN_KEYS=1 to regenerate testdata keys")
	}
	created := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, k := range []struct{ name, algo string }{
		{"team-rsa", "rsa"}, {"member-rsa", "rsa"}, {"team-x25519", "x25519"}, {"member-x25519", "x25519"},
	} {
		if _, err := os.Stat(filepath.Join("testdata", k.name+".sec.asc")); err == nil && os.Getenv("SECGATE_REGEN_KEYS") != "all" {
			continue
		}
		key, err := GenerateKey(k.name, k.name+"@example.org", GenerateOptions{Algorithm: k.algo, Bits: 3072, Created: created})
		if err != nil {
			t.Fatal(err)
		}
		arm, err := key.ArmorPrivate([]byte(testPassphrase))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join("testdata", k.name+".sec.asc"), []byte(arm), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// TestGenerateTestdataMail rewrites testdata/mail/*.eml: messages made by
// gpg and by this package with the kept keys, opened by TestFixtures and
// used as fuzz seeds. Run with SECGATE_REGEN_MAIL=1.
func TestGenerateTestdataMail(t *testing.T) {
	if os.Getenv("SECGATE_REGEN_MAIL") == "" {
		t.Skip("set SECGATE_REGEN_MAIL=1 to regenerate testdata mail")
	}
	team := loadTestKey(t, "team-x25519")
	member := loadTestKey(t, "member-x25519")
	g := gpgtest.New(t)
	g.Passphrase = testPassphrase
	for _, k := range []*Key{team, member} {
		arm, err := k.ArmorPrivate([]byte(testPassphrase))
		if err != nil {
			t.Fatal(err)
		}
		g.Import([]byte(arm))
	}
	tf, mf := team.Fingerprint(), member.Fingerprint()
	at := fixtureTime.Add(-time.Hour)
	s, err := member.Sign(Content{Subject: "close SEC-2026-0002", From: "member-x25519@example.org", Entity: []byte(innerEntity)}, at)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := s.SealFor(team, at)
	if err != nil {
		t.Fatal(err)
	}
	signed := entityOf(t, s)
	clear := string(g.Sign([]byte("close SEC-2026-0002\n"), mf, gpgtest.Clearsign))
	files := map[string][]byte{
		"plain.eml":                []byte(mailHeader + "Content-Type: text/plain; charset=utf-8\r\n\r\nHello, I found a bug.\r\n"),
		"html.eml":                 []byte(mailHeader + "Content-Type: multipart/alternative; boundary=\"a\"\r\n\r\n--a\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><head><style>p{}</style></head><body><p>Hello &amp; welcome</p><script>x()</script></body></html>\r\n--a--\r\n"),
		"sealed.eml":               outerMessage(sealed),
		"signed.eml":               append([]byte(mailHeader), signed...),
		"wrapped.eml":              []byte(mailHeader + "Content-Type: multipart/mixed; boundary=\"W\"\r\n\r\n--W\r\nContent-Type: text/plain\r\n\r\nclose SEC-2026-0009\r\n--W\r\n" + string(signed) + "\r\n--W--\r\n"),
		"forwarded.eml":            []byte(mailHeader + "Content-Type: multipart/mixed; boundary=\"F\"\r\n\r\n--F\r\nContent-Type: text/plain\r\n\r\nFYI\r\n--F\r\nContent-Type: message/rfc822\r\n\r\n" + mailHeader + string(signed) + "\r\n--F--\r\n"),
		"gpg-combined.eml":         pgpMIME(g.Encrypt([]byte(innerEntity), tf, mf)),
		"gpg-nested.eml":           pgpMIME(g.Encrypt(pgpSigned(g, mf, innerEntity, gpgtest.Detached), tf, "")),
		"gpg-inline-encrypted.eml": []byte(mailHeader + "Content-Type: text/plain\r\n\r\n" + string(canonCRLF(g.Encrypt([]byte("close SEC-2026-0002\n"), tf, mf)))),
		"gpg-clearsigned.eml":      []byte(mailHeader + "Content-Type: text/plain\r\n\r\n" + string(canonCRLF([]byte(clear)))),
		"gpg-clearsigned-qp.eml":   []byte(mailHeader + "Content-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" + string(encodeQP(canonCRLF([]byte(clear))))),
		"gpg-signed-textmode.eml":  append([]byte(mailHeader), pgpSigned(g, mf, innerEntity, gpgtest.DetachedText)...),
	}
	dir := filepath.Join("testdata", "mail")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestGenerateReencodeSeed rewrites testdata/reencode/gpg-report.asc, the
// report FuzzReencodeIdentity re-encodes: encrypted by gpg to the kept
// team key and signed by the kept member key, its binary length not a
// multiple of 3 (so its armor has unused base64 bits). Run with
// SECGATE_REGEN_SEED=1.
func TestGenerateReencodeSeed(t *testing.T) {
	if os.Getenv("SECGATE_REGEN_SEED") == "" {
		t.Skip("set SECGATE_REGEN_SEED=1 to regenerate the re-encoding seed")
	}
	team := loadTestKey(t, "team-x25519")
	member := loadTestKey(t, "member-x25519")
	g := gpgtest.New(t)
	g.Passphrase = testPassphrase
	for _, k := range []*Key{team, member} {
		arm, err := k.ArmorPrivate([]byte(testPassphrase))
		if err != nil {
			t.Fatal(err)
		}
		g.Import([]byte(arm))
	}
	for i := 0; ; i++ {
		plain := append(reportEntity("seed"), bytes.Repeat([]byte("."), i)...)
		r := g.Run(plain, "--armor", "--recipient", team.Fingerprint(), "--local-user", member.Fingerprint(),
			"--compress-algo", "none", "--sign", "--encrypt")
		if r.Err != nil {
			t.Fatalf("gpg: %v\n%s", r.Err, r.Stderr)
		}
		bin, err := dearmor(r.Stdout, "PGP MESSAGE")
		if err != nil {
			t.Fatal(err)
		}
		if len(bin)%3 == 0 {
			continue
		}
		dir := filepath.Join("testdata", "reencode")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "gpg-report.asc"), r.Stdout, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
}
