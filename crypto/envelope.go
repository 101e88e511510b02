package crypto

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// A DataKey is a random AES-256 key that seals data at rest in place of a
// public-key encryption to the team key (an envelope key). It is stored
// only wrapped: encrypted to the team key (WrapDataKey), and unwrapped
// once, when the team key is unlocked. Sealing with it costs a key
// derivation and AES-GCM instead of a curve25519 or RSA operation for
// every value, and opening what it sealed costs none either. ID names it
// in what it sealed.
//
// A wrapped data key counts only when the team key signed it: the wrap
// holds a statement (dataKeyText) naming the data key's ID, the team key
// it was made for and the key, with that team key's signature. Someone who
// can write the database but holds no team key could otherwise plant a
// data key of their own, wrapped to the team's public key, and read what
// is stored after.
type DataKey struct {
	ID        uint32
	key       []byte
	madeFor   string // fingerprint of the team key that signed it
	statement []byte // dataKeyText and its signature: what a wrap encrypts
}

// MadeFor is the fingerprint of the team key that made (and signed) d; ""
// until it is wrapped.
func (d *DataKey) MadeFor() string { return d.madeFor }

// dataKeyText is the statement a team key signs for a data key.
func dataKeyText(id uint32, madeFor string, key []byte) string {
	return fmt.Sprintf("secgate data key\nid: %d\nmade for: %s\nkey: %x\n", id, madeFor, key)
}

// sigStart starts the armored signature after the statement.
var sigStart = []byte("-----BEGIN PGP SIGNATURE-----")

// envelopeMagic starts a value sealed with a data key. Its first byte is
// below 0x80, which no OpenPGP packet starts with: a value sealed to the
// team key (EncryptAtRest without a data key, or before data keys) is
// told apart by its first byte.
var envelopeMagic = []byte("sgdk")

// envelopeChunk is the largest AEAD chunk size of the sealed form, as
// OpenPGP codes it: 2^(10+6) = 64 KiB. A smaller value gets the smallest
// chunk it fits in, at least 1 KiB (envelopeChunkFor): sealing and
// opening each hold one chunk, which a short text should not pay 64 KiB
// for.
const envelopeChunk = 10

// envelopeChunkFor is the chunk size byte for n bytes of plaintext.
func envelopeChunkFor(n int) byte {
	c := byte(4)
	for c < envelopeChunk && 1<<(c+6) < n {
		c++
	}
	return c
}

// GenerateDataKey makes a new random data key named id.
func GenerateDataKey(id uint32) (*DataKey, error) {
	d := &DataKey{ID: id, key: make([]byte, packet.CipherAES256.KeySize())}
	if _, err := rand.Read(d.key); err != nil {
		return nil, fmtErr("generate data key", err)
	}
	return d, nil
}

// WrapDataKey encrypts d's signed statement to k alone (as EncryptAtRest
// does without a data key): the only form in which d is stored. A new
// data key is signed by k, at at, and made for k; one that was unwrapped
// keeps the statement its team key signed, so that it can be wrapped to
// the key that succeeded that one. k must be private to sign.
func (k *Key) WrapDataKey(d *DataKey, at time.Time) ([]byte, error) {
	if d.statement == nil {
		text := dataKeyText(d.ID, k.Fingerprint(), d.key)
		sig, err := k.SignDetached([]byte(text), at)
		if err != nil {
			return nil, fmtErr("wrap data key", err)
		}
		d.madeFor, d.statement = k.Fingerprint(), []byte(text+sig)
	}
	return k.withoutDataKeys().EncryptAtRest(d.statement)
}

