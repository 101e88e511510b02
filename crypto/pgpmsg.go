package crypto

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
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
	identities  [][]byte    // see Opened.Identities; set once the integrity check passed
	sig         *Signature  // nil when not signed
	spooled     *plainSpool // the plaintext instead of plain, when spooled
}

// pgpSource is one OpenPGP message that can be read from its start more
// than once (the session-key scan, then decryption, then perhaps again at
// the signer's clock). An armored message is decoded as it is read, so its
// binary form is never held whole.
type pgpSource struct {
	open func() (io.Reader, error)
	size int // an upper bound of the binary length
	// spools, when set, makes the spool a plaintext bigger than above
	// bytes is decrypted into (OpenFromSpooled).
	spools func() (Spool, error)
	above  int
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
	trimmed = rewrapArmor(trimmed)
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

// pgpHead is what an OpenPGP message holds before its data: the key IDs of
// its session-key packets, the packets themselves, and the encrypted data
// packet that follows them (nil when the message is not encrypted).
type pgpHead struct {
	ids       []uint64
	keys      []*packet.EncryptedKey
	data      packet.EncryptedDataPacket
	symmetric bool // a password (SKESK) packet came first
}

// readHead reads the packets before the data of a message, skipping the
// packets go-crypto's ReadMessage skips, so that both see the same
// message: an encrypted one ends at its encrypted data packet, a signed or
// literal one at its first one-pass signature, compressed or literal data
// packet.
func readHead(r *packet.Reader, lim Limits) (pgpHead, error) {
	var h pgpHead
	for i := 0; ; i++ {
		if i > lim.MaxRecipients+4 {
			return h, fmt.Errorf("%w: too many OpenPGP packets before the data", ErrTooComplex)
		}
		p, err := r.Next()
		if err != nil {
			return h, fmt.Errorf("%w: malformed OpenPGP message: %v", ErrDecrypt, err)
		}
		switch p := p.(type) {
		case *packet.EncryptedKey:
			h.ids = append(h.ids, p.KeyId)
			h.keys = append(h.keys, p)
			if len(h.ids) > lim.MaxRecipients {
				return h, fmt.Errorf("%w: more than %d recipients", ErrTooComplex, lim.MaxRecipients)
			}
		case *packet.SymmetricKeyEncrypted:
			h.symmetric = true
			return h, nil
		case *packet.SymmetricallyEncrypted:
			if !p.IntegrityProtected {
				return h, fmt.Errorf("%w: encrypted data without integrity protection", ErrDecrypt)
			}
			h.data = p
			return h, nil
		case *packet.AEADEncrypted:
			h.data = p
			return h, nil
		case *packet.Compressed, *packet.LiteralData, *packet.OnePassSignature:
			return h, nil
		}
	}
}

// check refuses heads that are not a message to decrypt with a key.
func (h pgpHead) check() error {
	switch {
	case h.symmetric:
		return fmt.Errorf("%w: password-encrypted (symmetric) messages are refused", ErrDecrypt)
	case h.data != nil && len(h.ids) == 0:
		return fmt.Errorf("%w: encrypted data without a recipient", ErrDecrypt)
	case h.data == nil && len(h.ids) > 0:
		return fmt.Errorf("%w: session keys not followed by encrypted data", ErrDecrypt)
	}
	return nil
}

// holdsEncrypted reports whether the body of a single-part entity holds an
// encrypted OpenPGP message: binary, or an armored PGP MESSAGE block
// starting a line anywhere in it. More than a few such blocks count as
// encrypted without a look.
func holdsEncrypted(b []byte) bool {
	if isEncryptedMessage(b) {
		return true
	}
	blocks := 0
	for off := 0; ; {
		i := bytes.Index(b[off:], beginMessage)
		if i < 0 {
			return false
		}
		i += off
		off = i + len(beginMessage)
		if i > 0 && b[i-1] != '\n' {
			continue
		}
		if blocks++; blocks > 16 || isEncryptedMessage(b[i:]) {
			return true
		}
	}
}

// isEncryptedMessage reports whether b (leading white space aside) is an
// encrypted OpenPGP message: binary data that starts like one, or an
// armored PGP MESSAGE block that is not plainly a signed or literal
// message (an armored block that does not decode counts as encrypted).
func isEncryptedMessage(b []byte) bool {
	b = bytes.TrimLeft(b, " \t\r\n")
	if len(b) > 0 && b[0]&0x80 != 0 {
		h, err := readHead(packet.NewReader(bytes.NewReader(b)), DefaultLimits())
		return err == nil && (h.symmetric || h.data != nil || len(h.ids) > 0)
	}
	if !bytes.HasPrefix(b, beginMessage) {
		return false
	}
	if j := bytes.Index(b, endMessage); j >= 0 {
		b = b[:j+len(endMessage)]
	}
	src, err := armoredSource(b, "PGP MESSAGE")
	if err != nil {
		return true
	}
	in, err := src.open()
	if err != nil {
		return true
	}
	h, err := readHead(packet.NewReader(in), DefaultLimits())
	return err != nil || h.symmetric || h.data != nil || len(h.ids) > 0
}

// holds reports whether k has a (sub)key with one of ids, or ids has a
// wildcard recipient.
func holds(k *Key, ids []uint64) bool {
	if k == nil || !k.private {
		return false
	}
	for _, id := range ids {
		if id == 0 || len(decryptionKeys(k).KeysById(id)) > 0 {
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
			if res.spooled != nil {
				res.spooled.spool.Discard()
			}
			res, _, err = readPGPAt(src, decrypt, verifiers, at, lim)
		}
	}
	return res, err
}

func readPGPAt(src pgpSource, decrypt *Key, verifiers []*Key, now time.Time, lim Limits) (*pgpResult, *packet.Signature, error) {
	in, err := src.open()
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrDecrypt, err)
	}
	head, err := readHead(packet.NewReader(in), lim)
	if err != nil {
		return nil, nil, err
	}
	if err := head.check(); err != nil {
		return nil, nil, err
	}
	res := &pgpResult{encrypted: head.data != nil, encryptedTo: head.ids}
	if res.encrypted && !holds(decrypt, head.ids) {
		return res, nil, fmt.Errorf("%w: encrypted to key IDs %s", ErrWrongKey, keyIDs(head.ids))
	}
	// Signatures are checked against public keys only: whatever the data
	// holds, nothing is decrypted below but the one layer here.
	var public []*Key
	if decrypt != nil {
		public = append(public, decrypt.Public())
	}
	keyring := entityList(append(public, verifiers...)...)
	cfg := baseConfig(now)
	// Our own limit on the plaintext read below trips first: go-crypto's,
	// set a little above it as a backstop, would surface inside an
	// encrypted message as a failed integrity check ("could not be
	// decrypted") rather than as too large.
	maxPlain := lim.MaxDecompressedBytes
	backstop := maxPlain + 1<<20
	cfg.MaxDecompressedMessageSize = &backstop

	var (
		body io.Reader     // the message for ReadMessage
		data io.ReadCloser // the decrypted data; Close checks its integrity
		skID []byte        // identity of the session key
	)
	if res.encrypted {
		data, skID, err = decryptData(head, decrypt, cfg)
		if err != nil {
			return res, nil, err
		}
		br := bufio.NewReader(data)
		if tag, err := firstTag(br); err != nil || !isMessageStart(tag) {
			// Not a signed, compressed or literal message: check the
			// integrity before saying what it is.
			_, _ = io.Copy(io.Discard, br)
			if err := data.Close(); err != nil {
				return res, nil, fmt.Errorf("%w: integrity check: %v", ErrDecrypt, hideParsing(err, true))
			}
			if isEncryptedTag(tag) {
				res.identities = [][]byte{skID}
				return res, nil, fmt.Errorf("%w: the decrypted data is an encrypted OpenPGP message (not decrypted)", ErrNested)
			}
			return res, nil, fmt.Errorf("%w: the decrypted data is not an OpenPGP message", ErrDecrypt)
		}
		body = br
	} else {
		// The head was only looked at: read the message from its start.
		if in, err = src.open(); err != nil {
			return res, nil, fmt.Errorf("%w: %v", ErrDecrypt, err)
		}
		body = in
	}
	md, err := openpgp.ReadMessage(body, keyring, nil, cfg)
	if err != nil {
		if errors.Is(err, pgperrors.ErrMessageTooLarge) {
			return res, nil, fmt.Errorf("%w: %v", ErrTooComplex, err)
		}
		return res, nil, fmt.Errorf("%w: %v", ErrDecrypt, hideParsing(err, res.encrypted))
	}
	if md.IsEncrypted {
		// readHead saw no encrypted data where go-crypto found some.
		return res, nil, fmt.Errorf("%w: unexpected encrypted data", ErrDecrypt)
	}
	plain, spooled, err := src.readPlain(md.UnverifiedBody, maxPlain)
	if spooled != nil {
		defer func() {
			if res.spooled == nil {
				spooled.spool.Discard() // never used: no plaintext returned
			}
		}()
	}
	if err != nil {
		var se *spoolError
		if errors.As(err, &se) {
			return res, nil, err
		}
		if errors.Is(err, pgperrors.ErrMessageTooLarge) {
			return res, nil, fmt.Errorf("%w: %v", ErrTooComplex, err)
		}
		return res, nil, fmt.Errorf("%w: integrity check: %v", ErrDecrypt, hideParsing(err, res.encrypted))
	}
	if spooled.len(plain) > maxPlain {
		return res, nil, fmt.Errorf("%w: plaintext larger than %d bytes", ErrTooComplex, maxPlain)
	}
	if data != nil {
		if err := data.Close(); err != nil {
			return res, nil, fmt.Errorf("%w: integrity check: %v", ErrDecrypt, hideParsing(err, true))
		}
		res.identities = [][]byte{skID, spooled.identity(plain)}
	}
	// The whole armored block must decode, not only the part that
	// held the message.
	if _, err := io.Copy(io.Discard, in); err != nil {
		return res, nil, fmt.Errorf("%w: %v", ErrDecrypt, err)
	}
	res.plain, res.spooled = plain, spooled
	if md.IsSigned {
		res.sig = onePassSignature(md, verifiers)
		checkIntended(res.sig, md.Signature, decrypt)
	}
	return res, md.Signature, nil
}

