package crypto

import (
	"bytes"
	"fmt"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
)

// SealFor encrypts the signed message to recipient alone and returns a
// multipart/encrypted entity (RFC 3156: Content-Type header field, blank
// line, body). It takes exactly one key, and the result has exactly one
// public-key encrypted session key packet: there is no way to make one
// ciphertext for several recipients. The recipient key must be valid at at.
func (s *Signed) SealFor(recipient *Key, at time.Time) ([]byte, error) {
	if recipient == nil {
		return nil, fmtErr("seal", fmt.Errorf("no recipient key"))
	}
	if err := recipient.checkEncrypt(at); err != nil {
		return nil, fmtErr("seal", err)
	}
	ct, err := encryptTo(recipient, s.cipher, at)
	if err != nil {
		return nil, fmtErr("seal", err)
	}
	arm, err := armorBytes("PGP MESSAGE", ct)
	if err != nil {
		return nil, fmtErr("seal", err)
	}
	boundary := s.key.newBoundary()
	var b bytes.Buffer
	b.WriteString("Content-Type: " + formatMediaType("multipart/encrypted", map[string]string{
		"boundary": boundary,
		"protocol": "application/pgp-encrypted",
	}) + "\r\n\r\n")
	b.WriteString("This is an OpenPGP/MIME encrypted message (RFC 4880 and 3156)\r\n")
	b.WriteString("--" + boundary + "\r\n")
	b.WriteString("Content-Type: application/pgp-encrypted\r\n")
	b.WriteString("Content-Description: PGP/MIME version identification\r\n\r\n")
	b.WriteString("Version: 1\r\n\r\n")
	b.WriteString("--" + boundary + "\r\n")
	b.WriteString("Content-Type: application/octet-stream; name=\"encrypted.asc\"\r\n")
	b.WriteString("Content-Description: OpenPGP encrypted message\r\n")
	b.WriteString("Content-Disposition: inline; filename=\"encrypted.asc\"\r\n\r\n")
	b.Write(arm)
	b.WriteString("\r\n\r\n--" + boundary + "--\r\n")
	return b.Bytes(), nil
}

// encryptTo encrypts plain to the one key's encryption subkey valid at at,
// binary, without compression or signature.
func encryptTo(k *Key, plain []byte, at time.Time) ([]byte, error) {
	var out bytes.Buffer
	w, err := openpgp.Encrypt(&out, []*openpgp.Entity{k.entity}, nil, &openpgp.FileHints{IsBinary: true}, baseConfig(at))
	if err != nil {
		return nil, fmt.Errorf("encrypt to %s: %w", k.Fingerprint(), err)
	}
	if _, err := w.Write(plain); err != nil {
		return nil, fmt.Errorf("encrypt to %s: %w", k.Fingerprint(), err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("encrypt to %s: %w", k.Fingerprint(), err)
	}
	return out.Bytes(), nil
}
