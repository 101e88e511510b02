// Package distlist is secgate's outbound side: the directory of people,
// lists and keys, and the durable per-recipient outbox that delivers every
// message the gateway sends.
//
// # Directory
//
// The [Directory] keeps the security team (members with a role, a rota
// order, an away flag and a time zone), the embargo list of distributors,
// public announcement lists and per-case extras (the reporter, invited
// experts). Every person on an encrypted list has a public key pinned by its
// full fingerprint. Keys are imported with checks: a secret key given as a
// public key is refused, and an address that is not among the key's user IDs
// is refused unless explicitly allowed. A key that cannot be encrypted to
// (expired, revoked, without a usable encryption subkey) is recorded with a
// warning and its holder marked unusable (Member.KeyErr, Recipient.KeyErr):
// they get nothing encrypted until a usable key is imported, and nobody else
// is affected. [Directory.Sync] loads the lists of a [Config];
// [CheckConfig] checks its key files without a database.
//
// # Outbox
//
// [Outbox.Enqueue] runs inside the caller's transaction, so a state change
// and the mail it causes commit together. It signs the content once with the
// team key and seals it separately for each recipient; a recipient whose key
// is missing, expired or revoked (now or before Mail.ValidThrough) gets
// nothing and is returned as [Skipped]. Each (notice, recipient) pair is one
// row holding the final message bytes, a stable Message-ID derived from the
// notice and the recipient with a per-install HMAC secret, and a VERP
// envelope sender (bounce+TOKEN@domain) whose token is an HMAC as well, so a
// forged bounce cannot mark a row. The sealing runs on every CPU while the
// rows are written in order. A [Batch] serves a group of messages that
// share one transaction (intake's group commit): its Enqueue writes the
// rows at once and seals in the background, and [Batch.Flush] writes the
// sealed messages before the commit.
//
// [Outbox.Run] delivers the rows over SMTP submission with several
// connections in parallel, each reused for many messages. Every attempt and
// the time of the next one are committed before dialing, so a crash never
// causes a retry storm; the next rows are claimed while the last are sent,
// and results are committed in batches; rows left in state sending by a
// crash are resent once, byte-identical, on restart. Replies 4xx, network
// errors and unknown errors defer the row with exponential backoff and
// jitter; 5xx fails it. A connection writes what go-smtp gives it only
// before it reads a reply (a message's data and its dot in one write), and
// the buffers of built and claimed messages are reused (msgbuf.go).
// Rows are never deleted: they are the history.
//
// # Addresses
//
// Every address is kept, compared and sent to in one form,
// [CanonicalAddress]: the addr-spec alone, lower case, its local part
// quoted only when it must be ("john q doe"@example.org goes into RCPT TO
// and the To header as it is). A string is never cut at angle brackets to
// find an address in it. An address that is not ASCII
// (δοκιμή@παράδειγμα.δοκιμή, user@bücher.example) is written in the header
// as raw UTF-8 (RFC 6532) and sent with SMTPUTF8 (RFC 6531); when the
// submission server does not offer SMTPUTF8 its row fails at once, saying
// so, rather than going out mangled.
//
// # Guard
//
// Every message passes one unexported choke point right before SMTP DATA:
// smtpConn.send, the only method of the only type that holds the SMTP
// client, runs the guard on the exact bytes it then writes. What must be
// encrypted is decided from the row's kind and the directory list it names
// (every kind but the public announcement and pre-announcement, the
// acknowledgement and texts to a reporter without a key, and intake's
// answer to a sender outside the team; every team or embargo list), never
// from the encrypt flag stored with the bytes, which may only add to it.
// Such a row must be multipart/encrypted with exactly one public-key
// encrypted session key packet, for the recipient's current encryption
// subkey, and one encrypted data packet with nothing after it; the
// recipient must be alone in To, with no Cc or Bcc. Anything else is
// refused, the row fails, and the refusal is logged as a bug. A test
// type-checks the repository and fails on any other use of the SMTP client.
// An embargo or pre-release notice whose disclosure time has passed is
// never sent: it is checked before dialing and before DATA, and ends
// failed as missed.
//
// # Suspensions and applications
//
// [Directory.Suspend] keeps a distributor out of every notice, of any case
// on any embargo list, until [Directory.Reinstate]: Enqueue skips them,
// the notices waiting for them are withdrawn, and a row claimed for one
// ends failed instead of going out. [Directory.Applications] says whether
// an embargo list takes applications by mail (applications = true) and
// what an applicant is asked to show (criteria, or DefaultCriteria).
//
// # Bounces
//
// [Outbox.HandleDSN] parses RFC 3464 delivery status notifications, maps
// them by VERP token to their row and marks it bounced; repeated hard
// bounces flag the address for the team.
package distlist
