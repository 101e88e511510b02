package crypto

import (
	"bytes"
	gocrypto "crypto"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/mail"
	"strings"
	"sync"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// Content is what a person reads: the real subject (carried in protected
// headers) and the MIME entity of the body (header fields, blank line, body;
// text/plain or multipart/mixed with attachments).
type Content struct {
	Subject string
	From    string
	Entity  []byte
	// Stream, when Entity is empty, is the entity written on demand: a
	// multipart entity too big to hold (a team copy carrying a big
	// attachment read from where it is stored), signed and sealed as it
	// is written (signstream.go).
	Stream *EntityStream
}

// Signed is a message signed by the team key, ready to be sealed for as
// many recipients as needed. It is safe for concurrent use. It has two
// variants: the one Entity returns, marked hp="clear" for public mail, and
// the one SealFor encrypts, marked hp="cipher". Each is signed once, when
// first needed, and both share the content's body rather than copy it, so
// a big message is held once.
type Signed struct {
	key  *Key
	at   time.Time
	prot *protected // its body is shared by both variants

	clear, cipher variant
}

// variant is one signed variant, made on first use.
type variant struct {
	hp     string
	once   sync.Once
	part   signedPart
	micalg string
	err    error
}

// signedPart is one multipart/signed entity without its body: the entity
// is head, then the shared body, then tail.
type signedPart struct{ head, tail []byte }

// signed returns v, signing it the first time.
func (s *Signed) signed(v *variant) (*variant, error) {
	v.once.Do(func() {
		if s.prot.stream != nil {
			v.part, v.micalg, v.err = s.key.signStream(s.prot.header(v.hp), s.prot.stream, s.at)
		} else {
			v.part, v.micalg, v.err = s.key.signEntity(s.prot.header(v.hp), s.prot.body, s.at)
		}
		if v.err != nil {
			v.err = fmtErr("sign", v.err)
		}
	})
	return v, v.err
}

func (s *Signed) size(p signedPart) int { return len(p.head) + s.prot.bodyLen() + len(p.tail) }

// writeChunk is the most writeChunked hands to one Write: the OpenPGP
// writers copy each write into buffers of its size.
const writeChunk = 64 << 10

// writeChunked writes each of bs to w, writeChunk bytes at a time.
func writeChunked(w io.Writer, bs ...[]byte) error {
	for _, b := range bs {
		for len(b) > 0 {
			n := min(len(b), writeChunk)
			if _, err := w.Write(b[:n]); err != nil {
				return err
			}
			b = b[n:]
		}
	}
	return nil
}

// writeTo writes the entity of p to w.
func (s *Signed) writeTo(w io.Writer, p signedPart) error {
	if s.prot.stream == nil {
		return writeChunked(w, p.head, s.prot.body, p.tail)
	}
	if err := writeChunked(w, p.head); err != nil {
		return err
	}
	if err := s.prot.stream.writeTo(w); err != nil {
		return err
	}
	return writeChunked(w, p.tail)
}

// Sign prepares c to be signed with k at time at. The signed part carries
// c.Subject and c.From as protected headers (RFC 9788, and
// protected-headers="v1" for older clients); the variant SealFor encrypts
// also says, in HP-Outer fields, that the outer header shows the same From
// and the Subject ObscuredSubject. Everything that can be wrong
// with the key or the content is reported here; the signature of each
// variant is made when the variant is first used, so mail that is only
// sealed is signed once. The result keeps c.Entity's body: do not change
// it afterwards.
func (k *Key) Sign(c Content, at time.Time) (*Signed, error) {
	if !k.private {
		return nil, fmtErr("sign", fmt.Errorf("key %s: %w", k.Fingerprint(), ErrNotPrivate))
	}
	sk, ok := k.entity.SigningKey(at)
	if !ok {
		if err := k.check(at); err != nil && !errors.Is(err, ErrNoEncryptKey) {
			return nil, fmtErr("sign", err)
		}
		return nil, fmtErr("sign", fmt.Errorf("key %s at %s: %w", k.Fingerprint(), at.UTC().Format(time.RFC3339), ErrNoSignKey))
	}
	// The signatures are made later: refuse now what they would fail on,
	// a secret that is not there (gpg's offline primary) or still locked.
	if sk.PrivateKey == nil || sk.PrivateKey.Dummy() || sk.PrivateKey.Encrypted {
		return nil, fmtErr("sign", fmt.Errorf("key %s: the signing key's secret is not available: %w", k.Fingerprint(), ErrNoSignKey))
	}
	p, err := newProtected(c)
	if err != nil {
		return nil, fmtErr("sign", err)
	}
	return &Signed{key: k, at: at, prot: p, clear: variant{hp: "clear"}, cipher: variant{hp: "cipher"}}, nil
}

// Entity returns the multipart/signed entity (Content-Type header field,
// blank line, body) for public mail.
func (s *Signed) Entity() ([]byte, error) {
	v, err := s.signed(&s.clear)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.Grow(s.size(v.part))
	s.writeTo(&b, v.part)
	return b.Bytes(), nil
}

// Micalg is the micalg parameter of the signature ("pgp-sha512"), "" when
// signing failed.
func (s *Signed) Micalg() string {
	v, _ := s.signed(&s.clear)
	return v.micalg
}

// ObscuredSubject is the outer Subject of every encrypted message: what
// RFC 9788's baseline header confidentiality policy (hcp_baseline) puts in
// place of the real one, which only the protected header carries. The
// sealed variant records it in an HP-Outer header field, so the caller must
// put exactly this outer Subject on what SealFor returns.
const ObscuredSubject = "[...]"

// protected is the part that is signed: c.Entity with c.Subject and c.From
// added as protected header fields, 7-bit clean and CRLF. Its header is
// made per variant; its body is shared.
type protected struct {
	mediaType string
	params    map[string]string
	fields    string // the header fields after Content-Type
	outer     string // the HP-Outer fields of the cipher variant
	body      []byte
	stream    *streamBody // the body instead, written on demand
}

func newProtected(c Content) (*protected, error) {
	var h, body []byte
	var stream *streamBody
	switch {
	case len(c.Entity) > 0:
		h, body = splitEntity(canonCRLF(c.Entity))
	case c.Stream != nil:
		var err error
		if h, stream, err = c.Stream.split(); err != nil {
			return nil, fmt.Errorf("content entity: %w", err)
		}
	default:
		return nil, fmt.Errorf("empty content entity")
	}
	hdr, err := parseHeader(h, 100)
	if err != nil {
		return nil, fmt.Errorf("content entity: %w", err)
	}
	t, params, err := mediaType(hdr)
	if err != nil {
		return nil, fmt.Errorf("content entity: %w", err)
	}
	if strings.HasPrefix(t, "text/") && params["charset"] == "" {
		params["charset"] = "utf-8"
	}
	cte := strings.ToLower(strings.TrimSpace(hdr.Get("Content-Transfer-Encoding")))
	switch {
	case stream != nil:
		// Checked as it is signed (signStream).
		if !strings.HasPrefix(t, "multipart/") {
			return nil, fmt.Errorf("content entity: a streamed entity must be multipart, not %s", t)
		}
	case strings.HasPrefix(t, "multipart/"):
		if !is7bit(body) {
			return nil, fmt.Errorf("content entity: multipart body is not 7-bit: encode its parts")
		}
	case cte == "base64" || cte == "quoted-printable":
	case cte == "" || cte == "7bit" || cte == "8bit":
		if needsEncoding(body) {
			body = encodeQP(body)
			cte = "quoted-printable"
		}
	default:
		return nil, fmt.Errorf("content entity: unsupported Content-Transfer-Encoding %q", cte)
	}
	params["protected-headers"] = "v1"

	var b strings.Builder
	if cte != "" && cte != "7bit" {
		b.WriteString("Content-Transfer-Encoding: " + cte + "\r\n")
	}
	for f := hdr.Fields(); f.Next(); {
		k := strings.ToLower(f.Key())
		if !strings.HasPrefix(k, "content-") || k == "content-type" || k == "content-transfer-encoding" {
			continue
		}
		b.WriteString(f.Key() + ": " + headerSafe(f.Value()) + "\r\n")
	}
	// RFC 9788 §2.2: inside an encrypted message, one HP-Outer field for
	// each protected field says what the outer header shows in its place,
	// "Name: value": the same From, and the obscured Subject. The signed
	// part, and so its signature, is shared by every recipient's copy: only
	// fields whose outer value is the same in every copy can be recorded.
	// To and Message-ID differ per recipient and are left out (they are not
	// protected fields either); recording them would take one signature
	// per recipient.
	var outer strings.Builder
	if c.From != "" {
		from := encodeAddress(headerSafe(c.From))
		b.WriteString(foldField("From", from))
		outer.WriteString(foldField("HP-Outer", "From: "+from))
	}
	b.WriteString(foldField("Subject", mime.QEncoding.Encode("utf-8", headerSafe(c.Subject))))
	outer.WriteString(foldField("HP-Outer", "Subject: "+ObscuredSubject))
	return &protected{mediaType: t, params: params, fields: b.String(), outer: outer.String(), body: body, stream: stream}, nil
}

// header is the header of the variant marked hp, with its blank line: the
// cipher variant's also has the HP-Outer fields, which belong to encrypted
// messages only.
func (p *protected) header(hp string) []byte {
	params := maps.Clone(p.params)
	params["hp"] = hp
	h := "Content-Type: " + formatMediaType(p.mediaType, params) + "\r\n" + p.fields
	if hp == "cipher" {
		h += p.outer
	}
	return []byte(h + "\r\n")
}

// encodeAddress RFC 2047-encodes the display name of a non-ASCII address.
func encodeAddress(s string) string {
	if isASCII(s) {
		return s
	}
	if a, err := mail.ParseAddress(s); err == nil {
		return a.String()
	}
	return mime.QEncoding.Encode("utf-8", s)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// foldField formats a header field, folding it at spaces so that lines stay
// within 78 characters where the words allow.
func foldField(name, value string) string {
	var b strings.Builder
	b.WriteString(name + ":")
	n := len(name) + 1
	for i, w := range strings.Split(value, " ") {
		if i > 0 && n+1+len(w) > 78 {
			b.WriteString("\r\n")
			n = 0
		}
		b.WriteString(" " + w)
		n += 1 + len(w)
	}
	b.WriteString("\r\n")
	return b.String()
}

// signEntity signs the entity header+body and returns the multipart/signed
// around it with a detached signature.
func (k *Key) signEntity(header, body []byte, at time.Time) (signedPart, string, error) {
	arm, micalg, err := k.detachSign(&slicesReader{header, body}, at)
	if err != nil {
		return signedPart{}, "", err
	}
	boundary := k.newBoundary()
	if bytes.Contains(header, []byte(boundary)) || bytes.Contains(body, []byte(boundary)) {
		return signedPart{}, "", fmt.Errorf("boundary occurs in content")
	}
	return signedAround(boundary, header, micalg, arm), micalg, nil
}

// detachSign makes the armored detached signature of what r reads, and
// names its hash as micalg.
func (k *Key) detachSign(r io.Reader, at time.Time) (arm []byte, micalg string, err error) {
	cfg := baseConfig(at)
	var sig bytes.Buffer
	if err := openpgp.DetachSign(&sig, k.entity, r, cfg); err != nil {
		return nil, "", fmt.Errorf("key %s: %w", k.Fingerprint(), err)
	}
	p, err := packet.Read(bytes.NewReader(sig.Bytes()))
	if err != nil {
		return nil, "", err
	}
	sp, ok := p.(*packet.Signature)
	if !ok {
		return nil, "", fmt.Errorf("signature output is not a signature packet")
	}
	if micalg, err = micalgOf(sp.Hash); err != nil {
		return nil, "", err
	}
	if arm, err = armorBytes("PGP SIGNATURE", sig.Bytes()); err != nil {
		return nil, "", err
	}
	return arm, micalg, nil
}

// signedAround is the multipart/signed entity, delimited by boundary,
// around the signed part's header (its body goes between head and tail)
// and the armored signature arm.
func signedAround(boundary string, header []byte, micalg string, arm []byte) signedPart {
	head := "Content-Type: " + formatMediaType("multipart/signed", map[string]string{
		"boundary": boundary,
		"micalg":   micalg,
		"protocol": "application/pgp-signature",
	}) + "\r\n\r\n" +
		"This is an OpenPGP/MIME signed message (RFC 4880 and 3156)\r\n" +
		"--" + boundary + "\r\n" + string(header)
	tail := "\r\n--" + boundary + "\r\n" +
		"Content-Type: application/pgp-signature; name=\"signature.asc\"\r\n" +
		"Content-Description: OpenPGP digital signature\r\n" +
		"Content-Disposition: attachment; filename=\"signature.asc\"\r\n\r\n" +
		string(arm) + "\r\n--" + boundary + "--\r\n"
	return signedPart{head: []byte(head), tail: []byte(tail)}
}

// micalgOf names a hash as RFC 3156 micalg; weak hashes are refused.
func micalgOf(h gocrypto.Hash) (string, error) {
	switch h {
	case gocrypto.SHA224:
		return "pgp-sha224", nil
	case gocrypto.SHA256:
		return "pgp-sha256", nil
	case gocrypto.SHA384:
		return "pgp-sha384", nil
	case gocrypto.SHA512:
		return "pgp-sha512", nil
	case gocrypto.SHA3_256:
		return "pgp-sha3-256", nil
	case gocrypto.SHA3_512:
		return "pgp-sha3-512", nil
	}
	return "", fmt.Errorf("signature hash %v not allowed", h)
}
