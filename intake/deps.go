package intake

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// The Processor talks to the rest of secgate through these small
// interfaces; adapters.go implements them over crypto, distlist and cases.

// Errors an Opener returns; the Processor tells them apart.
var (
	// ErrWrongKey: encrypted, but to none of the keys we hold.
	ErrWrongKey = errors.New("encrypted to a key we do not hold")
	// ErrUndecryptable: encrypted to us but it does not decrypt or fails
	// its integrity check.
	ErrUndecryptable = errors.New("could not be decrypted")
	// ErrBadSignature: signed, and the signature does not verify.
	ErrBadSignature = errors.New("signature does not verify")
	// ErrTooComplex: beyond the OpenPGP/MIME parser's limits.
	ErrTooComplex = errors.New("too complex to open")
	// ErrNested: decrypted content holds another encrypted message, which
	// is not opened.
	ErrNested = errors.New("nested encryption")
)

// OpenError carries the key IDs of a message encrypted to keys we do not
// hold; it wraps ErrWrongKey.
type OpenError struct {
	Err    error
	KeyIDs []string // hex key IDs the message was encrypted to
}

func (e *OpenError) Error() string { return e.Err.Error() }
func (e *OpenError) Unwrap() error { return e.Err }

// Opened is an inbound message after decryption and verification, reduced
// to what intake needs.
type Opened struct {
	Encrypted   bool
	Inline      bool
	Text        string // the content as text (HTML converted)
	Subject     string // protected subject when the content carried one
	Attachments []Attachment
	// Signer is the verified signer's fingerprint ("" when unsigned or
	// unverified); SignerKey its armored public key when it came with the
	// message.
	Signer      string
	SignerKey   string
	SignedWhole bool
	SignatureID string
	// SignerEmails are the addresses in the user IDs of the signer's key:
	// the sender is the signer only if one of them is the From address.
	SignerEmails []string
	// SignatureErr is set when a signature was present but did not verify
	// or its key is unknown.
	SignatureErr error
	// Identities are what the message protects, which no re-encoding
	// changes: a hash of each session key and each decrypted plaintext.
	// Set also when opening failed past decryption (nested encryption).
	Identities [][]byte
	// Outside is unencrypted, unverified text that came around an
	// encrypted inline block: shown to the team as such, never merged.
	Outside string
	// Entity is the innermost content entity (the bytes a signature
	// covers), for the command workflow.
	Entity []byte
	// Native is the Opener's own result (*crypto.Opened for the real
	// one), handed on to the command workflow.
	Native any
}

// Attachment is a file that came with a message.
type Attachment struct {
	Filename    string
	ContentType string
	Data        []byte
	// Stored holds the content instead of Data for a big attachment,
	// decoded out of memory (partspool.go).
	Stored StoredData
}

// Opener decrypts with the team key and verifies signatures. candidates are
// armored public keys that came with the message (attached or Autocrypt);
// team keys are known to the Opener.
type Opener interface {
	// On error, Opened may still be returned (with Native set) for the
	// command workflow.
	// team are the current members, whose keys verify command mail.
	Open(ctx context.Context, raw []byte, candidates []string, team []Member, now time.Time) (*Opened, error)
}

// Member is a team member.
type Member struct {
	Name        string
	Address     string
	Fingerprint string
	Key         any // the directory's parsed key (*crypto.Key), handed back in Recipient
	Record      any // the directory's own record of the member, handed back in Report.Team
}

// Directory answers who is who.
type Directory interface {
	// Team returns the current members; a Processor reads it once per
	// message.
	Team(ctx context.Context) ([]Member, error)
	// Distributor reports whether addr receives embargo notices, with
	// the key they are known by (as a Member, for verification).
	Distributor(ctx context.Context, addr string) (Member, bool, error)
}

// Recipient is one recipient of outgoing mail. Encrypted mail needs a key:
// Fingerprint names a key in the directory (members), Key is an armored key
// (the reporter's).
type Recipient struct {
	Name        string
	Address     string
	Fingerprint string
	Key         string
	Member      any // Member.Key of a team member
}

// OutMail is one outgoing notice; the outbox writes one message per
// recipient.
type OutMail struct {
	Kind        string // "ack", "team-copy", "sender-notice"
	CaseID      int64
	NoticeID    string
	Subject     string
	Body        string
	Attachments []Attachment
	Encrypt     bool
	Recipients  []Recipient
	InReplyTo   string
	References  []string
	ReplyTo     string
	Auto        bool
}

