package crypto

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// EncryptAtRest encrypts plain for case content stored in the database.
// With a data key (WithDataKeys) it seals with it (sealEnvelope).
// Otherwise it encrypts to k alone (binary OpenPGP, integrity protected,
// unsigned), to k's newest unrevoked encryption subkey whatever its
// expiry: stored data must stay writable after the key's publication
// lifetime ends.
func (k *Key) EncryptAtRest(plain []byte) ([]byte, error) {
	if k.data != nil && k.data.seal != nil {
		ct, err := sealEnvelope(k.data.seal, plain)
		if err != nil {
			return nil, fmtErr("encrypt at rest", err)
		}
		return ct, nil
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
	var out bytes.Buffer
	out.Grow(len(plain) + len(plain)/256 + 1024)
	if err := packet.SerializeEncryptedKeyAEAD(&out, pub, packet.CipherAES256, false, sessionKey, cfg); err != nil {
		return nil, fmtErr("encrypt at rest", err)
	}
	enc, err := packet.SerializeSymmetricallyEncrypted(&out, packet.CipherAES256, false, packet.CipherSuite{}, sessionKey, cfg)
	if err != nil {
		return nil, fmtErr("encrypt at rest", err)
	}
	lit, err := packet.SerializeLiteral(enc, true, "", 0)
	if err != nil {
		return nil, fmtErr("encrypt at rest", err)
	}
	if err := writeChunked(lit, plain); err != nil {
		return nil, fmtErr("encrypt at rest", err)
	}
	if err := lit.Close(); err != nil {
		return nil, fmtErr("encrypt at rest", err)
	}
	return out.Bytes(), nil
}

// restKey is the newest encryption (sub)key of k that was never revoked.
// Binding signatures were verified when the key was read.
func (k *Key) restKey() (*packet.PublicKey, error) {
	var best *packet.PublicKey
	for _, s := range k.entity.Subkeys {
		if s.Sig == nil || !s.Sig.FlagsValid || !(s.Sig.FlagEncryptCommunications || s.Sig.FlagEncryptStorage) ||
			!s.PublicKey.PubKeyAlgo.CanEncrypt() || len(s.Revocations) > 0 {
			continue
		}
		if best == nil || s.PublicKey.CreationTime.After(best.CreationTime) {
			best = s.PublicKey
		}
	}
	if best == nil {
		sig, _ := k.entity.PrimarySelfSignature()
		if sig != nil && sig.FlagsValid && sig.FlagEncryptCommunications && k.entity.PrimaryKey.PubKeyAlgo.CanEncrypt() && len(k.entity.Revocations) == 0 {
			best = k.entity.PrimaryKey
		}
	}
	if best == nil || len(k.entity.Revocations) > 0 {
		return nil, fmt.Errorf("key %s: %w", k.Fingerprint(), ErrNoEncryptKey)
	}
	return best, nil
}

// DecryptAtRest decrypts what EncryptAtRest produced, in either form:
// sealed with one of k's data keys, or encrypted to k or a key it
// succeeded. k must be private.
func (k *Key) DecryptAtRest(ct []byte) ([]byte, error) {
	if !k.private {
		return nil, fmtErr("decrypt at rest", fmt.Errorf("key %s: %w", k.Fingerprint(), ErrNotPrivate))
	}
	if isEnvelope(ct) {
		plain, err := openEnvelope(k.data, ct)
		if err != nil {
			return nil, fmtErr("decrypt at rest", err)
		}
		return plain, nil
	}
	lim := DefaultLimits()
	lim.MaxDecompressedBytes = int64(len(ct)) + 1<<20
	res, err := readPGP(binarySource(ct), k, nil, time.Now(), lim)
	if err != nil {
		return nil, fmtErr("decrypt at rest", err)
	}
	if !res.encrypted {
		return nil, fmtErr("decrypt at rest", fmt.Errorf("%w: data is not encrypted", ErrDecrypt))
	}
	return res.plain, nil
}
