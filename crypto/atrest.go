package crypto

import (
	"fmt"
	"time"
)

// EncryptAtRest encrypts plain to k alone (binary OpenPGP, integrity
// protected, unsigned), for case content stored in the database. It uses
// k's newest encryption subkey regardless of expiry: stored data must stay
// writable when the key's publication lifetime ends.
func (k *Key) EncryptAtRest(plain []byte) ([]byte, error) {
	at, err := k.restTime()
	if err != nil {
		return nil, fmtErr("encrypt at rest", err)
	}
	ct, err := encryptTo(k, plain, at)
	if err != nil {
		return nil, fmtErr("encrypt at rest", err)
	}
	return ct, nil
}

// restTime is the creation time of k's newest encryption subkey: the
// instant at which that subkey is certainly valid (unless revoked).
func (k *Key) restTime() (time.Time, error) {
	var at time.Time
	for _, s := range k.entity.Subkeys {
		if s.Sig != nil && s.Sig.FlagsValid && s.Sig.FlagEncryptCommunications && s.PublicKey.CreationTime.After(at) {
			at = s.PublicKey.CreationTime
		}
	}
	if at.IsZero() {
		at = k.entity.PrimaryKey.CreationTime
	}
	if sig, _ := k.entity.PrimarySelfSignature(); sig != nil && sig.CreationTime.After(at) {
		at = sig.CreationTime
	}
	if _, ok := k.entity.EncryptionKey(at); !ok {
		return time.Time{}, fmt.Errorf("key %s: %w", k.Fingerprint(), ErrNoEncryptKey)
	}
	return at, nil
}

// DecryptAtRest decrypts what EncryptAtRest produced. k must be private.
func (k *Key) DecryptAtRest(ct []byte) ([]byte, error) {
	if !k.private {
		return nil, fmtErr("decrypt at rest", fmt.Errorf("key %s: %w", k.Fingerprint(), ErrNotPrivate))
	}
	lim := DefaultLimits()
	lim.MaxDecompressedBytes = int64(len(ct)) + 1<<20
	res, err := readPGP(ct, k, nil, time.Now(), lim)
	if err != nil {
		return nil, fmtErr("decrypt at rest", err)
	}
	if !res.encrypted {
		return nil, fmtErr("decrypt at rest", fmt.Errorf("%w: data is not encrypted", ErrDecrypt))
	}
	return res.plain, nil
}
