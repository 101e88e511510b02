package templates

import "time"

// Data is what every template receives. Callers fill the parts that concern
// the message they send and leave the rest zero; the comment at the top of
// each template names the fields it reads. All times are absolute; the
// templates format them (utc, inzone, date).
type Data struct {
	Project   Project
	Case      CaseData
	Now       time.Time // when the text is rendered
	Recipient Person    // who this copy is addressed to (may be zero for lists)
	Actor     Person    // who caused it (the member whose command it answers)
	Message   MessageData
	Plan      PlanData
	Consent   ConsentData
	Answer    AnswerData
	Reminder  ReminderData
	Skipped   []SkippedData
	Keys      []KeyData
	WrongKey  WrongKeyData
	Ack       AckData
	// Retrospective is the case's own history (/draft retrospective).
	Retrospective RetrospectiveData
	// Application is a distributor's application to an embargo list
	// (/apply LIST) and what became of it; Leak a leak recorded on the case.
	Application ApplicationData
	Leak        LeakData
	Reason      string // free text: why (embargo broken, refusal, forced date)
}

// Project describes the project and its security team.
type Project struct {
	Name           string // "Knative"
	Team           string // "Knative Product Security Team"
	TeamAddress    string // "security@knative.example"
	KeyFingerprint string // the team key, full upper-case hex
	KeyURL         string // where the team key is published
	PolicyURL      string // the disclosure policy document
	AdvisoryURL    string // where advisories are published (base URL)
	AnnounceList   string // public announcement list address
	IssueTracker   string // public issue tracker URL
	AdvisoryPrefix string // "KCSA", "GHSA", ...
	NotePrefix     string // "KCSN"
	CasePrefix     string // "KN": case references KN-YYYY-NNNN ("" for SEC)
}

// Person is a reporter, team member or distributor.
type Person struct {
	Name        string
	Address     string
	Fingerprint string
	TZ          string // IANA zone, "" for UTC
}

// CaseData is the part of a case a text may show.
type CaseData struct {
	Ref           string // "SEC-2026-0007"
	Title         string // short summary, header-safe is applied to subjects
	State         string
	Class         string // Kata class: A, B1 ... Z
	Policy        string // knative, kata, kubeedge
	CVSSVector    string
	CVSSScore     float64
	Severity      string // LOW, MEDIUM, HIGH, CRITICAL
	CVE           string
	Advisory      string // GHSA-... or KCSA-2026-001
	Component     string // affected component/package
	Affected      string // affected versions, free text ("< 1.2.3, 1.3.0")
	Fixed         string // fixed versions ("1.2.3, 1.3.1")
	Credit        string
	CreditConsent bool   // the reporter agreed to be credited (CreditAnswer "yes")
	CreditAnswer  string // the reporter's answer to being named (/credit consent): "yes", "no", "" while none is recorded (asked, not answered yet)
	Impact        string // the impact description (multi-line)
	Mitigation    string // mitigations/workarounds (multi-line)
	Patches       []string
	References    []string
	Release       string // where the fixed release and its binaries are (/release URL): the announcement links it
	Reporter      Person
	Lead          Person
	Received      time.Time
	EvaluateBy    time.Time // policy evaluation deadline (zero: none)
	FixBy         time.Time // policy fix deadline (zero: none)
	DiscloseAt    time.Time // planned public disclosure (T0), zero if none
	Embargoed     bool      // still under embargo
	AdvisoryLink  string    // the published advisory's address (advisory URL and ID), "" when unknown
	ClassMeaning  string    // what Class means in the Kata taxonomy
	Note          string    // the security note's ID (KCSN-2026-001), once it is published
}

// MessageData is an inbound message relayed to the team.
type MessageData struct {
	From        string
	Subject     string
	Date        time.Time
	MessageID   string
	Text        string
	Attachments []string // file names
	Encrypted   bool
	Signed      bool   // signature verified
	SignedBy    string // fingerprint of the verified signer
	// SignedWith says whose key made the verified signature: "the
	// reporter's key on file", "the key we hold for this distributor", "a
	// key that came with the message"; "" when not verified.
	SignedWith string
	// SignatureNote says what became of a signature that did not verify
	// (unknown key, bad signature); "" when unsigned or verified.
	SignatureNote string
	FollowUp      bool // a follow-up of an existing case, not a new report
	// Distributor: from a distributor of an embargo list (a reply to a
	// notice); TheirKey: signed by the key the directory holds for them.
	Distributor bool
	TheirKey    bool
	// SignerNotSender: the verified signer's key has no user ID with the
	// From address; the sender may not be the signer.
	SignerNotSender bool
	// OtherSender: a follow-up from another address than the reporter's.
	OtherSender bool
	// Archived is the reference of an archived case a new report's
	// subject tag names, ArchivedAt when it was archived: the report
	// opened a new case.
	Archived   string
	ArchivedAt time.Time
	// Outside is unencrypted, unverified text that came around the
	// encrypted part; shown as such, never as part of the message.
	Outside string
	// Token marks this copy's untrusted text (see Untrusted).
	Token string
	// Commands names the lines of Text that read as commands ("/status",
	// "2 unknown"; see cases.CommandNames) in mail from someone who is not
	// a team member: none of them was applied. CommandsTold says whether
	// the sender was told so.
	Commands     []string
	CommandsTold string
}