// hideParsing makes the parsing errors of decrypted data generic, as
// go-crypto does, so that they tell nothing about the plaintext of a
// tampered SEIPD v1 message.
func hideParsing(err error, decrypted bool) error {
	return pgperrors.HandleSensitiveParsingError(err, decrypted)
}

// decryptData decrypts the session key of the first session-key packet
// that k can decrypt (the order go-crypto's ReadMessage tries them in: one
// public-key operation for a message to us) and returns the decrypted data
// and the identity of the session key. The data's integrity is checked
// when it is closed.
func decryptData(h pgpHead, k *Key, cfg *packet.Config) (io.ReadCloser, []byte, error) {
	keys := decryptionKeys(k)
	for _, ek := range h.keys {
		var candidates []openpgp.Key
		if ek.KeyId == 0 {
			candidates = keys.DecryptionKeys()
		} else {
			candidates = keys.KeysById(ek.KeyId)
		}
		for _, c := range candidates {
			if c.PrivateKey == nil || c.PrivateKey.Encrypted {
				continue
			}
			if err := ek.Decrypt(c.PrivateKey, cfg); err != nil {
				continue
			}
			data, err := h.data.Decrypt(ek.CipherFunc, ek.Key)
			if errors.Is(err, pgperrors.ErrKeyIncorrect) {
				continue
			}
			if err != nil {
				return nil, nil, fmt.Errorf("%w: %v", ErrDecrypt, hideParsing(err, true))
			}
			id := sessionKeyIdentity(dataCipher(h.data, ek), ek.Key)
			clear(ek.Key) // the ciphers made their own copies
			return data, id, nil
		}
	}
	return nil, nil, fmt.Errorf("%w: no session key could be decrypted", ErrDecrypt)
}

