package crypto

import (
	"bytes"
	gocrypto "crypto"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// Key is an OpenPGP key: public, or private and unlocked.
//
// A Key is safe for concurrent use once built: no method modifies it.
type Key struct {
	entity  *openpgp.Entity
	private bool

	// boundary, when set (tests only), replaces the random MIME boundaries.
	boundary func() string
	// previous are private keys that also decrypt for this one
	// (WithPrevious).
	previous []*openpgp.Entity
	// data are the data keys that seal and open data at rest in place
	// of the team key (WithDataKeys).
	data *dataKeys
}

// GenerateOptions selects the algorithm of a generated key.
type GenerateOptions struct {
	Algorithm string        // "x25519" (default) or "rsa"
	Bits      int           // RSA size: 3072 (default) or 4096
	Lifetime  time.Duration // 0: does not expire
	Created   time.Time     // zero: now
	// V6 makes an RFC 9580 version 6 key (Ed25519 and X25519, x25519
	// only). gpg 2.2 and many mail clients cannot read one yet.
	V6 bool
}

// baseConfig is the go-crypto configuration of every operation: strong
// defaults, no compression, and the given time instead of a global clock.
func baseConfig(at time.Time) *packet.Config {
	if at.IsZero() {
		at = time.Now()
	}
	return &packet.Config{
		DefaultHash:            gocrypto.SHA512,
		DefaultCipher:          packet.CipherAES256,
		DefaultCompressionAlgo: packet.CompressionNone,
		Time:                   func() time.Time { return at },
	}
}

// GenerateKey makes a new private key with one user ID, a signing primary
// key and an encryption subkey. "x25519" gives an Ed25519 primary key and a
// Curve25519 encryption subkey (OpenPGP v4, readable by GnuPG 2.2); "rsa"
// gives RSA keys of opts.Bits (3072 or 4096).
func GenerateKey(name, email string, opts GenerateOptions) (*Key, error) {
	cfg := baseConfig(opts.Created)
	if opts.Lifetime < 0 || opts.Lifetime > 100*365*24*time.Hour {
		return nil, fmt.Errorf("crypto: generate key: invalid lifetime %v", opts.Lifetime)
	}
	cfg.KeyLifetimeSecs = uint32(opts.Lifetime / time.Second)
	switch strings.ToLower(opts.Algorithm) {
	case "", "x25519", "curve25519", "ed25519":
		cfg.Algorithm = packet.PubKeyAlgoEdDSA
		cfg.Curve = packet.Curve25519
		if opts.V6 {
			cfg.V6Keys, cfg.Algorithm = true, packet.PubKeyAlgoEd25519
		}
	case "rsa":
		if opts.V6 {
			return nil, fmt.Errorf("crypto: generate key: version 6 keys are made with x25519 only")
		}
		bits := opts.Bits
		if bits == 0 {
			bits = 3072
		}
		if bits != 3072 && bits != 4096 {
			return nil, fmt.Errorf("crypto: generate key: RSA size %d not supported (3072 or 4096)", bits)
		}
		cfg.Algorithm = packet.PubKeyAlgoRSA
		cfg.RSABits = bits
	default:
		return nil, fmt.Errorf("crypto: generate key: unknown algorithm %q (x25519 or rsa)", opts.Algorithm)
	}
	e, err := openpgp.NewEntity(name, "", email, cfg)
	if err != nil {
		return nil, fmt.Errorf("crypto: generate key for %s: %w", email, err)
	}
	return &Key{entity: e, private: true}, nil
}

// readEntity reads exactly one key, armored or binary.
func readEntity(data []byte) (*openpgp.Entity, error) {
	var el openpgp.EntityList
	var err error
	if n := bytes.Count(data, []byte("-----BEGIN PGP")); n > 1 {
		return nil, fmt.Errorf("%w: %d armored blocks, want exactly one key", ErrMalformedKey, n)
	} else if n == 1 {
		el, err = openpgp.ReadArmoredKeyRing(bytes.NewReader(data))
	} else {
		el, err = openpgp.ReadKeyRing(bytes.NewReader(data))
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformedKey, err)
	}
	switch len(el) {
	case 0:
		return nil, fmt.Errorf("%w: no key found", ErrMalformedKey)
	case 1:
	default:
		return nil, fmt.Errorf("%w: %d keys found, want exactly one", ErrMalformedKey, len(el))
	}
	if sig, _ := el[0].PrimarySelfSignature(); sig == nil {
		return nil, fmt.Errorf("%w: key %X has no valid self-signature", ErrMalformedKey, el[0].PrimaryKey.Fingerprint)
	}
	// go-crypto's Signature.Serialize fills a field of the signature the
	// first time it runs: serialize once here, so that a Key shared by
	// goroutines (a key file parsed once for several projects, the key
	// cache) is only read afterwards.
	if err := el[0].Serialize(io.Discard); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformedKey, err)
	}
	return el[0], nil
}

