package crypto

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	pgperrors "github.com/ProtonMail/go-crypto/openpgp/errors"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// pgpResult is an OpenPGP message after decryption and verification.
type pgpResult struct {
	plain       []byte
	encrypted   bool
	encryptedTo []uint64
	sig         *Signature // nil when not signed
}

// pgpSource is one OpenPGP message that can be read from its start more
// than once (the session-key scan, then decryption, then perhaps again at
// the signer's clock). An armored message is decoded as it is read, so its
// binary form is never held whole.
type pgpSource struct {
	open func() (io.Reader, error)
	size int // an upper bound of the binary length
}

// binarySource reads the binary message bin.
func binarySource(bin []byte) pgpSource {
	return pgpSource{open: func() (io.Reader, error) { return bytes.NewReader(bin), nil }, size: len(bin)}
}

// armoredSource reads data as an armored block of the given type, or as
// binary when it is not armored.
func armoredSource(data []byte, blockType string) (pgpSource, error) {
	trimmed := bytes.TrimSpace(data)
	if !bytes.HasPrefix(trimmed, []byte("-----BEGIN ")) {
		return binarySource(data), nil
	}
	open := func() (io.Reader, error) {
		block, err := armor.Decode(bytes.NewReader(trimmed))
		if err != nil {
			return nil, fmt.Errorf("armor: %v", err)
		}
		if block.Type != blockType {
			return nil, fmt.Errorf("armor: got %q, want %q", block.Type, blockType)
		}
		return block.Body, nil
	}
	if _, err := open(); err != nil {
		return pgpSource{}, err
	}
	return pgpSource{open: open, size: len(trimmed) / 4 * 3}, nil
}

// dearmor returns the binary packets of an armored block of the given type,
// or data itself when it is not armored.
func dearmor(data []byte, blockType string) ([]byte, error) {
	src, err := armoredSource(data, blockType)
	if err != nil {
		return nil, err
	}
	r, err := src.open()
	if err != nil {
		return nil, err
	}
	b, err := readAllSized(r, int64(len(data)), src.size)
	if err != nil {
		return nil, fmt.Errorf("armor: %v", err)
	}
	return b, nil
}

// readAllSized reads r to its end, or to one byte past limit, into a buffer
// sized for hint bytes, so that a big message is not copied while the
// buffer grows.
func readAllSized(r io.Reader, limit int64, hint int) ([]byte, error) {
	b := bytes.NewBuffer(make([]byte, 0, min(int64(hint), limit)+bytes.MinRead))
	_, err := b.ReadFrom(io.LimitReader(r, limit+1))
	return b.Bytes(), err
}

// scanPGP reads the leading session-key packets of a message: the key IDs
// it is encrypted to, whether it is encrypted, and refuses password
// (SKESK) encryption.
func scanPGP(src pgpSource, lim Limits) (ids []uint64, encrypted bool, err error) {
	in, err := src.open()
	if err != nil {
		return nil, false, fmt.Errorf("%w: %v", ErrDecrypt, err)
	}
	r := packet.NewReader(in)
	for i := 0; ; i++ {
		if i > lim.MaxRecipients+4 {
			return nil, false, fmt.Errorf("%w: too many OpenPGP packets before the data", ErrTooComplex)
		}
		p, err := r.Next()
		if err != nil {
			return nil, false, fmt.Errorf("%w: malformed OpenPGP message: %v", ErrDecrypt, err)
		}
		switch p := p.(type) {
		case *packet.EncryptedKey:
			ids = append(ids, p.KeyId)
			if len(ids) > lim.MaxRecipients {
				return nil, false, fmt.Errorf("%w: more than %d recipients", ErrTooComplex, lim.MaxRecipients)
			}
		case *packet.SymmetricKeyEncrypted:
			return nil, false, fmt.Errorf("%w: password-encrypted (symmetric) messages are refused", ErrDecrypt)
		case *packet.SymmetricallyEncrypted, *packet.AEADEncrypted:
			if len(ids) == 0 {
				return nil, false, fmt.Errorf("%w: encrypted data without a recipient", ErrDecrypt)
			}
			return ids, true, nil
		case *packet.Compressed, *packet.LiteralData, *packet.OnePassSignature, *packet.Signature:
			if len(ids) > 0 {
				return nil, false, fmt.Errorf("%w: session keys not followed by encrypted data", ErrDecrypt)
			}
			return nil, false, nil
		}
	}
}

