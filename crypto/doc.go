// Package crypto is secgate's OpenPGP and PGP/MIME layer, built on gopenpgp
// (and go-crypto where gopenpgp lacks something).
//
// Outbound, a message is signed once by the team key (RFC 3156 multipart/signed
// with RFC 9788 protected headers) and then sealed separately for each
// recipient (multipart/encrypted to that recipient's key alone): the API has
// no way to encrypt one ciphertext to several recipients.
//
// Inbound, Open decrypts PGP/MIME and inline PGP, verifies multipart/signed
// over the raw signed bytes, signed-then-encrypted and cleartext-signed
// messages, and reports exactly what the signature covers, so callers can
// tell a fully signed body from a partly signed one.
package crypto