// ParsePublicKey reads one public key (armored or binary). A secret key is
// refused with ErrSecretKey so it is never stored where public keys go.
func ParsePublicKey(armored []byte) (*Key, error) {
	e, err := readEntity(armored)
	if err != nil {
		return nil, fmt.Errorf("crypto: parse public key: %w", err)
	}
	if e.PrivateKey != nil {
		return nil, fmt.Errorf("crypto: parse public key %X: %w", e.PrimaryKey.Fingerprint, ErrSecretKey)
	}
	return &Key{entity: e}, nil
}

// ParsePrivateKey reads one private key and unlocks it with passphrase (an
// unprotected key needs none).
func ParsePrivateKey(armored, passphrase []byte) (*Key, error) {
	e, err := readEntity(armored)
	if err != nil {
		return nil, fmt.Errorf("crypto: parse private key: %w", err)
	}
	fpr := fmt.Sprintf("%X", e.PrimaryKey.Fingerprint)
	if e.PrivateKey == nil {
		return nil, fmt.Errorf("crypto: parse private key %s: %w", fpr, ErrNotPrivate)
	}
	if locked(e) {
		if len(passphrase) == 0 {
			return nil, fmt.Errorf("crypto: unlock key %s: %w: key is protected and no passphrase was given", fpr, ErrBadPassphrase)
		}
		if u := unlockFast(armored, passphrase, e); u != nil {
			return &Key{entity: u, private: true}, nil
		}
		if err := e.DecryptPrivateKeys(passphrase); err != nil {
			return nil, fmt.Errorf("crypto: unlock key %s: %w", fpr, ErrBadPassphrase)
		}
	}
	return &Key{entity: e, private: true}, nil
}

// unlockFast unlocks the key e was read from with unlockPackets; nil when
// that path does not apply or does not give e's key wholly unlocked, so
// that go-crypto's path decides.
func unlockFast(armored, passphrase []byte, e *openpgp.Entity) *openpgp.Entity {
	plain, ok := unlockPackets(armored, passphrase)
	if !ok {
		return nil
	}
	u, err := readEntity(plain)
	if err != nil || u.PrivateKey == nil || locked(u) || !bytes.Equal(u.PrimaryKey.Fingerprint, e.PrimaryKey.Fingerprint) ||
		len(u.Subkeys) != len(e.Subkeys) {
		return nil
	}
	return u
}

func locked(e *openpgp.Entity) bool {
	if e.PrivateKey != nil && e.PrivateKey.Encrypted {
		return true
	}
	for _, s := range e.Subkeys {
		if s.PrivateKey != nil && s.PrivateKey.Encrypted {
			return true
		}
	}
	return false
}

// LoadPrivateKey reads an armored private key file and unlocks it.
func LoadPrivateKey(path string, passphrase []byte) (*Key, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("crypto: load private key: %w", err)
	}
	k, err := ParsePrivateKey(data, passphrase)
	if err != nil {
		return nil, fmt.Errorf("%w (file %s)", err, path)
	}
	return k, nil
}

// Fingerprint is the full primary-key fingerprint in upper-case hex.
func (k *Key) Fingerprint() string {
	return strings.ToUpper(hex.EncodeToString(k.entity.PrimaryKey.Fingerprint))
}

// KeyID is the 64-bit ID of the primary key.
func (k *Key) KeyID() uint64 { return k.entity.PrimaryKey.KeyId }