// holds reports whether k has a (sub)key with one of ids, or ids has a
// wildcard recipient.
func holds(k *Key, ids []uint64) bool {
	if k == nil || !k.private {
		return false
	}
	for _, id := range ids {
		if id == 0 || len(entityList(k).KeysById(id)) > 0 {
			return true
		}
	}
	return false
}

// MaxClockSkew is how far in the future a signature's creation time may be
// (the sender's clock runs ahead) and still be checked as if made now.
const MaxClockSkew = 5 * time.Minute

// skewed returns the time to check a signature made at created: now, or
// created when it lies at most MaxClockSkew ahead.
func skewed(now, created time.Time) time.Time {
	if created.After(now) && !created.After(now.Add(MaxClockSkew)) {
		return created
	}
	return now
}

// readPGP decrypts (when encrypted) and verifies (when signed) one binary
// OpenPGP message. The plaintext is returned only after the whole message
// was read and its integrity check passed.
func readPGP(src pgpSource, decrypt *Key, verifiers []*Key, now time.Time, lim Limits) (*pgpResult, error) {
	res, sp, err := readPGPAt(src, decrypt, verifiers, now, lim)
	if err == nil && sp != nil && res.sig != nil && res.sig.Err != nil {
		if at := skewed(now, sp.CreationTime); !at.Equal(now) {
			// The signature is from a clock slightly ahead: check it
			// again as of its creation time.
			res, _, err = readPGPAt(src, decrypt, verifiers, at, lim)
		}
	}
	return res, err
}

func readPGPAt(src pgpSource, decrypt *Key, verifiers []*Key, now time.Time, lim Limits) (*pgpResult, *packet.Signature, error) {
	ids, encrypted, err := scanPGP(src, lim)
	if err != nil {
		return nil, nil, err
	}
	res := &pgpResult{encrypted: encrypted, encryptedTo: ids}
	if encrypted && !holds(decrypt, ids) {
		return res, nil, fmt.Errorf("%w: encrypted to key IDs %s", ErrWrongKey, keyIDs(ids))
	}
	keyring := entityList(append([]*Key{decrypt}, verifiers...)...)
	cfg := baseConfig(now)
	// Our own limit on the plaintext read below trips first: go-crypto's,
	// set a little above it as a backstop, would surface inside an
	// encrypted message as a failed integrity check ("could not be
	// decrypted") rather than as too large.
	maxPlain := lim.MaxDecompressedBytes
	backstop := maxPlain + 1<<20
	cfg.MaxDecompressedMessageSize = &backstop
	in, err := src.open()
	if err != nil {
		return res, nil, fmt.Errorf("%w: %v", ErrDecrypt, err)
	}
	md, err := openpgp.ReadMessage(in, keyring, nil, cfg)
	if err != nil {
		if errors.Is(err, pgperrors.ErrMessageTooLarge) {
			return res, nil, fmt.Errorf("%w: %v", ErrTooComplex, err)
		}
		return res, nil, fmt.Errorf("%w: %v", ErrDecrypt, err)
	}
	plain, err := readAllSized(md.UnverifiedBody, maxPlain, src.size)
	if err != nil {
		if errors.Is(err, pgperrors.ErrMessageTooLarge) {
			return res, nil, fmt.Errorf("%w: %v", ErrTooComplex, err)
		}
		return res, nil, fmt.Errorf("%w: integrity check: %v", ErrDecrypt, err)
	}
	if int64(len(plain)) > maxPlain {
		return res, nil, fmt.Errorf("%w: plaintext larger than %d bytes", ErrTooComplex, maxPlain)
	}
	if encrypted && !md.IsEncrypted {
		return res, nil, fmt.Errorf("%w: message was not decrypted", ErrDecrypt)
	}
	// The whole armored block must decode, not only the part that
	// held the message.
	if _, err := io.Copy(io.Discard, in); err != nil {
		return res, nil, fmt.Errorf("%w: %v", ErrDecrypt, err)
	}
	res.plain = plain
	if md.IsSigned {
		res.sig = onePassSignature(md, verifiers)
		if res.sig.Err == nil && encrypted && !intendedFor(md.Signature, decrypt) {
			res.sig.Err = fmt.Errorf("%w: the signature names other intended recipients (forwarded message)", ErrBadSignature)
		}
	}
	return res, md.Signature, nil
}

