package crypto

import (
	"bytes"
	"mime"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/secgate/secgate/internal/gpgtest"
)

// loadTestKey reads a private key kept under testdata/.
func loadTestKey(t testing.TB, name string) *Key {
	t.Helper()
	keyMu.Lock()
	defer keyMu.Unlock()
	if k, ok := keyCache["file:"+name]; ok {
		return k
	}
	k, err := LoadPrivateKey(filepath.Join("testdata", name+".sec.asc"), []byte(testPassphrase))
	if err != nil {
		t.Fatal(err)
	}
	keyCache["file:"+name] = k
	return k
}

// interopCase is one pairing of our team key with a key held by gpg.
type interopCase struct {
	name   string
	team   func(t testing.TB) *Key
	member func(t testing.TB, g *gpgtest.GPG) string // fingerprint in gpg
}

func interopCases() []interopCase {
	return []interopCase{
		{
			name: "curve25519",
			team: func(t testing.TB) *Key { return testKey(t, "team") },
			member: func(t testing.TB, g *gpgtest.GPG) string {
				return g.GenKey("Member <member@example.org>", "ed25519")
			},
		},
		{
			name: "rsa3072",
			team: func(t testing.TB) *Key { return loadTestKey(t, "team-rsa") },
			member: func(t testing.TB, g *gpgtest.GPG) string {
				k := loadTestKey(t, "member-rsa")
				arm, err := k.ArmorPrivate([]byte(testPassphrase))
				if err != nil {
					t.Fatal(err)
				}
				g.Import([]byte(arm))
				return k.Fingerprint()
			},
		},
	}
}

// setup makes a gpg home holding the member's secret key and the team's
// public key; it returns the member's public key as this package sees it.
func (c interopCase) setup(t *testing.T) (*gpgtest.GPG, *Key, *Key, string) {
	g := gpgtest.New(t)
	g.Passphrase = testPassphrase
	team := c.team(t)
	fpr := c.member(t, g)
	pubArm, err := team.ArmorPublic()
	if err != nil {
		t.Fatal(err)
	}
	g.Import([]byte(pubArm))
	member, err := ParsePublicKey(g.Export(fpr))
	if err != nil {
		t.Fatal(err)
	}
	if member.Fingerprint() != fpr {
		t.Fatalf("member fingerprint %s, gpg says %s", member.Fingerprint(), fpr)
	}
	return g, team, member, fpr
}

const mailHeader = "From: Member <member@example.org>\r\nTo: security@example.org\r\nSubject: ...\r\nDate: Sun, 22 Nov 2026 03:00:00 +0000\r\nMessage-ID: <1@example.org>\r\nMIME-Version: 1.0\r\n"

const innerEntity = "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\nclose SEC-2026-0002\r\n"

// pgpMIME wraps an armored OpenPGP message as a mail client does.
func pgpMIME(armored []byte) []byte {
	return []byte(mailHeader + "Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=\"XYZ\"\r\n\r\n" +
		"--XYZ\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n\r\n" +
		"--XYZ\r\nContent-Type: application/octet-stream; name=\"encrypted.asc\"\r\n\r\n" +
		string(canonCRLF(armored)) + "\r\n--XYZ--\r\n")
}

// pgpSigned builds multipart/signed over part with gpg's detached signature.
func pgpSigned(g *gpgtest.GPG, fpr, part string, mode gpgtest.SignMode) []byte {
	sig := g.Sign([]byte(part), fpr, mode)
	return []byte("Content-Type: multipart/signed; micalg=pgp-sha256; protocol=\"application/pgp-signature\"; boundary=\"SIG\"\r\n\r\n" +
		"--SIG\r\n" + part + "\r\n--SIG\r\nContent-Type: application/pgp-signature\r\n\r\n" +
		string(canonCRLF(sig)) + "\r\n--SIG--\r\n")
}

