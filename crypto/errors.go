package crypto

import "errors"

// Typed errors. Callers test them with errors.Is; the returned errors wrap
// them with the details (which key, which part, what is wrong).
var (
	ErrExpired        = errors.New("key expired")
	ErrRevoked        = errors.New("key revoked")
	ErrNoEncryptKey   = errors.New("key has no usable encryption subkey")
	ErrNoSignKey      = errors.New("key has no usable signing key")
	ErrSecretKey      = errors.New("secret key given where a public key is expected")
	ErrNotPrivate     = errors.New("public key given where a private key is expected")
	ErrMalformedKey   = errors.New("malformed OpenPGP key")
	ErrNotMIME        = errors.New("message is not MIME")
	ErrTooComplex     = errors.New("message exceeds parser limits")
	ErrDecrypt        = errors.New("message could not be decrypted")
	ErrWrongKey       = errors.New("message is encrypted to a key we do not hold")
	ErrNested         = errors.New("nested encryption")
	ErrBadSignature   = errors.New("signature does not verify")
	ErrUnknownSigner  = errors.New("signature by an unknown key")
	ErrBadPassphrase  = errors.New("wrong passphrase")
	ErrNotImplemented = errors.New("not implemented")
	// ErrSpool: a spool the caller gave could not be made, written or
	// read (its store failed), which says nothing of the message.
	ErrSpool = errors.New("spool failed")
)
