package distlist

import "errors"

// Errors callers test with errors.Is.
var (
	ErrNotFound        = errors.New("distlist: not found")
	ErrAddressMismatch = errors.New("distlist: address is not among the key's user IDs")
	ErrSecretKey       = errors.New("distlist: a secret key was given where a public key is expected")
	ErrNoEncryptKey    = errors.New("distlist: key has no usable encryption subkey")
	ErrBadAddress      = errors.New("distlist: invalid mail address")
	ErrMustEncrypt     = errors.New("distlist: this kind of mail must be encrypted")
	ErrNoKey           = errors.New("distlist: recipient has no key")
	ErrGuard           = errors.New("distlist: guard refused the message")
)