// dataCipher is the cipher the data is decrypted with: the one the session
// key came with (v3 PKESK and SEIPD v1), the one named by a SEIPD v2 packet
// (whose header is authenticated), or 0 for the draft AEAD packet, whose
// cipher go-crypto does not expose (its header is authenticated too).
func dataCipher(data packet.EncryptedDataPacket, ek *packet.EncryptedKey) packet.CipherFunction {
	switch d := data.(type) {
	case *packet.SymmetricallyEncrypted:
		if d.Version == 2 {
			return d.Cipher
		}
		return ek.CipherFunc
	}
	return 0
}

// sessionKeyIdentity and plaintextIdentity are the replay identities of a
// decrypted layer (Opened.Identities).
func sessionKeyIdentity(c packet.CipherFunction, key []byte) []byte {
	h := sha256.New()
	h.Write([]byte("secgate-sk\x00"))
	h.Write([]byte{byte(c)})
	h.Write(key)
	return h.Sum(nil)
}

func plaintextIdentity(plain []byte) []byte {
	h := newPlaintextHash()
	h.Write(plain)
	return h.Sum(nil)
}

// newPlaintextHash is the hash of plaintextIdentity before the plaintext.
func newPlaintextHash() hash.Hash {
	h := sha256.New()
	h.Write([]byte("secgate-pt\x00"))
	return h
}