// PlanData is a disclosure timeline.
type PlanData struct {
	T0            time.Time // public disclosure
	Previous      time.Time // the T0 this plan replaces (re-plan), zero if none
	EmbargoNotice time.Time // embargo notice to distributors
	PreRelease    time.Time // 24-hour pre-release notice (zero if the policy has none)
	RetroFrom     time.Time // retrospective window
	RetroTo       time.Time
	LeadTZ        string // the lead's IANA zone for the second column of the plan
	Forced        string // reason given with force, "" if the plan meets the policy
	Notice        string // the notice period, e.g. "21 days"
	Warnings      []string
	Cancelled     bool // the planned release will not take place (pre-announcement)
	NoEmbargo     bool // planned without an embargo: the distributors are not told first
	// Next is the next step of the timeline ("pre-release notice to the
	// distributors"), due at NextAt; "" when no step is pending.
	Next   string
	NextAt time.Time
}

// AnswerData is the answer to a command mail.
type AnswerData struct {
	Commands []string // the commands as received
	Done     []string // one line per applied change: what the subject counts
	Notes    []string // lines that are not changes: what a change implies, warnings, who was told
	Refused  string   // why nothing was applied (all-or-nothing)
	Help     []HelpLine
	Log      []LogLine
	Draft    DraftData // /draft
	Replies  []string  // texts sent to the reporter by /reply (team-note)
}

// DraftData is a text rendered for /draft.
type DraftData struct {
	Name    string // the template
	Subject string
	Body    string
}

// HelpLine documents one command.
type HelpLine struct {
	Usage string
	Text  string
}

// RetrospectiveData is what a case's retrospective is drafted from: who
// took part and what happened when, from the case's audit log, in words
// fit for the project's public list (no fingerprints, no reporter address).
type RetrospectiveData struct {
	People   []string       // "Alice Lead (fix lead)", in order of first appearance
	Timeline []TimelineLine // oldest first
}

// TimelineLine is one step of a case's history.
type TimelineLine struct {
	At   time.Time
	Who  string // a member's name, "the reporter" or "secgate"
	What string
}

// LogLine is one audit log entry.
type LogLine struct {
	At     time.Time
	Actor  string
	Action string
	Detail string
}

// ReminderData is an SLA reminder.
type ReminderData struct {
	What    string    // "evaluate the report", "release the fix"
	Due     time.Time // deadline
	Overdue bool
}

// SkippedData is a recipient who got nothing.
type SkippedData struct {
	Name    string
	Address string
	Reason  string
}

// KeyData is a key in the key expiry report.
type KeyData struct {
	Name        string
	Address     string
	Fingerprint string
	Expires     time.Time // zero: does not expire
	Problem     string    // "expires in 5 days", "expired", "revoked"
}

// WrongKeyData describes a report encrypted to keys we do not hold.
type WrongKeyData struct {
	KeyIDs []string // hex key IDs the message was encrypted to
}

// ConsentData is a planned disclosure proposed to the reporter, where the
// policy has them agree to it first (reporter_consent).
type ConsentData struct {
	Code string // what the reporter's "/agree CODE" line carries
	Key  string // fingerprint of the reporter's key on file, whose signature counts; "" when none
}

// ApplicationData is a distributor's application to an embargo list. The
// texts to the applicant name nothing but their own application: never
// another distributor, never a member's address.
type ApplicationData struct {
	Ref         string   // APP-2026-0001; "" when the application was refused before it got one
	List        string   // the list applied to
	Address     string   // the applicant's address
	Fingerprint string   // the applicant's key, "" when none was usable
	UserIDs     []string // the addresses of the key's user IDs
	Expires     time.Time
	KeyProblem  string   // why the key cannot be encrypted to now, "" when it can
	Encrypted   bool     // the application came encrypted to the team key
	Signed      string   // the fingerprint of the key whose signature verified, "" when none
	Text        string   // the applicant's rationale (untrusted)
	Token       string   // marks the untrusted text in the team's copy
	Criteria    []string // what the list asks an applicant to show
	Refused     string   // why the application was not taken (to the applicant and the team)
	SecretKey   bool     // the mail carried a secret key
	// The embargo policy the welcome states: the notice windows of the
	// project's policy, "" when it has none.
	MinNotice  string
	MaxNotice  string
	PreRelease string
}

// LeakData is a leak reported or suspected on a case (/leak WHO: WHAT).
type LeakData struct {
	Who  string
	What string
}

// AckData is what a text says of the acknowledgement of a notice by its
// recipients (a reply in its thread signed by their key on file).
type AckData struct {
	// Code is the notice's acknowledgement code, which the signed reply
	// must hold (the embargo and pre-release notices, the reminder); ""
	// where there is none yet (/draft).
	Code      string
	Notice    string    // the notice a reminder or an escalation is about: "embargo notice"
	Delivered time.Time // when the reminded recipient's copy was delivered
	// Silent are the recipients who have not acknowledged a delivered
	// notice, one line each ("dana@vendor.example: embargo notice,
	// delivered 2026-11-20 09:31 UTC"): the escalation, the team summary.
	Silent []string
	// Verdict says, in the team copy of a distributor's reply, whether it
	// counted as their acknowledgement, and why not.
	Verdict string
}
