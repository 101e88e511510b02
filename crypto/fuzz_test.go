package crypto

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
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

// FuzzInlineMixed opens multipart/mixed messages whose parts are
// encrypted one by one (inline PGP with attachments), seeded with such
// messages to the kept team key. Whatever the parts, the entity Open makes
// of them holds the decrypted text and nothing else as text: every other
// part is an attachment; Outside stays bounded and is there exactly when
// Partial says so.
func FuzzInlineMixed(f *testing.F) {
	team, member := fuzzKeys(f)
	signer := loadTestKey(f, "member-x25519")
	enc := func(s string, by *Key) []byte { return encryptTo(f, team, by, []byte(s)) }
	body := textPart(string(mustArmor(f, enc("inline text\r\n", nil))))
	f.Add(inlineMixed(body, filePart("a.txt.pgp", "application/octet-stream", enc("attached", nil))))
	f.Add(inlineMixed(textPart("Hi\r\n"), body, ascPart("b.asc", mustArmor(f, enc("armored", signer))), filePart("c.png", "image/png", []byte("PNG"))))
	f.Add(inlineMixed(textPart("\r\n"), filePart("d.gpg", "application/pgp-encrypted", encryptTo(f, loadTestKey(f, "member-x25519"), nil, []byte("D"))),
		"Content-Type: multipart/alternative; boundary=ALT\r\n\r\n--ALT\r\nContent-Type: text/html\r\n\r\n<p>x</p>\r\n--ALT--\r\n"))
	prefix := []byte("Content-Type: multipart/mixed; boundary=\"" + mixedBoundary + "\"\r\n\r\n")
	f.Fuzz(func(t *testing.T, raw []byte) {
		o, err := Open(raw, OpenOptions{Decrypt: team, Verifiers: []*Key{member}, Now: fixtureTime, Limits: Limits{MaxDecompressedBytes: 1 << 20}})
		if err != nil || !o.Inline || !bytes.HasPrefix(o.Entity, prefix) {
			return // not one whose parts were decrypted one by one
		}
		if len(o.Outside) > MaxOutside || o.Partial != (o.Outside != nil) {
			t.Fatalf("Partial=%v, Outside of %d bytes", o.Partial, len(o.Outside))
		}
		if len(o.Identities) == 0 || len(o.Identities)%2 != 0 {
			t.Fatalf("%d identities", len(o.Identities))
		}
		_, body := splitEntity(o.Entity)
		parts, err := splitMultipart(body, mixedBoundary, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range parts {
			h, _ := splitEntity(p)
			if !bytes.HasPrefix(h, []byte("Content-Type: text/plain; charset=\"utf-8\"\r\nContent-Transfer-Encoding: quoted-printable\r\n")) &&
				!bytes.Contains(h, []byte("\r\nContent-Disposition: attachment")) {
				t.Fatalf("a part that is neither decrypted text nor an attachment: %q", h)
			}
		}
		if _, _, err := TextBody(o.Entity); err != nil {
			t.Fatalf("TextBody of the entity: %v", err)
		}
	})
}

func FuzzTextBody(f *testing.F) {
	addMailSeeds(f)
	f.Add([]byte("Content-Type: text/html\r\n\r\n<p>a<script>b"))
	f.Add([]byte("Content-Type: text/plain; format=flowed; delsp=yes\r\n\r\n> a \r\n>> b \r\n c \r\n-- \r\nd\r\n"))
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

// FuzzReencodeIdentity re-encodes the kept gpg report
// (testdata/reencode, made by TestGenerateReencodeSeed) as the fuzzer
// chooses: armor line length, flips of the base64 bits that carry no
// data, header framing of the session-key and data packets (old or new
// format, length sizes, partial lengths), a marker packet, armor headers
// and checksum, PGP/MIME armored or binary in base64 or quoted-printable,
// inline plain or quoted-printable, LF or CRLF. Every such re-encoding
// must open, with the seed's identities.
func FuzzReencodeIdentity(f *testing.F) {
	team := loadTestKey(f, "team-x25519")
	armored, err := os.ReadFile(filepath.Join("testdata", "reencode", "gpg-report.asc"))
	if err != nil {
		f.Fatal(err)
	}
	bin, err := dearmor(armored, "PGP MESSAGE")
	if err != nil {
		f.Fatal(err)
	}
	pkts, err := splitPackets(bin)
	if err != nil {
		f.Fatal(err)
	}
	opts := OpenOptions{Decrypt: team, Now: fixtureTime}
	seed, err := Open(pgpMIME(armored), opts)
	if err != nil || len(seed.Identities) != 2 {
		f.Fatalf("Open of the seed: %v", err)
	}
	// line, flip, session-key framing, data framing, wrapping and flags
	f.Add(uint8(15), uint8(0), uint8(0), uint8(0), uint8(0))
	f.Add(uint8(18), uint8(1), uint8(1), uint8(1), uint8(mimeArmor|0x20))
	f.Add(uint8(3), uint8(3), uint8(7), uint8(3|9<<2), uint8(mimeBase64))
	f.Add(uint8(255), uint8(0xff), uint8(8), uint8(2), uint8(mimeQP|0x80))
	f.Add(uint8(9), uint8(2), uint8(3), uint8(3|10<<2), uint8(inlineText|0x10|0x20))
	f.Add(uint8(39), uint8(0), uint8(2), uint8(3|1<<2), uint8(inlineQP|0x40|0x80))
	f.Add(uint8(30), uint8(0x0f), uint8(5), uint8(3|15<<2), uint8(mimeArmor|0x10|0x40))
	f.Fuzz(func(t *testing.T, line, flip, pkesk, data, flags uint8) {
		r := reencoding{
			lineLen: 4 * (1 + int(line%40)), // a multiple of 4: no line starts with padding
			flip:    flip,
			pkesk:   framing{old: pkesk&1 != 0, lenSize: []int{0, 1, 2, 4, 5}[int(pkesk>>1)%5]},
			wrap:    wrapping(flags&0x0f) % wrappings,
			marker:  flags&0x10 != 0,
			headers: flags&0x20 != 0,
			noCRC:   flags&0x40 != 0,
			lf:      flags&0x80 != 0,
		}
		if line == 255 {
			r.lineLen = 1 << 20
		}
		switch data % 4 {
		case 1:
			r.data.lenSize = 2
		case 2:
			r.data.lenSize = 5
		case 3:
			r.data.partial = 1 + int(data>>2)%15
		}
		mail, _ := r.mail(pkts)
		o, err := Open(mail, opts)
		if o != nil && o.Identities != nil && !slices.EqualFunc(o.Identities, seed.Identities, bytes.Equal) {
			t.Fatalf("%+v: identities %x, the seed's %x", r, o.Identities, seed.Identities)
		}
		if err != nil {
			t.Fatalf("%+v: Open: %v", r, err)
		}
	})
}