// Mailer is the outbox.
type Mailer interface {
	// Enqueue stores mail inside tx; it returns the recipients that get
	// nothing (no usable key) with the reason.
	Enqueue(ctx context.Context, tx *sql.Tx, m OutMail) (skipped []string, err error)
	CaseForMessageID(ctx context.Context, msgid string) (caseID int64, ok bool, err error)
	HandleDSN(ctx context.Context, raw []byte) (matched bool, err error)
	// Kick wakes delivery after a transaction with Enqueue committed.
	Kick()
}

// A BatchMailer is a Mailer that seals the mail of a group of messages,
// which share one transaction, in the background while the group's
// decisions go on.
type BatchMailer interface {
	Mailer
	Batch() MailBatch
}

// MailBatch queues mail for one group transaction. Enqueue stores the rows
// at once; Flush writes the sealed messages and must succeed before the
// commit, or the transaction is rolled back. Mark and Rollback follow the
// group's savepoints. Close waits for what is still being sealed.
type MailBatch interface {
	Enqueue(ctx context.Context, tx *sql.Tx, m OutMail) (skipped []string, err error)
	Mark() int
	Rollback(mark int)
	Flush(ctx context.Context, tx *sql.Tx) error
	Close()
}

// CaseInfo is what intake needs to know about a case.
type CaseInfo struct {
	ID           int64
	Ref          string
	State        string
	Policy       string
	ReporterAddr string
	ReporterKey  string
	Lead         string // fingerprint
	LeadName     string
	EvaluateBy   time.Time
}

// Report is a new report for Cases.OpenCase.
type Report struct {
	MessageID   string
	From        string
	Key         string
	Subject     string
	Text        string
	Attachments []Attachment
	Encrypted   bool
	Received    time.Time
	// Sealed, if set, is what a MessageSealer made of the report's
	// subject, text and attachments ahead of OpenCase.
	Sealed any
	// Team is the team as the Processor read it for the message's batch;
	// OpenCase takes the fix lead from it instead of reading it again.
	Team []Member
	// Archived is the reference of an archived case the report's subject
	// tag names ("" if none): the new case's first event says so.
	Archived string
}

// A MessageSealer is a Cases that can encrypt a report's subject, text and
// attachments at rest ahead of OpenCase, outside its transaction, so that
// the decisions of a group are not held up by public-key work. What it
// returns goes in Report.Sealed; a report that differs from what was
// sealed is sealed again by OpenCase.
type MessageSealer interface {
	SealMessage(subject, text string, atts []Attachment) (any, error)
}

// FollowUp is a message appended to a case.
type FollowUp struct {
	Kind        string // "followup" or "distributor"
	Author      string
	MessageID   string
	Subject     string
	Text        string
	Attachments []Attachment
	Encrypted   bool
	Received    time.Time
	// Key is a public key the message carries (attached, Autocrypt, or
	// the key that signed it), armored; the workflow may take it as the
	// reporter's key (cases.Workflow.TakeReporterKey).
	Key string
	// Signer is the fingerprint of the key whose signature over the whole
	// message verified, "" when none did.
	Signer string
	// Told is what the sender was told of the lines of Text that read as
	// commands, which never run (the sender is not a team member): the
	// workflow records the refusal in the audit log with it.
	Told string
}

// CommandMail is a mail from the team, for the case workflow.
type CommandMail struct {
	InboundID int64
	Raw       []byte
	MessageID string
	From      string
	Subject   string
	CaseID    int64   // the case the thread points to, 0 if none
	Opened    *Opened // nil when opening failed
	OpenErr   error   // the Opener's error, if any
	Received  time.Time
}

// Cases is the case workflow.
type Cases interface {
	OpenCase(ctx context.Context, tx *sql.Tx, r Report) (CaseInfo, error)
	AddMessage(ctx context.Context, tx *sql.Tx, caseID int64, m FollowUp) error
	CaseByRef(ctx context.Context, tx *sql.Tx, ref string) (CaseInfo, bool, error)
	CaseByID(ctx context.Context, tx *sql.Tx, id int64) (CaseInfo, error)
	// Archived reports whether ref names a case moved to the archive
	// database, and when it was moved.
	Archived(ctx context.Context, tx *sql.Tx, ref string) (time.Time, bool, error)
	HandleCommandMail(ctx context.Context, m CommandMail) error
	Alert(ctx context.Context, tx *sql.Tx, caseID int64, subject, text string) error
	// RecordUntrusted remembers the lines of texts the team is shown as
	// someone else's words in case caseID: none of them ever runs as a
	// command in that case.
	RecordUntrusted(ctx context.Context, tx *sql.Tx, caseID int64, texts ...string) error
}
