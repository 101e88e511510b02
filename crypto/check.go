package crypto

import (
	"fmt"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// Expires returns when k stops being usable for encryption: the earlier of
// the primary key's expiry and the latest expiry of its encryption subkeys.
// ok is false when it never expires.
func (k *Key) Expires() (time.Time, bool) {
	var end time.Time
	e := k.entity
	if sig, _ := e.PrimarySelfSignature(); sig != nil {
		if t, ok := lifetimeEnd(e.PrimaryKey, sig); ok {
			end = t
		}
	}
	var sub time.Time
	subNever, anySub := false, false
	for _, s := range e.Subkeys {
		if s.Sig == nil || !s.Sig.FlagsValid || !s.Sig.FlagEncryptCommunications {
			continue
		}
		anySub = true
		t, ok := lifetimeEnd(s.PublicKey, s.Sig)
		if !ok {
			subNever = true
			continue
		}
		if t.After(sub) {
			sub = t
		}
	}
	if anySub && !subNever && (end.IsZero() || sub.Before(end)) {
		end = sub
	}
	return end, !end.IsZero()
}

func lifetimeEnd(pk *packet.PublicKey, sig *packet.Signature) (time.Time, bool) {
	if sig.KeyLifetimeSecs == nil || *sig.KeyLifetimeSecs == 0 {
		return time.Time{}, false
	}
	return pk.CreationTime.Add(time.Duration(*sig.KeyLifetimeSecs) * time.Second), true
}

// checkEncrypt is Check without the signing key: enough to encrypt to k.
func (k *Key) checkEncrypt(at time.Time) error {
	e := k.entity
	fpr := k.Fingerprint()
	sig, id := e.PrimarySelfSignature()
	if sig == nil {
		return fmt.Errorf("key %s: %w: no self-signature", fpr, ErrMalformedKey)
	}
	if e.Revoked(at) || (id != nil && id.Revoked(at)) {
		return fmt.Errorf("key %s at %s: %w", fpr, at.UTC().Format(time.RFC3339), ErrRevoked)
	}
	if at.Unix() < e.PrimaryKey.CreationTime.Unix() {
		return fmt.Errorf("key %s at %s: %w: created later, at %s", fpr, at.UTC().Format(time.RFC3339), ErrExpired, e.PrimaryKey.CreationTime.UTC().Format(time.RFC3339))
	}
	if e.PrimaryKey.KeyExpired(sig, at) || sig.SigExpired(at) {
		return fmt.Errorf("key %s at %s: %w", fpr, at.UTC().Format(time.RFC3339), ErrExpired)
	}
	if _, ok := e.EncryptionKey(at); !ok {
		return fmt.Errorf("key %s at %s: %w", fpr, at.UTC().Format(time.RFC3339), ErrNoEncryptKey)
	}
	return nil
}

// Check reports whether k can be used at t: not revoked (ErrRevoked), not
// expired (ErrExpired), with a usable encryption key (ErrNoEncryptKey).
// Whether a key may sign is checked where it matters: Sign refuses a key
// without a usable signing key (ErrNoSignKey), and Open checks the key of
// every signature it verifies.
func (k *Key) Check(at time.Time) error {
	if err := k.check(at); err != nil {
		return fmt.Errorf("crypto: check: %w", err)
	}
	return nil
}

func (k *Key) check(at time.Time) error { return k.checkEncrypt(at) }

// CheckThrough reports whether k is usable during the whole of [from, until]:
// Check at both ends, and the same encryption subkey still valid at until.
func (k *Key) CheckThrough(from, until time.Time) error {
	if err := k.checkThrough(from, until); err != nil {
		return fmt.Errorf("crypto: check: %w", err)
	}
	return nil
}

func (k *Key) checkThrough(from, until time.Time) error {
	if until.Before(from) {
		return fmt.Errorf("key %s: check through: until %s before from %s", k.Fingerprint(), until, from)
	}
	if err := k.check(from); err != nil {
		return err
	}
	if err := k.check(until); err != nil {
		return err
	}
	a, _ := k.entity.EncryptionKey(from)
	for _, s := range k.entity.Subkeys {
		if s.PublicKey == a.PublicKey && (s.PublicKey.KeyExpired(s.Sig, until) || s.Revoked(until)) {
			return fmt.Errorf("key %s: encryption subkey %X expires before %s: %w", k.Fingerprint(), s.PublicKey.KeyId, until.UTC().Format(time.RFC3339), ErrExpired)
		}
	}
	return nil
}

// EncryptionKeyID is the ID of the subkey a message sealed at t is encrypted to.
func (k *Key) EncryptionKeyID(at time.Time) (uint64, error) {
	ek, ok := k.entity.EncryptionKey(at)
	if !ok {
		if err := k.checkEncrypt(at); err != nil {
			return 0, fmt.Errorf("crypto: encryption key: %w", err)
		}
		return 0, fmt.Errorf("crypto: encryption key: key %s: %w", k.Fingerprint(), ErrNoEncryptKey)
	}
	return ek.PublicKey.KeyId, nil
}
