package crypto

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// SignDetached signs text with k at time at and returns the armored
// detached signature ("-----BEGIN PGP SIGNATURE-----"). It is a text
// signature (line ends are made CRLF before hashing), so that
// `gpg --verify` accepts it over a copy of text saved with LF or CRLF.
func (k *Key) SignDetached(text []byte, at time.Time) (string, error) {
	if !k.private {
		return "", fmtErr("sign detached", fmt.Errorf("key %s: %w", k.Fingerprint(), ErrNotPrivate))
	}
	var sig bytes.Buffer
	if err := openpgp.DetachSignText(&sig, k.entity, bytes.NewReader(text), baseConfig(at)); err != nil {
		if cerr := k.check(at); cerr != nil && !errors.Is(cerr, ErrNoEncryptKey) {
			return "", fmtErr("sign detached", cerr)
		}
		return "", fmtErr("sign detached", fmt.Errorf("key %s at %s: %w: %v", k.Fingerprint(), at.UTC().Format(time.RFC3339), ErrNoSignKey, err))
	}
	arm, err := armorString("PGP SIGNATURE", sig.Bytes())
	if err != nil {
		return "", fmtErr("sign detached", err)
	}
	return arm, nil
}

// VerifyDetached checks a detached signature (armored or binary) of text
// made by k (or by a key k succeeded, WithPrevious), as of the signature's
// creation time: a signature made while k
// was valid stays valid after k expires. It returns the signature, whose
// Err is the error returned (wrapping ErrBadSignature, ErrUnknownSigner
// when another key made it).
func (k *Key) VerifyDetached(text, sig []byte) (*Signature, error) {
	bin, err := dearmor(sig, "PGP SIGNATURE")
	if err != nil {
		return nil, fmtErr("verify detached", fmt.Errorf("%w: %v", ErrBadSignature, err))
	}
	p, err := packet.Read(bytes.NewReader(bin))
	if err != nil {
		return nil, fmtErr("verify detached", fmt.Errorf("%w: malformed signature: %v", ErrBadSignature, err))
	}
	sp, ok := p.(*packet.Signature)
	if !ok {
		return nil, fmtErr("verify detached", fmt.Errorf("%w: not a signature packet", ErrBadSignature))
	}
	keys := k.lineage()
	s, _ := verifyDetachedPacket(text, bin, keys, sp.CreationTime)
	if s.Err == nil && !slices.ContainsFunc(keys, func(l *Key) bool { return l.Fingerprint() == s.Fingerprint }) {
		s.Err = fmt.Errorf("%w: made by %s, want %s", ErrUnknownSigner, s.Fingerprint, k.Fingerprint())
	}
	if s.Err != nil {
		return s, fmtErr("verify detached", s.Err)
	}
	return s, nil
}