// firstTag returns the packet tag of the first packet in r without
// consuming it.
func firstTag(r *bufio.Reader) (byte, error) {
	b, err := r.Peek(1)
	if err != nil {
		return 0, err
	}
	switch {
	case b[0]&0x80 == 0:
		return 0, fmt.Errorf("not an OpenPGP packet")
	case b[0]&0x40 != 0:
		return b[0] & 0x3f, nil
	}
	return (b[0] & 0x3c) >> 2, nil
}

// OpenPGP packet tags (RFC 9580 §5).
const (
	tagPKESK      = 1
	tagSKESK      = 3
	tagOnePassSig = 4
	tagCompressed = 8
	tagSED        = 9
	tagMarker     = 10
	tagLiteral    = 11
	tagSEIPD      = 18
	tagAEAD       = 20
)

// isMessageStart reports whether a decrypted layer starting with a packet
// of the tag is read by ReadMessage as its data (never as another layer of
// encryption).
func isMessageStart(tag byte) bool {
	return tag == tagOnePassSig || tag == tagCompressed || tag == tagLiteral
}

func isEncryptedTag(tag byte) bool {
	switch tag {
	case tagPKESK, tagSKESK, tagSED, tagMarker, tagSEIPD, tagAEAD:
		return true
	}
	return false
}

// checkIntended reads a signature's Intended Recipient Fingerprint
// subpackets (RFC 9580 §5.2.3.36), which are inside what the signature
// covers: naming k (the team key) binds the signed content to us
// (IntendedForUs); naming only others means the message was meant for
// someone else (a signed message re-sent or re-encrypted to us by its
// first recipient) and the signature does not count here.
func checkIntended(s *Signature, sp *packet.Signature, k *Key) {
	if s == nil || sp == nil || len(sp.IntendedRecipients) == 0 || s.Err != nil {
		return
	}
	for _, e := range decryptionKeys(k) {
		for _, r := range sp.IntendedRecipients {
			if bytes.Equal(r.Fingerprint, e.PrimaryKey.Fingerprint) {
				s.IntendedForUs = true
				return
			}
			for _, sub := range e.Subkeys {
				if bytes.Equal(r.Fingerprint, sub.PublicKey.Fingerprint) {
					s.IntendedForUs = true
					return
				}
			}
		}
	}
	s.Err = fmt.Errorf("%w: the signature names other intended recipients (a message meant for someone else)", ErrBadSignature)
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
	s, _ := verifyDetachedPacket(signed, sigBin, verifiers, now)
	return s
}

// verifyDetachedPacket is verifyDetached that also returns the signature
// packet, nil when there is not exactly one.
func verifyDetachedPacket(signed, sigBin []byte, verifiers []*Key, now time.Time) (*Signature, *packet.Signature) {
	return verifyDetachedFrom(func() (io.Reader, error) { return bytes.NewReader(signed), nil }, sigBin, verifiers, now)
}

// verifyDetachedFrom is verifyDetachedPacket of the signed bytes signed
// reads (a big part, read from where it is spooled).
func verifyDetachedFrom(signed func() (io.Reader, error), sigBin []byte, verifiers []*Key, now time.Time) (*Signature, *packet.Signature) {
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
			return s, nil
		}
		sp, ok := p.(*packet.Signature)
		if !ok {
			s.Err = fmt.Errorf("%w: not a signature packet", ErrBadSignature)
			return s, nil
		}
		sigs = append(sigs, sp)
		if len(sigs) > 1 {
			break
		}
	}
	if len(sigs) == 0 {
		s.Err = fmt.Errorf("%w: no signature packet", ErrBadSignature)
		return s, nil
	}
	fillSig(s, sigs[0])
	if len(sigs) > 1 {
		s.Err = fmt.Errorf("%w: more than one signature", ErrBadSignature)
		return s, nil
	}
	if s.KeyID == 0 {
		s.Err = fmt.Errorf("%w: signature names no issuer", ErrBadSignature)
		return s, sigs[0]
	}
	keyring := entityList(verifiers...)
	if keys := keyring.KeysById(s.KeyID); len(keys) > 0 {
		s.Fingerprint = fingerprintHex(keys[0].Entity.PrimaryKey.Fingerprint)
	}
	at := skewed(now, sigs[0].CreationTime)
	signedR, err := signed()
	if err != nil {
		s.Err = fmt.Errorf("%w: signed part not read: %v", ErrBadSignature, err)
		return s, sigs[0]
	}
	_, signer, err := openpgp.VerifyDetachedSignature(keyring, signedR, bytes.NewReader(sigBin), baseConfig(at))
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
	return s, sigs[0]
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