// UnwrapDataKey decrypts a data key named id that WrapDataKey wrapped to
// k or to one of the keys k succeeded (WithPrevious). k must be private.
func (k *Key) UnwrapDataKey(id uint32, wrapped []byte) (*DataKey, error) {
	if isEnvelope(wrapped) {
		return nil, fmtErr("unwrap data key", fmt.Errorf("%w: data key %d is not wrapped to a team key", ErrDecrypt, id))
	}
	statement, err := k.withoutDataKeys().DecryptAtRest(wrapped)
	if err != nil {
		return nil, fmtErr("unwrap data key", err)
	}
	d, err := k.checkDataKey(id, statement)
	if err != nil {
		return nil, fmtErr("unwrap data key", err)
	}
	return d, nil
}

// checkDataKey reads the statement of data key id and checks that the team
// key it names signed it, and that that key is k or one k succeeded.
func (k *Key) checkDataKey(id uint32, statement []byte) (*DataKey, error) {
	i := bytes.Index(statement, sigStart)
	if i < 0 {
		return nil, fmt.Errorf("%w: data key %d is not signed", ErrBadSignature, id)
	}
	text, sig := statement[:i], statement[i:]
	var gotID uint32
	var madeFor, hexKey string
	if _, err := fmt.Sscanf(string(text), "secgate data key\nid: %d\nmade for: %s\nkey: %s\n", &gotID, &madeFor, &hexKey); err != nil {
		return nil, fmt.Errorf("%w: data key %d: %v", ErrDecrypt, id, err)
	}
	key, err := hex.DecodeString(hexKey)
	if err != nil || len(key) != packet.CipherAES256.KeySize() || gotID != id || dataKeyText(gotID, madeFor, key) != string(text) {
		return nil, fmt.Errorf("%w: data key %d: not the statement of data key %d", ErrDecrypt, id, id)
	}
	s, err := k.VerifyDetached(text, sig)
	if err != nil {
		return nil, fmt.Errorf("data key %d: %w", id, err)
	}
	if s.Fingerprint != madeFor {
		return nil, fmt.Errorf("%w: data key %d made for %s is signed by %s", ErrBadSignature, id, madeFor, s.Fingerprint)
	}
	return &DataKey{ID: id, key: key, madeFor: madeFor, statement: statement}, nil
}

// dataKeys are the data keys a Key carries (WithDataKeys).
type dataKeys struct {
	seal *DataKey            // seals what EncryptAtRest is given; nil: the team key does
	open map[uint32]*DataKey // open what they sealed, seal included
}

// WithDataKeys returns k with data keys: EncryptAtRest seals with seal
// (when not nil), and DecryptAtRest opens what any of open and seal
// sealed, besides what was sealed to k or the keys it succeeded.
// Everything else is k's own.
func (k *Key) WithDataKeys(seal *DataKey, open ...*DataKey) *Key {
	c := *k
	dk := &dataKeys{seal: seal, open: map[uint32]*DataKey{}}
	for _, d := range append(open, seal) {
		if d != nil {
			dk.open[d.ID] = d
		}
	}
	c.data = dk
	return &c
}

// SealsWithDataKey reports the ID of the data key EncryptAtRest seals
// with; ok is false when it seals to the team key.
func (k *Key) SealsWithDataKey() (id uint32, ok bool) {
	if k.data == nil || k.data.seal == nil {
		return 0, false
	}
	return k.data.seal.ID, true
}

func (k *Key) withoutDataKeys() *Key {
	if k.data == nil {
		return k
	}
	c := *k
	c.data = nil
	return &c
}

// isEnvelope reports whether ct is in the form a data key seals.
func isEnvelope(ct []byte) bool { return bytes.HasPrefix(ct, envelopeMagic) }

