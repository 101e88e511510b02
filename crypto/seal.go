package crypto

import (
	"bytes"
	"fmt"
	"io"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
)

// SealFor encrypts the signed message to recipient alone and returns a
// multipart/encrypted entity (RFC 3156: Content-Type header field, blank
// line, body). It takes exactly one key, and the result has exactly one
// public-key encrypted session key packet: there is no way to make one
// ciphertext for several recipients. The recipient key must be valid at at.
func (s *Signed) SealFor(recipient *Key, at time.Time) ([]byte, error) {
	return s.AppendSealed(nil, recipient, at)
}

// AppendSealed is SealFor appending the entity to dst, so that a message's
// outer header and its sealed body are written once, into one buffer. The
// encryption streams from the signed parts through the armorer into that
// buffer: a big message is not copied on the way.
func (s *Signed) AppendSealed(dst []byte, recipient *Key, at time.Time) ([]byte, error) {
	b := bytes.NewBuffer(dst)
	b.Grow(s.SealedLen())
	if err := s.WriteSealed(b, recipient, at); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// WriteSealed is SealFor writing the entity to w as it is encrypted, so
// that the sealed copy of a big message is never whole in memory (the
// outbox writes it into the pieces of its row).
func (s *Signed) WriteSealed(w io.Writer, recipient *Key, at time.Time) error {
	if recipient == nil {
		return fmtErr("seal", fmt.Errorf("no recipient key"))
	}
	if err := recipient.checkEncrypt(at); err != nil {
		return fmtErr("seal", err)
	}
	v, err := s.signed(&s.cipher)
	if err != nil {
		return err
	}
	boundary := s.key.newBoundary()
	b := &stickyWriter{w: w}
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
	if b.err == nil {
		if err := s.encryptTo(crlfWriter{b}, v.part, recipient, at); err != nil {
			return fmtErr("seal", err)
		}
	}
	b.WriteString("\r\n\r\n--" + boundary + "--\r\n")
	if b.err != nil {
		return fmtErr("seal", b.err)
	}
	return nil
}

// stickyWriter writes to w until a write fails, and keeps that error.
type stickyWriter struct {
	w   io.Writer
	err error
}

func (s *stickyWriter) Write(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	n, err := s.w.Write(p)
	s.err = err
	return n, err
}

func (s *stickyWriter) WriteString(str string) {
	if s.err == nil {
		_, s.err = io.WriteString(s.w, str)
	}
}

// SealedLen is an upper bound of the size of one sealed entity (RSA-4096
// recipients and signatures included), for sizing buffers.
func (s *Signed) SealedLen() int {
	n := s.prot.bodyLen() + 4096 // the signed part's header and its signature
	return armoredLen(n+n/256+1024) + 640
}

// encryptTo armors into w the cipher variant encrypted to the one key's
// encryption subkey valid at at: binary literal data, without compression
// or a signature of its own.
func (s *Signed) encryptTo(w crlfWriter, p signedPart, k *Key, at time.Time) error {
	a, err := armorWriter(w, "PGP MESSAGE")
	if err != nil {
		return err
	}
	e, err := openpgp.Encrypt(a, []*openpgp.Entity{k.entity}, nil, &openpgp.FileHints{IsBinary: true}, baseConfig(at))
	if err != nil {
		return fmt.Errorf("encrypt to %s: %w", k.Fingerprint(), err)
	}
	if err := s.writeTo(e, p); err != nil {
		return fmt.Errorf("encrypt to %s: %w", k.Fingerprint(), err)
	}
	if err := e.Close(); err != nil {
		return fmt.Errorf("encrypt to %s: %w", k.Fingerprint(), err)
	}
	if err := a.Close(); err != nil {
		return fmt.Errorf("encrypt to %s: armor: %w", k.Fingerprint(), err)
	}
	return nil
}