// intendedFor reports whether a signature's Intended Recipient Fingerprint
// subpackets (RFC 9580 §5.2.3.36), when present, name k: a signed message
// re-encrypted by its first recipient to us does not count as sent to us.
func intendedFor(sp *packet.Signature, k *Key) bool {
	if sp == nil || len(sp.IntendedRecipients) == 0 {
		return true
	}
	for _, r := range sp.IntendedRecipients {
		if bytes.Equal(r.Fingerprint, k.entity.PrimaryKey.Fingerprint) {
			return true
		}
		for _, s := range k.entity.Subkeys {
			if bytes.Equal(r.Fingerprint, s.PublicKey.Fingerprint) {
				return true
			}
		}
	}
	return false
}

// onePassSignature describes the signature of a one-pass signed message
// whose body was read to EOF.
func onePassSignature(md *openpgp.MessageDetails, verifiers []*Key) *Signature {
	s := &Signature{KeyID: md.SignedByKeyId}
	sp := md.Signature
	if sp == nil && len(md.UnverifiedSignatures) > 0 {
		sp = md.UnverifiedSignatures[0]
	}
	if sp != nil {
		fillSig(s, sp)
	}
	switch {
	case md.SignedBy == nil:
		s.Err = fmt.Errorf("%w: key ID %016X", ErrUnknownSigner, md.SignedByKeyId)
		return s
	case md.Signature == nil:
		s.Err = fmt.Errorf("%w: no signature packet for key ID %016X", ErrBadSignature, md.SignedByKeyId)
	case md.SignatureError != nil:
		s.Err = sigError(md.SignatureError)
	case len(md.UnverifiedSignatures) > 0:
		s.Err = fmt.Errorf("%w: more than one signature", ErrBadSignature)
	default:
		s.Err = sigPolicy(md.Signature)
	}
	s.Fingerprint = fingerprintHex(md.SignedBy.Entity.PrimaryKey.Fingerprint)
	return s
}