// sealEnvelope seals plain with d: envelopeMagic, d's ID (4 bytes, big
// endian), then one OpenPGP SEIPD version 2 packet (RFC 9580 §5.13.2,
// AES-256 in GCM mode) whose content is plain: a fresh random salt
// derives the message key and nonces from d for every value, and each
// chunk and the whole are authenticated.
func sealEnvelope(d *DataKey, plain []byte) ([]byte, error) {
	var out bytes.Buffer
	out.Grow(len(envelopeMagic) + 4 + 64 + len(plain) + (len(plain)>>(envelopeChunk+6)+2)*16)
	w, err := sealEnvelopeTo(&out, d, 1<<(envelopeChunkFor(len(plain))+6))
	if err != nil {
		return nil, err
	}
	if err := writeChunked(w, plain); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// sealEnvelopeTo writes the head of a value sealed with d to out and
// returns the writer of its content, in AEAD chunks of chunk bytes:
// sealEnvelope for a value of unknown length, as SealAtRest streams it.
// Close ends the value (it does not close out).
func sealEnvelopeTo(out io.Writer, d *DataKey, chunk uint64) (io.WriteCloser, error) {
	if _, err := out.Write(envelopeMagic); err != nil {
		return nil, err
	}
	if err := binary.Write(out, binary.BigEndian, d.ID); err != nil {
		return nil, err
	}
	cfg := &packet.Config{AEADConfig: &packet.AEADConfig{DefaultMode: packet.AEADModeGCM, ChunkSize: chunk}}
	return packet.SerializeSymmetricallyEncrypted(out, packet.CipherAES256, true,
		packet.CipherSuite{Cipher: packet.CipherAES256, Mode: packet.AEADModeGCM}, d.key, cfg)
}

// openEnvelope opens what sealEnvelope sealed with one of keys.
func openEnvelope(keys *dataKeys, ct []byte) ([]byte, error) {
	if !isEnvelope(ct) {
		return nil, fmt.Errorf("%w: not a sealed value", ErrDecrypt)
	}
	n := len(envelopeMagic)
	return openEnvelopeFrom(keys, bytes.NewReader(ct[n:]), int64(len(ct)-n))
}

// envelopeContent reads the head of a value sealed with one of keys whose
// bytes after envelopeMagic r reads, and returns the reader of its
// content, whose Close checks the whole, and the reader of what follows.
func envelopeContent(keys *dataKeys, r io.Reader) (io.ReadCloser, *bufio.Reader, error) {
	var idb [4]byte
	if _, err := io.ReadFull(r, idb[:]); err != nil {
		return nil, nil, fmt.Errorf("%w: sealed value is truncated", ErrDecrypt)
	}
	id := binary.BigEndian.Uint32(idb[:])
	var d *DataKey
	if keys != nil {
		d = keys.open[id]
	}
	if d == nil {
		return nil, nil, fmt.Errorf("%w: sealed with data key %d, which is not unwrapped", ErrDecrypt, id)
	}
	br := bufio.NewReader(r)
	p, err := packet.Read(br)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrDecrypt, err)
	}
	se, ok := p.(*packet.SymmetricallyEncrypted)
	if !ok || se.Version != 2 {
		return nil, nil, fmt.Errorf("%w: sealed value is not one SEIPD version 2 packet", ErrDecrypt)
	}
	rc, err := se.Decrypt(packet.CipherAES256, d.key)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrDecrypt, err)
	}
	return rc, br, nil
}

// openEnvelopeFrom opens a value sealed with one of keys whose bytes after
// envelopeMagic r reads (size of them): only the plaintext is held.
func openEnvelopeFrom(keys *dataKeys, r io.Reader, size int64) ([]byte, error) {
	rc, br, err := envelopeContent(keys, r)
	if err != nil {
		return nil, err
	}
	// The plaintext is shorter than the sealed bytes: read into a buffer
	// of that size, never grown.
	plain := make([]byte, 0, max(size-4, 0))
	for {
		if len(plain) == cap(plain) {
			return nil, fmt.Errorf("%w: sealed value is longer than its bytes", ErrDecrypt)
		}
		n, err := rc.Read(plain[len(plain):cap(plain)])
		plain = plain[:len(plain)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrDecrypt, err)
		}
	}
	if err := rc.Close(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrDecrypt, err)
	}
	if n, _ := br.Read(make([]byte, 1)); n != 0 {
		return nil, fmt.Errorf("%w: bytes after the sealed value", ErrDecrypt)
	}
	return plain, nil
}