func TestInteropGPGToUs(t *testing.T) {
	for _, c := range interopCases() {
		t.Run(c.name, func(t *testing.T) {
			g, team, member, fpr := c.setup(t)
			teamFpr := team.Fingerprint()
			now := time.Now()
			opts := OpenOptions{Decrypt: team, Verifiers: []*Key{member}, Now: now}
			tests := []struct {
				name      string
				msg       []byte
				encrypted bool
				inline    bool
				want      string // text the entity must contain
			}{
				{"pgpmime-combined", pgpMIME(g.Encrypt([]byte(innerEntity), teamFpr, fpr)), true, false, "close SEC-2026-0002"},
				{"pgpmime-nested", pgpMIME(g.Encrypt(pgpSigned(g, fpr, innerEntity, gpgtest.Detached), teamFpr, "")), true, false, "close SEC-2026-0002"},
				{"signed", append([]byte(mailHeader), pgpSigned(g, fpr, innerEntity, gpgtest.Detached)...), false, false, "close SEC-2026-0002"},
				{"signed-textmode", append([]byte(mailHeader), pgpSigned(g, fpr, innerEntity, gpgtest.DetachedText)...), false, false, "close SEC-2026-0002"},
				{"inline-encrypted", []byte(mailHeader + "Content-Type: text/plain; charset=us-ascii\r\n\r\n" + string(g.Encrypt([]byte("close SEC-2026-0002\n"), teamFpr, fpr))), true, true, "close SEC-2026-0002"},
				{"inline-signed", []byte(mailHeader + "Content-Type: text/plain\r\n\r\n" + string(g.Sign([]byte("close SEC-2026-0002\n"), fpr, gpgtest.Inline))), false, true, "close SEC-2026-0002"},
				{"clearsigned", []byte(mailHeader + "Content-Type: text/plain\r\n\r\n" + string(g.Sign([]byte("close SEC-2026-0002\n- dash line\n"), fpr, gpgtest.Clearsign))), false, true, "- dash line"},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					o, err := Open(tt.msg, opts)
					if err != nil {
						t.Fatalf("Open: %v", err)
					}
					if o.Encrypted != tt.encrypted || o.Inline != tt.inline {
						t.Errorf("Encrypted=%v Inline=%v, want %v %v", o.Encrypted, o.Inline, tt.encrypted, tt.inline)
					}
					s := o.Signature
					if s == nil || s.Err != nil || !s.Whole || s.Fingerprint != fpr || s.ID == "" {
						t.Fatalf("signature %+v, want valid whole by %s", s, fpr)
					}
					text, _, err := TextBody(o.Entity)
					if err != nil || !strings.Contains(text, tt.want) {
						t.Errorf("TextBody = %q, %v", text, err)
					}
					// Unknown signer: same message, no verifier.
					o, err = Open(tt.msg, OpenOptions{Decrypt: team, Now: now})
					if err != nil {
						t.Fatalf("Open without verifier: %v", err)
					}
					if o.Signature == nil || o.Signature.Err == nil || o.Signature.Fingerprint != "" {
						t.Errorf("without verifier: signature %+v, want unknown signer", o.Signature)
					}
				})
			}
		})
	}
}

// splitLikeAClient splits a two-part multipart entity the way a mail client
// does (independently of this package's splitter): the first part runs from
// after "--B CRLF" to before "CRLF --B".
func splitLikeAClient(t *testing.T, entity []byte) (first, second []byte) {
	t.Helper()
	h, body, ok := bytes.Cut(entity, []byte("\r\n\r\n"))
	if !ok {
		t.Fatal("no header")
	}
	ct := strings.TrimPrefix(strings.SplitN(strings.ReplaceAll(string(h), "\r\n\t", " "), "\r\n", 2)[0], "Content-Type: ")
	_, params, err := mime.ParseMediaType(ct)
	if err != nil {
		t.Fatal(err)
	}
	delim := "--" + params["boundary"]
	i := bytes.Index(body, []byte(delim+"\r\n"))
	rest := body[i+len(delim)+2:]
	j := bytes.Index(rest, []byte("\r\n"+delim+"\r\n"))
	first = rest[:j]
	rest = rest[j+len(delim)+4:]
	k := bytes.Index(rest, []byte("\r\n"+delim+"--"))
	return first, rest[:k]
}

