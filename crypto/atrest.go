package crypto

import (
	"bytes"
	"fmt"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// EncryptAtRest encrypts plain to k alone (binary OpenPGP, integrity
// protected, unsigned), for case content stored in the database. It uses
// k's newest unrevoked encryption subkey whatever its expiry: stored data
// must stay writable after the key's publication lifetime ends.
func (k *Key) EncryptAtRest(plain []byte) ([]byte, error) {
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

// DecryptAtRest decrypts what EncryptAtRest produced. k must be private.
func (k *Key) DecryptAtRest(ct []byte) ([]byte, error) {
	return k.decryptAtRest(binarySource(ct), int64(len(ct)))
}
