package crypto

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// addMailSeeds adds every kept message and golden file as a seed.
func addMailSeeds(f *testing.F) {
	for _, pat := range []string{"testdata/mail/*.eml", "testdata/golden/*.eml"} {
		files, _ := filepath.Glob(pat)
		for _, p := range files {
			b, err := os.ReadFile(p)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
}

func FuzzSplitMultipart(f *testing.F) {
	f.Add([]byte("--b\r\nA\r\n--b\r\nB\r\n--b--\r\n"), "b")
	f.Add([]byte("preamble\r\n--b  \r\n\r\nx\r\n--bb\r\n--b--"), "b")
	f.Add([]byte("--b\r\nno close"), "b")
	files, _ := filepath.Glob("testdata/golden/*.eml")
	for _, p := range files {
		b, _ := os.ReadFile(p)
		_, body := splitEntity(b)
		f.Add(body, "BOUNDARY-1")
	}
	f.Fuzz(func(t *testing.T, body []byte, boundary string) {
		parts, err := splitMultipart(body, boundary, 64)
		if err != nil {
			if len(parts) != 0 {
				t.Fatal("parts with error")
			}
			return
		}
		if len(parts) > 64 {
			t.Fatalf("%d parts over the limit", len(parts))
		}
		for _, p := range parts {
			if !bytes.Contains(body, p) {
				t.Fatal("part is not a piece of the body")
			}
			if bytes.HasPrefix(p, []byte("--"+boundary+"\r\n")) {
				t.Fatal("part starts with a delimiter")
			}
		}
	})
}

func fuzzKeys(f *testing.F) (*Key, *Key) {
	return loadTestKey(f, "team-x25519"), loadTestKey(f, "member-x25519").Public()
}

func FuzzOpen(f *testing.F) {
	addMailSeeds(f)
	f.Add([]byte("Content-Type: multipart/signed; protocol=\"application/pgp-signature\"; boundary=x\r\n\r\n--x\r\n\r\nhi\r\n--x\r\nContent-Type: application/pgp-signature\r\n\r\n-----BEGIN PGP SIGNATURE-----\r\n\r\nAA==\r\n-----END PGP SIGNATURE-----\r\n--x--\r\n"))
	team, member := fuzzKeys(f)
	f.Fuzz(func(t *testing.T, raw []byte) {
		o, err := Open(raw, OpenOptions{Decrypt: team, Verifiers: []*Key{member}, Now: fixtureTime, Limits: Limits{MaxDecompressedBytes: 1 << 20}})
		if err != nil {
			if o != nil && (o.Entity != nil || o.Signature != nil || len(o.EncryptedTo) == 0) {
				t.Fatalf("Opened %+v returned with %v", o, err)
			}
			return
		}
		if o.Entity == nil {
			t.Fatal("no entity and no error")
		}
		if o.Signature != nil && o.Signature.Err == nil && o.Signature.Fingerprint != member.Fingerprint() {
			t.Fatalf("valid signature by %q", o.Signature.Fingerprint)
		}
	})
}

func FuzzInline(f *testing.F) {
	files, _ := filepath.Glob("testdata/mail/gpg-*.eml")
	for _, p := range files {
		b, _ := os.ReadFile(p)
		_, body := splitEntity(b)
		f.Add(body)
	}
	f.Add([]byte("-----BEGIN PGP SIGNED MESSAGE-----\r\nHash: SHA256\r\n\r\nx\r\n-----BEGIN PGP SIGNATURE-----\r\n-----END PGP SIGNATURE-----\r\n"))
	team, member := fuzzKeys(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		if blk, ok := findArmor(body); ok && (blk.start < 0 || blk.end > len(body) || blk.start >= blk.end) {
			t.Fatalf("block %+v out of range", blk)
		}
		raw := append([]byte("Content-Type: text/plain\r\n\r\n"), body...)
		o, err := Open(raw, OpenOptions{Decrypt: team, Verifiers: []*Key{member}, Now: fixtureTime, Limits: Limits{MaxDecompressedBytes: 1 << 20}})
		if err == nil && o.Entity == nil {
			t.Fatal("no entity and no error")
		}
	})
}

func FuzzTextBody(f *testing.F) {
	addMailSeeds(f)
	f.Add([]byte("Content-Type: text/html\r\n\r\n<p>a<script>b"))
	f.Fuzz(func(t *testing.T, entity []byte) {
		text, atts, err := TextBody(entity)
		if err != nil {
			return
		}
		total := len(text)
		for _, a := range atts {
			total += len(a.Data)
		}
		if int64(total) > DefaultLimits().MaxDecompressedBytes+int64(len(entity)) {
			t.Fatalf("%d bytes decoded from %d", total, len(entity))
		}
	})
}

func FuzzParsePublicKey(f *testing.F) {
	for _, n := range []string{"team-x25519", "member-rsa"} {
		k := loadTestKey(f, n)
		arm, _ := k.ArmorPublic()
		f.Add([]byte(arm))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := ParsePublicKey(data)
		if err != nil {
			return
		}
		if k.IsPrivate() || len(k.Fingerprint()) < 40 {
			t.Fatalf("bad key %s", k.Fingerprint())
		}
		_ = k.Check(fixtureTime)
		_, _ = k.Expires()
	})
}