func TestInteropUsToGPG(t *testing.T) {
	for _, c := range interopCases() {
		t.Run(c.name, func(t *testing.T) {
			g, team, member, _ := c.setup(t)
			now := time.Now()
			s, err := team.Sign(Content{Subject: "Embargoed: SEC-2026-0003", From: "Security Team <security@example.org>", Entity: []byte(innerEntity)}, now)
			if err != nil {
				t.Fatal(err)
			}
			sealed, err := s.SealFor(member, now)
			if err != nil {
				t.Fatal(err)
			}
			_, data := splitLikeAClient(t, sealed)
			_, armored, _ := bytes.Cut(data, []byte("\r\n\r\n"))
			r := g.Decrypt(armored)
			if r.Err != nil || !r.Has("DECRYPTION_OKAY") || !r.Has("GOODMDC") {
				t.Fatalf("gpg --decrypt: %v\n%s\n%v", r.Err, r.Stderr, r.Status)
			}
			encTo := 0
			for _, l := range r.Status {
				if strings.HasPrefix(l, "ENC_TO ") {
					encTo++
				}
			}
			if encTo != 1 {
				t.Errorf("gpg saw %d ENC_TO, want 1: %v", encTo, r.Status)
			}
			// At-rest ciphertext is standard OpenPGP too.
			ct, err := member.EncryptAtRest([]byte("case notes"))
			if err != nil {
				t.Fatal(err)
			}
			if r := g.Decrypt(ct); r.Err != nil || string(r.Stdout) != "case notes" || !r.Has("DECRYPTION_OKAY") {
				t.Fatalf("gpg --decrypt of at-rest data: %v %s %v", r.Err, r.Stderr, r.Status)
			}
			inner := r.Stdout
			if !bytes.HasPrefix(inner, []byte("Content-Type: multipart/signed")) {
				t.Fatalf("decrypted inner part:\n%s", inner)
			}
			for name, ent := range map[string][]byte{"sealed": inner, "public": entityOf(t, s)} {
				part, sigPart := splitLikeAClient(t, ent)
				_, sig, _ := bytes.Cut(sigPart, []byte("\r\n\r\n"))
				v := g.Verify(part, sig)
				if v.Err != nil || !v.Has("VALIDSIG") || !v.Has("GOODSIG") {
					t.Fatalf("%s: gpg --verify: %v\n%s\n%v", name, v.Err, v.Stderr, v.Status)
				}
				if a := v.Args("VALIDSIG"); a[len(a)-1] != team.Fingerprint() {
					t.Errorf("%s: VALIDSIG primary %s, want %s", name, a[len(a)-1], team.Fingerprint())
				}
				if !bytes.Contains(part, []byte("Subject: Embargoed: SEC-2026-0003")) {
					t.Errorf("%s: no protected Subject in\n%s", name, part)
				}
				// RFC 9788: what gpg decrypted says what the outer
				// header shows; the public variant has nothing to say.
				hdr, _, _ := bytes.Cut(part, []byte("\r\n\r\n"))
				hdr = append(hdr, "\r\n"...)
				sealedVariant := name == "sealed"
				if got := bytes.Contains(hdr, []byte("\r\nHP-Outer: Subject: [...]\r\n")); got != sealedVariant {
					t.Errorf("%s: HP-Outer: Subject: [...] present = %v in\n%s", name, got, hdr)
				}
				if got := bytes.Contains(hdr, []byte(`hp="cipher"`)); got != sealedVariant {
					t.Errorf("%s: hp=\"cipher\" = %v in\n%s", name, got, hdr)
				}
			}
		})
	}
}
