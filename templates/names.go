package templates

// Template names. Callers use these constants rather than string literals.
const (
	Ack                = "ack"                 // reception acknowledgement with embargo reminder
	Incomplete         = "incomplete"          // reception incomplete
	TeamCopy           = "team-copy"           // team copy of a report or follow-up
	TeamSummary        = "team-summary"        // what a command mail or a step of the timeline changed, to the rest of the team
	Impact             = "impact"              // impact description
	CVERequestPrivate  = "cve-request-private" // CVE request, embargoed
	CVERequestPublic   = "cve-request-public"  // CVE request or publication notice, public
	EmbargoNotice      = "embargo-notice"      // embargo notice to distributors
	EmbargoChange      = "embargo-change"      // disclosure date changed
	EmbargoBroken      = "embargo-broken"      // embargo over early
	EmbargoWithdrawn   = "embargo-withdrawn"   // disclosure withdrawn: the case ended invalid, wontfix or opinion
	PreReleaseNotice   = "prerelease-notice"   // 24-hour pre-release notice
	Announcement       = "announcement"        // public announcement email
	PreAnnouncement    = "pre-announcement"    // the date of a planned release, to the public lists
	AnnouncementChat   = "announcement-chat"   // public announcement, chat channel
	AnnouncementIssue  = "announcement-issue"  // public tracking issue
	Advisory           = "advisory"            // security advisory, markdown
	SecurityNote       = "security-note"       // security note (opinion), markdown
	Retrospective      = "retrospective"       // retrospective reminder
	RetroDraft         = "retrospective-draft" // the retrospective itself, drafted from the case's history (/draft retrospective)
	SLAReminder        = "sla-reminder"        // policy deadline near or missed
	SkippedRecipients  = "skipped-recipients"  // recipients who got nothing
	WrongKey           = "wrong-key"           // report encrypted to a key we do not hold
	NotMember          = "not-member"          // to someone outside the team whose mail on a case had command lines: not applied
	AnswerDone         = "answer-done"         // command answer: applied
	AnswerRefused      = "answer-refused"      // command answer: refused
	AnswerHelp         = "answer-help"         // command answer: /help
	AnswerLog          = "answer-log"          // command answer: /log
	AnswerDraft        = "answer-draft"        // command answer: /draft
	KeyExpiry          = "key-expiry"          // key expiry report
	Decision           = "decision"            // to the reporter: invalid, wontfix or opinion
	Reply              = "reply"               // /reply: team message to the reporter
	Disclosure         = "disclosure"          // to the reporter: the planned disclosure date
	ConsentProposal    = "consent-proposal"    // to the reporter: a planned disclosure they are asked to agree to (reporter_consent)
	ReporterConfirmed  = "reporter-confirmed"  // to the reporter: confirmed as a vulnerability, work on a fix begins
	ReporterPublished  = "reporter-published"  // to the reporter: made public, with the advisory's link
	ReporterReview     = "reporter-review"     // to the reporter: the impact description to review (Kata), encrypted only
	HandoffOffer       = "handoff-offer"       // fix lead offered to a member
	HandoffConfirm     = "handoff-confirm"     // fix lead hand-off confirmed
	Application        = "application"         // to the team: a distributor's application to an embargo list (/apply LIST)
	ApplicationReceipt = "application-receipt" // to the applicant: the application waits for the team
	ApplicationRefused = "application-refused" // to the applicant: the application was not taken, and why
	ApplicationWelcome = "application-welcome" // to the approved applicant: on the list, and the embargo policy
	ApplicationDenied  = "application-denied"  // to the applicant: the team declined, and why
	ListRemoved        = "list-removed"        // to a distributor removed from an embargo list
	Leak               = "leak"                // to the team: a leak recorded on a case (/leak)
	AckReminder        = "ack-reminder"        // to a distributor who has not acknowledged a notice: please do, in its thread
	AckEscalation      = "ack-escalation"      // to the fix lead: who has not acknowledged a notice
)

// retired are the names of texts no longer sent, each with the text that
// took its place: an override of one is refused with a message naming it.
var retired = map[string]string{
	"team-note": TeamSummary, // a comment or /reply is now part of the summary of its mail
}