// Emails lists the e-mail addresses of the key's user IDs, the primary one
// first, each once.
func (k *Key) Emails() []string {
	var primary string
	if id := k.entity.PrimaryIdentity(); id != nil && id.UserId != nil {
		primary = id.UserId.Email
	}
	seen := map[string]bool{}
	var out []string
	if primary != "" {
		seen[primary] = true
		out = append(out, primary)
	}
	var rest []string
	for _, id := range k.entity.Identities {
		if id.UserId == nil || id.UserId.Email == "" || seen[id.UserId.Email] {
			continue
		}
		seen[id.UserId.Email] = true
		rest = append(rest, id.UserId.Email)
	}
	sort.Strings(rest)
	return append(out, rest...)
}

// Name is the name of k's primary user ID ("" when it has none).
func (k *Key) Name() string {
	if id := k.entity.PrimaryIdentity(); id != nil && id.UserId != nil {
		return id.UserId.Name
	}
	return ""
}

// IsPrivate reports whether k holds unlocked private key material.
func (k *Key) IsPrivate() bool { return k.private }

// Public returns the public part of k (k itself when it is public), with
// the public parts of the keys k succeeded (WithPrevious).
func (k *Key) Public() *Key {
	if !k.private && !k.previousPrivate() {
		return k
	}
	p := &Key{entity: publicEntity(k.entity), boundary: k.boundary}
	for _, e := range k.previous {
		p.previous = append(p.previous, publicEntity(e))
	}
	return p
}

// publicEntity is a copy of e without private key material.
func publicEntity(e *openpgp.Entity) *openpgp.Entity {
	if e.PrivateKey == nil {
		return e
	}
	c := *e
	c.PrivateKey = nil
	c.Subkeys = append([]openpgp.Subkey(nil), e.Subkeys...)
	for i := range c.Subkeys {
		c.Subkeys[i].PrivateKey = nil
	}
	return &c
}

// previousPrivate reports whether a key k succeeded is private.
func (k *Key) previousPrivate() bool {
	for _, e := range k.previous {
		if e.PrivateKey != nil {
			return true
		}
	}
	return false
}

// ArmorPublic returns the armored public key, without armor headers.
func (k *Key) ArmorPublic() (string, error) {
	var buf bytes.Buffer
	if err := k.entity.Serialize(&buf); err != nil {
		return "", fmt.Errorf("crypto: armor public key %s: %w", k.Fingerprint(), err)
	}
	return armorString(openpgp.PublicKeyType, buf.Bytes())
}

// ArmorPrivate returns the armored private key protected by pass (which must
// not be empty). k itself stays unlocked.
func (k *Key) ArmorPrivate(pass []byte) (string, error) {
	if !k.private {
		return "", fmt.Errorf("crypto: armor private key %s: %w", k.Fingerprint(), ErrNotPrivate)
	}
	if len(pass) == 0 {
		return "", fmt.Errorf("crypto: armor private key %s: empty passphrase", k.Fingerprint())
	}
	var plain bytes.Buffer
	if err := k.entity.SerializePrivateWithoutSigning(&plain, nil); err != nil {
		return "", fmt.Errorf("crypto: armor private key %s: %w", k.Fingerprint(), err)
	}
	cp, err := openpgp.ReadEntity(packet.NewReader(&plain))
	if err != nil {
		return "", fmt.Errorf("crypto: armor private key %s: %w", k.Fingerprint(), err)
	}
	if err := cp.EncryptPrivateKeys(pass, nil); err != nil {
		return "", fmt.Errorf("crypto: protect private key %s: %w", k.Fingerprint(), err)
	}
	var buf bytes.Buffer
	if err := cp.SerializePrivateWithoutSigning(&buf, nil); err != nil {
		return "", fmt.Errorf("crypto: armor private key %s: %w", k.Fingerprint(), err)
	}
	return armorString(openpgp.PrivateKeyType, buf.Bytes())
}

// entityList returns the go-crypto entities of keys, skipping nil ones.
func entityList(keys ...*Key) openpgp.EntityList {
	var el openpgp.EntityList
	for _, k := range keys {
		if k != nil {
			el = append(el, k.entity)
		}
	}
	return el
}
