package crypto

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestClearsignHashHeader: a cleartext signature whose Hash armor header
// does not name the hash the signature uses is refused, although the
// signature itself verifies (the header is not signed).
func TestClearsignHashHeader(t *testing.T) {
	alice := testKey(t, "alice")
	v6pub, v6priv := v6Key(t, "v6signer@example.org")
	member := loadTestKey(t, "member-x25519")
	gpgMail, err := os.ReadFile(filepath.Join("testdata", "mail", "gpg-clearsigned.eml"))
	if err != nil {
		t.Fatal(err)
	}
	ours := string(clearsignedBy(t, alice, "close SEC-2026-0001\n")) // Hash: SHA512
	v6 := string(clearsignedBy(t, v6priv, "close SEC-2026-0001\n"))  // no Hash header
	if !strings.Contains(ours, "\r\nHash: SHA512\r\n") || strings.Contains(v6, "Hash:") {
		t.Fatalf("unexpected armor headers:\n%s\n%s", ours, v6)
	}
	edit := func(s, old, new string) string {
		if !strings.Contains(s, old) {
			t.Fatalf("%q not in %q", old, s)
		}
		return strings.Replace(s, old, new, 1)
	}
	const hdr = "\r\nHash: SHA512\r\n"
	const begin = "-----BEGIN PGP SIGNED MESSAGE-----\r\n"
	tests := []struct {
		name    string
		body    string
		signer  *Key
		now     bool   // check at the fixture time (gpg's block)
		wantErr string // "" : valid
	}{
		{"as made", ours, alice, false, ""},
		{"lower case", edit(ours, hdr, "\r\nHash: sha512\r\n"), alice, false, ""},
		{"named twice", edit(ours, hdr, hdr+"Hash: SHA512\r\n"), alice, false, ""},
		{"other hash", edit(ours, hdr, "\r\nHash: SHA256\r\n"), alice, false, "Hash header says SHA256, the signature uses SHA512"},
		{"two hashes", edit(ours, hdr, "\r\nHash: SHA512,SHA256\r\n"), alice, false, "Hash header says SHA512,SHA256"},
		{"MD5", edit(ours, hdr, "\r\nHash: MD5\r\n"), alice, false, "Hash header says MD5"},
		{"no header", edit(ours, hdr, "\r\n"), alice, false, "no Hash header (MD5 implied), the signature uses SHA512"},
		{"v6 without header", v6, v6pub, false, ""},
		{"v6 with the right header", edit(v6, begin, begin+"Hash: SHA512\r\n"), v6pub, false, ""},
		{"v6 with another header", edit(v6, begin, begin+"Hash: SHA384\r\n"), v6pub, false, "Hash header says SHA384"},
		{"gpg as made", string(gpgMail), member, true, ""},
		{"gpg other hash", edit(string(gpgMail), "Hash: SHA256", "Hash: SHA512"), member, true, "Hash header says SHA512, the signature uses SHA256"},
		{"gpg no header", edit(string(gpgMail), "Hash: SHA256\r\n", ""), member, true, "no Hash header"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := []byte(tt.body)
			if !bytes.HasPrefix(msg, []byte("From:")) {
				msg = []byte(mailHeader + "Content-Type: text/plain\r\n\r\n" + tt.body)
			}
			opts := OpenOptions{Verifiers: []*Key{tt.signer.Public()}, Now: t0}
			if tt.now {
				opts.Now = fixtureTime
			}
			o, err := Open(msg, opts)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			s := o.Signature
			if s == nil {
				t.Fatal("no signature")
			}
			if tt.wantErr == "" {
				if s.Err != nil || !s.Whole || s.Fingerprint != tt.signer.Fingerprint() {
					t.Fatalf("signature %+v, want valid and whole", s)
				}
				return
			}
			if !errors.Is(s.Err, ErrBadSignature) || !strings.Contains(s.Err.Error(), tt.wantErr) {
				t.Fatalf("signature error %v, want ErrBadSignature: %s", s.Err, tt.wantErr)
			}
		})
	}
}
