package crypto

// THIS FILE IS THE CONTRACT other packages build against while the package is
// being written; the implementation replaces the bodies.

import (
	"errors"
	"time"
)

// Typed errors. Callers test them with errors.Is.
var (
	ErrExpired        = errors.New("key expired")
	ErrRevoked        = errors.New("key revoked")
	ErrNoEncryptKey   = errors.New("key has no usable encryption subkey")
	ErrSecretKey      = errors.New("secret key given where a public key is expected")
	ErrNotMIME        = errors.New("message is not MIME")
	ErrTooComplex     = errors.New("message exceeds parser limits")
	ErrDecrypt        = errors.New("message could not be decrypted")
	ErrWrongKey       = errors.New("message is encrypted to a key we do not hold")
	ErrBadSignature   = errors.New("signature does not verify")
	ErrUnknownSigner  = errors.New("signature by an unknown key")
	ErrBadPassphrase  = errors.New("wrong passphrase")
	ErrNotImplemented = errors.New("not implemented")
)

// Key is an OpenPGP key: public, or private and unlocked.
type Key struct{}

// GenerateOptions selects the algorithm of a generated key.
type GenerateOptions struct {
	Algorithm string        // "x25519" (default) or "rsa"
	Bits      int           // RSA size: 3072 (default) or 4096
	Lifetime  time.Duration // 0: does not expire
	Created   time.Time     // zero: now
}

func GenerateKey(name, email string, opts GenerateOptions) (*Key, error) {
	return nil, ErrNotImplemented
}
func ParsePublicKey(armored []byte) (*Key, error) { return nil, ErrNotImplemented }
func ParsePrivateKey(armored, passphrase []byte) (*Key, error) {
	return nil, ErrNotImplemented
}
func (k *Key) Fingerprint() string          { return "" } // full, upper-case hex
func (k *Key) Emails() []string             { return nil }
func (k *Key) IsPrivate() bool              { return false }
func (k *Key) ArmorPublic() (string, error) { return "", ErrNotImplemented }
func (k *Key) ArmorPrivate(pass []byte) (string, error) {
	return "", ErrNotImplemented
}
func (k *Key) Public() *Key                             { return nil }
func (k *Key) Expires() (time.Time, bool)               { return time.Time{}, false }
func (k *Key) Check(at time.Time) error                 { return ErrNotImplemented } // usable for encryption and signature at t
func (k *Key) CheckThrough(from, until time.Time) error { return ErrNotImplemented }

// Content is what a person reads: the real subject (carried in protected
// headers) and the MIME entity of the body (header fields, blank line, body;
// text/plain or multipart/mixed with attachments).
type Content struct {
	Subject string
	From    string
	Entity  []byte
}

// Signed is a message signed once by the team key.
type Signed struct{}

func (k *Key) Sign(c Content, at time.Time) (*Signed, error) { return nil, ErrNotImplemented }
func (s *Signed) Entity() []byte                             { return nil } // multipart/signed entity
func (s *Signed) Micalg() string                             { return "" }
func (s *Signed) SealFor(recipient *Key, at time.Time) ([]byte, error) {
	return nil, ErrNotImplemented
}

// Signature describes a verified or failed signature.
type Signature struct {
	Fingerprint string
	KeyID       uint64
	Created     time.Time
	Hash        string
	ID          string // hex SHA-256 of the signature packet: the replay key
	Whole       bool   // covers the whole content of the message
	Err         error  // nil when valid
}

// Opened is an inbound message after decryption and verification.
type Opened struct {
	Encrypted   bool
	EncryptedTo []uint64
	Inline      bool
	Entity      []byte // innermost content entity, exactly the signed bytes when signed
	Signature   *Signature
}

// OpenOptions configure Open.
type OpenOptions struct {
	Decrypt   *Key
	Verifiers []*Key
	Now       time.Time
}

func Open(raw []byte, opts OpenOptions) (*Opened, error) { return nil, ErrNotImplemented }

func LoadPrivateKey(path string, passphrase []byte) (*Key, error) { return nil, ErrNotImplemented }
func (k *Key) EncryptionKeyID(at time.Time) (uint64, error)       { return 0, ErrNotImplemented }
func (k *Key) EncryptAtRest(plain []byte) ([]byte, error)         { return nil, ErrNotImplemented }
func (k *Key) DecryptAtRest(ct []byte) ([]byte, error)            { return nil, ErrNotImplemented }

// Attachment is a decoded attachment of an inbound message.
type Attachment struct {
	Filename    string
	ContentType string
	Data        []byte
}

// TextBody decodes a content entity to its text and attachments.
func TextBody(entity []byte) (string, []Attachment, error) { return "", nil, ErrNotImplemented }
