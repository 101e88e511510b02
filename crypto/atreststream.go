package crypto

import (
	"crypto/rand"
	"fmt"
	"io"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// SealAtRest returns a writer that encrypts what is written to it as
// EncryptAtRest does (with k's data key, or to k alone, integrity
// protected, unsigned) and
// writes the ciphertext to w as it goes, so that a big message is never
// whole in memory; Close ends the message (it does not close w).
func (k *Key) SealAtRest(w io.Writer) (io.WriteCloser, error) {
	if k.data != nil && k.data.seal != nil {
		enc, err := sealEnvelopeTo(w, k.data.seal, 1<<(envelopeChunk+6))
		if err != nil {
			return nil, fmtErr("encrypt at rest", err)
		}
		return restWriter{enc}, nil
	}
	pub, err := k.restKey()
	if err != nil {
		return nil, fmtErr("encrypt at rest", err)
	}
	cfg := baseConfig(time.Now())
	sessionKey := make([]byte, packet.CipherAES256.KeySize())
	if _, err := rand.Read(sessionKey); err != nil {
		return nil, fmtErr("encrypt at rest", err)
	}
	if err := packet.SerializeEncryptedKeyAEAD(w, pub, packet.CipherAES256, false, sessionKey, cfg); err != nil {
		return nil, fmtErr("encrypt at rest", err)
	}
	enc, err := packet.SerializeSymmetricallyEncrypted(w, packet.CipherAES256, false, packet.CipherSuite{}, sessionKey, cfg)
	if err != nil {
		return nil, fmtErr("encrypt at rest", err)
	}
	lit, err := packet.SerializeLiteral(enc, true, "", 0)
	if err != nil {
		return nil, fmtErr("encrypt at rest", err)
	}
	return restWriter{lit}, nil
}

// restWriter hands the OpenPGP writers at most writeChunk bytes at a time
// (they copy each write into a buffer of its size).
type restWriter struct{ lit io.WriteCloser }

func (r restWriter) Write(p []byte) (int, error) {
	if err := writeChunked(r.lit, p); err != nil {
		return 0, fmtErr("encrypt at rest", err)
	}
	return len(p), nil
}

func (r restWriter) Close() error {
	if err := r.lit.Close(); err != nil {
		return fmtErr("encrypt at rest", err)
	}
	return nil
}

// OpenAtRest decrypts what EncryptAtRest or SealAtRest produced, reading
// the ciphertext from open, which returns a reader of it from its start
// each time it is called; size is the ciphertext's length. Only the
// plaintext is held, never the ciphertext whole.
func (k *Key) OpenAtRest(open func() io.Reader, size int64) ([]byte, error) {
	if err := k.canOpenAtRest(); err != nil {
		return nil, err
	}
	r := open()
	var magic [4]byte
	n, _ := io.ReadFull(r, magic[:])
	if isEnvelope(magic[:n]) {
		plain, err := openEnvelopeFrom(k.data, r, size-int64(n))
		if err != nil {
			return nil, fmtErr("decrypt at rest", err)
		}
		return plain, nil
	}
	src := pgpSource{open: func() (io.Reader, error) { return open(), nil }, size: int(size)}
	return k.decryptAtRest(src, size)
}

// decryptAtRest is DecryptAtRest of the message src reads.
func (k *Key) decryptAtRest(src pgpSource, size int64) ([]byte, error) {
	lim := DefaultLimits()
	lim.MaxDecompressedBytes = size + 1<<20
	res, err := readPGP(src, k, nil, time.Now(), lim)
	if err != nil {
		return nil, fmtErr("decrypt at rest", err)
	}
	if !res.encrypted {
		return nil, fmtErr("decrypt at rest", fmt.Errorf("%w: data is not encrypted", ErrDecrypt))
	}
	return res.plain, nil
}