// verifyDetached checks a detached signature over signed.
func verifyDetached(signed, sigBin []byte, verifiers []*Key, now time.Time) *Signature {
	s := &Signature{}
	var sigs []*packet.Signature
	r := packet.NewReader(bytes.NewReader(sigBin))
	for {
		p, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			s.Err = fmt.Errorf("%w: malformed signature: %v", ErrBadSignature, err)
			return s
		}
		sp, ok := p.(*packet.Signature)
		if !ok {
			s.Err = fmt.Errorf("%w: not a signature packet", ErrBadSignature)
			return s
		}
		sigs = append(sigs, sp)
		if len(sigs) > 1 {
			break
		}
	}
	if len(sigs) == 0 {
		s.Err = fmt.Errorf("%w: no signature packet", ErrBadSignature)
		return s
	}
	fillSig(s, sigs[0])
	if len(sigs) > 1 {
		s.Err = fmt.Errorf("%w: more than one signature", ErrBadSignature)
		return s
	}
	if s.KeyID == 0 {
		s.Err = fmt.Errorf("%w: signature names no issuer", ErrBadSignature)
		return s
	}
	keyring := entityList(verifiers...)
	if keys := keyring.KeysById(s.KeyID); len(keys) > 0 {
		s.Fingerprint = fingerprintHex(keys[0].Entity.PrimaryKey.Fingerprint)
	}
	at := skewed(now, sigs[0].CreationTime)
	_, signer, err := openpgp.VerifyDetachedSignature(keyring, bytes.NewReader(signed), bytes.NewReader(sigBin), baseConfig(at))
	switch {
	case errors.Is(err, pgperrors.ErrUnknownIssuer):
		s.Fingerprint = ""
		s.Err = fmt.Errorf("%w: key ID %016X", ErrUnknownSigner, s.KeyID)
	case err != nil:
		s.Err = sigError(err)
	default:
		s.Fingerprint = fingerprintHex(signer.PrimaryKey.Fingerprint)
		s.Err = sigPolicy(sigs[0])
	}
	return s
}

func fillSig(s *Signature, sp *packet.Signature) {
	if sp.IssuerKeyId != nil {
		s.KeyID = *sp.IssuerKeyId
	}
	s.Created = sp.CreationTime
	s.Hash = sp.Hash.String()
	s.ID = sigID(sp)
}

// sigPolicy refuses signatures a valid command must not have.
func sigPolicy(sp *packet.Signature) error {
	if sp.SigType != packet.SigTypeBinary && sp.SigType != packet.SigTypeText {
		return fmt.Errorf("%w: signature type %#x is not a document signature", ErrBadSignature, sp.SigType)
	}
	if _, err := micalgOf(sp.Hash); err != nil {
		return fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	return nil
}

// sigError maps a go-crypto verification error to the package's errors.
func sigError(err error) error {
	switch {
	case errors.Is(err, pgperrors.ErrKeyExpired), errors.Is(err, pgperrors.ErrSignatureExpired):
		return fmt.Errorf("%w: %w: %v", ErrBadSignature, ErrExpired, err)
	case errors.Is(err, pgperrors.ErrKeyRevoked):
		return fmt.Errorf("%w: %w: %v", ErrBadSignature, ErrRevoked, err)
	case errors.Is(err, pgperrors.ErrUnknownIssuer):
		return fmt.Errorf("%w: %v", ErrUnknownSigner, err)
	}
	return fmt.Errorf("%w: %v", ErrBadSignature, err)
}

// sigID is the replay key of a signature: SHA-256 over its hashed part and
// its signature value. Unhashed subpackets and armor, which anyone can
// change without breaking the signature, do not count.
func sigID(sp *packet.Signature) string {
	h := sha256.New()
	h.Write(sp.HashSuffix)
	h.Write(sp.HashTag[:])
	for _, f := range []interface{ Bytes() []byte }{sp.RSASignature, sp.DSASigR, sp.DSASigS, sp.ECDSASigR, sp.ECDSASigS, sp.EdDSASigR, sp.EdDSASigS} {
		if f != nil && !isNilField(f) {
			h.Write(f.Bytes())
		}
	}
	h.Write(sp.EdSig)
	h.Write(sp.MldsaSig)
	h.Write(sp.SlhdsaSig)
	return hex.EncodeToString(h.Sum(nil))
}

func isNilField(f interface{ Bytes() []byte }) (isNil bool) {
	defer func() {
		if recover() != nil {
			isNil = true
		}
	}()
	_ = f.Bytes()
	return false
}

func fingerprintHex(b []byte) string { return strings.ToUpper(hex.EncodeToString(b)) }

func keyIDs(ids []uint64) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = fmt.Sprintf("%016X", id)
	}
	return strings.Join(s, ", ")
}
