package crypto

import (
	"bytes"
	gocrypto "crypto"
	"errors"
	"fmt"
	"mime"
	"net/mail"
	"strings"
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
}

// Signed is a message signed once by the team key. It is immutable and safe
// for concurrent use: seal it for as many recipients as needed.
type Signed struct {
	micalg string
	clear  []byte // multipart/signed, protected headers hp="clear"
	cipher []byte // multipart/signed, protected headers hp="cipher": sealed
	key    *Key
}

// Sign signs c with k at time at. The signed part carries c.Subject and
// c.From as protected headers (RFC 9788, and protected-headers="v1" for older
// clients). Two variants are signed: the one Entity returns, marked
// hp="clear" for public mail, and the one SealFor encrypts, marked
// hp="cipher"; every sealed copy shares that one signature.
func (k *Key) Sign(c Content, at time.Time) (*Signed, error) {
	if !k.private {
		return nil, fmtErr("sign", fmt.Errorf("key %s: %w", k.Fingerprint(), ErrNotPrivate))
	}
	if _, ok := k.entity.SigningKey(at); !ok {
		if err := k.check(at); err != nil && !errors.Is(err, ErrNoEncryptKey) {
			return nil, fmtErr("sign", err)
		}
		return nil, fmtErr("sign", fmt.Errorf("key %s at %s: %w", k.Fingerprint(), at.UTC().Format(time.RFC3339), ErrNoSignKey))
	}
	s := &Signed{key: k}
	for _, hp := range []string{"clear", "cipher"} {
		inner, err := protectedEntity(c, hp)
		if err != nil {
			return nil, fmtErr("sign", err)
		}
		ent, micalg, err := k.signEntity(inner, at)
		if err != nil {
			return nil, fmtErr("sign", err)
		}
		s.micalg = micalg
		if hp == "clear" {
			s.clear = ent
		} else {
			s.cipher = ent
		}
	}
	return s, nil
}

// Entity returns the multipart/signed entity (Content-Type header field,
// blank line, body) for public mail.
func (s *Signed) Entity() []byte { return bytes.Clone(s.clear) }

// Micalg is the micalg parameter of the signature ("pgp-sha512").
func (s *Signed) Micalg() string { return s.micalg }

// protectedEntity builds the part that is signed: c.Entity with c.Subject
// and c.From added as protected header fields, 7-bit clean and CRLF.
func protectedEntity(c Content, hp string) ([]byte, error) {
	if len(c.Entity) == 0 {
		return nil, fmt.Errorf("empty content entity")
	}
	h, body := splitEntity(canonCRLF(c.Entity))
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
	params["hp"] = hp

	var b bytes.Buffer
	b.WriteString("Content-Type: " + formatMediaType(t, params) + "\r\n")
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
	if c.From != "" {
		b.WriteString(foldField("From", encodeAddress(headerSafe(c.From))))
	}
	b.WriteString(foldField("Subject", mime.QEncoding.Encode("utf-8", headerSafe(c.Subject))))
	b.WriteString("\r\n")
	b.Write(body)
	return b.Bytes(), nil
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

// signEntity wraps inner into multipart/signed with a detached signature.
func (k *Key) signEntity(inner []byte, at time.Time) ([]byte, string, error) {
	cfg := baseConfig(at)
	var sig bytes.Buffer
	if err := openpgp.DetachSign(&sig, k.entity, bytes.NewReader(inner), cfg); err != nil {
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
	micalg, err := micalgOf(sp.Hash)
	if err != nil {
		return nil, "", err
	}
	arm, err := armorBytes("PGP SIGNATURE", sig.Bytes())
	if err != nil {
		return nil, "", err
	}
	boundary := k.newBoundary()
	if bytes.Contains(inner, []byte(boundary)) {
		return nil, "", fmt.Errorf("boundary occurs in content")
	}
	var b bytes.Buffer
	b.WriteString("Content-Type: " + formatMediaType("multipart/signed", map[string]string{
		"boundary": boundary,
		"micalg":   micalg,
		"protocol": "application/pgp-signature",
	}) + "\r\n\r\n")
	b.WriteString("This is an OpenPGP/MIME signed message (RFC 4880 and 3156)\r\n")
	b.WriteString("--" + boundary + "\r\n")
	b.Write(inner)
	b.WriteString("\r\n--" + boundary + "\r\n")
	b.WriteString("Content-Type: application/pgp-signature; name=\"signature.asc\"\r\n")
	b.WriteString("Content-Description: OpenPGP digital signature\r\n")
	b.WriteString("Content-Disposition: attachment; filename=\"signature.asc\"\r\n\r\n")
	b.Write(arm)
	b.WriteString("\r\n--" + boundary + "--\r\n")
	return b.Bytes(), micalg, nil
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
