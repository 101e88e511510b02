// Package crypto is secgate's OpenPGP and PGP/MIME layer.
//
// It is built on ProtonMail's gopenpgp/v2 and the go-crypto OpenPGP library
// under it. gopenpgp's armorer writes every armored block (with its Version
// and Comment headers left out, so nothing announces the library); the
// packet work goes to go-crypto directly, because gopenpgp's KeyRing checks
// expiry and revocation against a process-wide clock, while secgate checks
// every key at a time the caller passes (a simulated clock in tests and the
// demo, T0 for "valid through").
//
// # Keys
//
// GenerateKey makes a team key (curve25519 by default, RSA-3072/4096 on
// request); ParsePublicKey refuses secret keys (ErrSecretKey);
// ParsePrivateKey and LoadPrivateKey unlock a protected key
// (ErrBadPassphrase). Key.Check and Key.CheckThrough tell whether a key is
// expired (ErrExpired), revoked (ErrRevoked, hard revocations reaching back
// before their date) or has no usable encryption subkey (ErrNoEncryptKey) at
// a given time. Armored output carries no Version or Comment header.
//
// # Outbound: sign once, seal per recipient
//
// Key.Sign prepares a Content to be signed once: its entity gets the real
// Subject and From as protected header fields (RFC 9788 hp="clear"/"cipher",
// and the older protected-headers="v1") and becomes the first part of an
// RFC 3156 multipart/signed whose micalg names the hash actually used (SHA-1
// is never used). The encrypted (hp="cipher") variant also records, in
// HP-Outer header fields, what the outer header shows: the same From and
// the obscured Subject ObscuredSubject, "[...]" (RFC 9788's baseline
// policy), which the caller puts as the outer Subject. Fields that differ
// per recipient (To, Message-ID) are not recorded: the signature is shared
// by every recipient's copy. Signed.Entity is that multipart/signed for public mail.
// Signed.SealFor encrypts it for one recipient key into multipart/encrypted:
// the method takes exactly one key, and the ciphertext has exactly one
// session-key packet, so the API cannot produce one ciphertext readable by
// several recipients (which would also disclose the recipient list). Each
// variant is signed when first used, and every sealed copy shares its one
// signature.
//
// Big messages are not copied on the way: both variants share the
// content's body, sealing streams it through the encryption and the
// armorer into one buffer (Signed.AppendSealed appends to the caller's
// outer header), and opening decodes the armor while it decrypts. Content
// too big to hold (Content.Stream, an EntityStream that writes the entity
// on demand) is signed from a pipe as it is written and sealed for each
// recipient as it is written again (Signed.WriteSealed), never whole in
// memory.
//
// # Inbound
//
// Open decrypts PGP/MIME and inline PGP, and verifies multipart/signed
// (over the exact received bytes of the signed part in CRLF form),
// signed-then-encrypted messages (nested, RFC 3156 §6.1, and combined,
// §6.2) and cleartext signatures (whose Hash armor header must name the
// hash the signature uses). Only the root of the message is decrypted,
// and only one layer: decrypted content whose root is itself an encrypted
// message (multipart/encrypted, an armored PGP MESSAGE, encrypted packets
// in place of the literal data) is not decrypted, and Open fails with
// ErrNested. A Signature reports the signer's full primary-key
// fingerprint, a replay ID, and Whole: whether it covers the whole
// content, so a valid signature on a part wrapped in multipart/mixed, or
// on a clear-signed block with text around it, never passes for a signed
// message. Plaintext is never returned when the integrity check fails;
// password-encrypted (SKESK) messages are refused; nesting depth, part
// count, sizes and decompressed size are limited (Limits).
//
// Opened.Identities recognise a ciphertext however it was re-encoded
// (armor, transfer encoding, packet framing, inline or PGP/MIME): SHA-256
// digests of the session key and of the literal data of the decrypted
// layer. Open decrypts the session key itself (one public-key operation,
// as before) so that it can record it; the key is never kept. The text
// around an inline encrypted block is never merged with the decrypted
// text: Opened.Outside holds it, and Opened.Partial says it is there.
//
// Inline PGP with attachments (Enigmail, Thunderbird before 78, K-9) is a
// multipart/mixed in clear whose text part holds an armored PGP MESSAGE
// and whose attachments are encrypted one by one: NAME.pgp or NAME.gpg
// (binary), NAME.asc (armored). At the root of a message Open decrypts
// each of them, within one plaintext limit for them all and at most
// Limits.MaxEncryptedParts, and makes Entity a multipart/mixed of the
// decrypted text and the decrypted attachments, named NAME with a type
// guessed from the name; every body in it is quoted-printable or base64,
// so no part's content can end a part. Each decrypted part adds its two
// Identities. The message is Encrypted only when every part with content
// was (a key or signature part, blank text, carry none); text in clear is
// Outside, never in Entity, and Outside names each attachment that came in
// clear or did not decrypt with the team key (to another key, with a
// password, damaged), which Entity holds as it came. The encrypted text
// not decrypting, or every part with content encrypted and none to us,
// fails as a single inline body would; encryption inside any decrypted
// part is ErrNested. A signature inside a block is Whole only when it
// alone covers all the message holds (blank text aside): separate
// signatures on separate parts do not bind the parts together, and a key
// attached next to it is anyone's.
//
// OpenFrom is Open of a big PGP/MIME message read as a stream (from the
// pieces it is stored in), never whole in memory: one pass finds its
// armored part, then the OpenPGP message is decrypted as Open decrypts
// it. It takes only the form it reads exactly as Open does and leaves any
// other message to Open. OpenFromSpooled decrypts a plaintext over 1 MiB
// into a Spool the caller makes (its store, sealed at rest), hashing it
// for its identity on the way; the spool is used only once the integrity
// check passed. When the decrypted content's root is a multipart (its
// parts found line by line as splitMultipart finds them, a signature over
// a part verified as the part is read), the entity is read from the spool
// (Opened.Spooled); any other plaintext is read back whole and opened as
// before.
//
// TextBody turns a content entity into text (format=flowed unflowed as
// the sender's client shows it) and attachments; ProtectedHeaders reads
// the protected Subject and From. TextBodySpooled and TextBodyFrom (of a
// spooled entity) decode each attachment over 1 MiB into a spool as it is
// read.
//
// # At rest
//
// Key.EncryptAtRest and Key.DecryptAtRest encrypt case content for
// storage: to the team key alone, or, once the key carries data keys
// (Key.WithDataKeys), with a random AES-256 data key as one OpenPGP SEIPD
// version 2 packet behind a short prefix naming the data key, which no
// OpenPGP message starts with, so that DecryptAtRest tells the two forms
// apart. A data key is stored only wrapped to the team key
// (Key.WrapDataKey, Key.UnwrapDataKey); sealing with it costs no
// public-key operation. SealAtRest and OpenAtRest seal and open a big
// value as a stream; ReadAtRest reads one sealed with a data key as it
// opens it, each chunk authenticated before it is read.
package crypto
