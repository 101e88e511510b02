package cases

import (
	"time"

	"github.com/secgate/secgate/distlist"
)

// State is the status of a case. The names follow the Kata Containers
// vulnerability management process, which covers the other seeds' steps.
type State string

// The case states.
const (
	StateNew          State = "new"
	StateIncomplete   State = "incomplete"
	StateConfirmed    State = "confirmed"
	StateTriaged      State = "triaged"
	StateCVERequested State = "cve-requested"
	StateFixCommitted State = "fix-committed"
	StateFixReleased  State = "fix-released"
	StateClosed       State = "closed"
	StateOpinion      State = "opinion"
	StateWontfix      State = "wontfix"
	StateInvalid      State = "invalid"
)

// States lists every state in lifecycle order, side exits last.
var States = []State{
	StateNew, StateIncomplete, StateConfirmed, StateTriaged, StateCVERequested,
	StateFixCommitted, StateFixReleased, StateClosed,
	StateOpinion, StateWontfix, StateInvalid,
}

// Credit consent values: unknown until the reporter answers.
const (
	ConsentUnknown = ""
	ConsentYes     = "yes"
	ConsentNo      = "no"
)

// Case is one vulnerability report and everything the team decided about it.
// Impact and Terms are decrypted from the store when the case is read.
type Case struct {
	ID            int64
	Ref           string // "SEC-2026-0007"
	State         State
	Class         string
	CVSSVector    string // canonical form
	CVSSScore     float64
	Severity      string // NONE, LOW, MEDIUM, HIGH, CRITICAL
	CVE           string
	Advisory      string
	Affected      string
	Fixed         string
	Credit        string
	CreditConsent string // "", "yes", "no"
	Impact        string // impact description draft (stored encrypted)
	Terms         string // the reporter's disclosure terms (stored encrypted)
	Details              // title, component, mitigation, patches, references (stored encrypted)
	ReporterAddr  string
	ReporterKey   string // armored public key, "" when unknown
	Lead          string // fix lead fingerprint
	RotaLead      string // the lead the rota assigned at opening
	LeadOffer     string // fingerprint a hand-off was offered to, "" if none
	LeadReleased  bool   // the lead agreed that anyone may /lead take
	Team          []string
	Policy        string
	CloseReason   string
	Received      time.Time
	Created       time.Time
	Updated       time.Time
	DiscloseAt    time.Time
}

// Terminal reports whether the case has ended.
func (c *Case) Terminal() bool { return terminal(c.State) }

// Report is a new vulnerability report, as intake hands it to OpenCase.
type Report struct {
	MessageID   string
	From        string // reporter address, with or without a display name (see distlist.CanonicalAddress)
	Key         string // reporter's armored public key, "" if none
	Subject     string // stored encrypted with the text, never in clear
	Text        string
	Attachments []Attachment
	Encrypted   bool   // the report arrived encrypted to the team key
	Terms       string // disclosure terms stated by the reporter
	Policy      string // policy preset name; "" uses Config.Policy
	Received    time.Time
	// Sealed, if set, is the report's subject, text and attachments
	// encrypted at rest ahead of OpenCase by Workflow.SealMessage.
	Sealed *SealedMessage
	// Team, if set, is the team as the caller read it from the directory
	// (intake reads it once per batch); nil: OpenCase reads it.
	Team []distlist.Member
	// Archived, if set, is the reference of an archived case the report
	// names (its subject tag): the case's first audit event says so.
	Archived string
}

// Message kinds stored with a case.
const (
	KindReport      = "report"
	KindFollowUp    = "followup"
	KindDistributor = "distributor" // a distributor's reply to a notice
	KindPatch       = "patch"       // a patch file attached to a command mail (/patch NAME)
	KindComment     = "comment"     // free text of a team member's command mail
	KindNote        = "note"
	KindReply       = "reply" // text sent to the reporter
	KindImpact      = "impact"
)

// Message is a stored case message.
type Message struct {
	ID          int64
	Kind        string
	Author      string // address (reporter) or fingerprint (member)
	MessageID   string
	Subject     string
	Text        string
	Attachments []Attachment
	Encrypted   bool
	Received    time.Time
	// Signer is the fingerprint of the key whose signature over the
	// whole message verified, "" when none did; it is not stored (the
	// reporter's consent reads it).
	Signer string
	// Told says what the sender of a follow-up or a distributor's reply
	// was told of the lines of Text that read as commands (CommandLines):
	// the author is not a team member, so none of them runs, and
	// AddMessage records that in the audit log with Told ("": nobody was
	// told). It is not stored.
	Told string

	sealed *SealedMessage // see Report.Sealed
}

// Attachment is a file that came with a report or follow-up. It is stored
// encrypted and never unpacked.
type Attachment struct {
	Filename    string
	ContentType string
	Data        []byte
	// Stored, when set, holds the content instead of Data: a big
	// attachment read as a stream (storedattachment.go).
	Stored Stored
}
