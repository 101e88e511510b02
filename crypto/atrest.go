package crypto

import (
	"bytes"
	"fmt"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// EncryptAtRest encrypts plain for case content stored in the database.
// With a data key (WithDataKeys) it seals with it (sealEnvelope).
// Otherwise it encrypts to k alone (binary OpenPGP, integrity protected,
// unsigned), to k's newest unrevoked encryption subkey whatever its
// expiry: stored data must stay writable after the key's publication
// lifetime ends. SealAtRest writes the same forms as a stream.
func (k *Key) EncryptAtRest(plain []byte) ([]byte, error) {
	if k.data != nil && k.data.seal != nil {
		ct, err := sealEnvelope(k.data.seal, plain)
		if err != nil {
			return nil, fmtErr("encrypt at rest", err)
		}
		return ct, nil
	}
	var out bytes.Buffer
	out.Grow(len(plain) + len(plain)/256 + 1024)
	w, err := k.SealAtRest(&out)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(plain); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
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

// DecryptAtRest decrypts what EncryptAtRest or SealAtRest produced, in
// either form: sealed with one of k's data keys, or encrypted to k or a
// key it succeeded. k must be private.
func (k *Key) DecryptAtRest(ct []byte) ([]byte, error) {
	if err := k.canOpenAtRest(); err != nil {
		return nil, err
	}
	if isEnvelope(ct) {
		plain, err := openEnvelope(k.data, ct)
		if err != nil {
			return nil, fmtErr("decrypt at rest", err)
		}
		return plain, nil
	}
	return k.decryptAtRest(binarySource(ct), int64(len(ct)))
}

// canOpenAtRest says why k cannot open data at rest: only the private
// team key can.
func (k *Key) canOpenAtRest() error {
	if !k.private {
		return fmtErr("decrypt at rest", fmt.Errorf("key %s: %w", k.Fingerprint(), ErrNotPrivate))
	}
	return nil
}
