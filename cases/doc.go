// Package cases keeps secgate's vulnerability cases: the case model and its
// store, the lifecycle (state machine), the command grammar team members use
// in signed mail, the authentication and authorisation of those mails, and
// the append-only, hash-chained audit log.
//
// # Cases
//
// A report becomes a case with a human reference PREFIX-YYYY-NNNN, numbered
// per prefix and year from 0001 (OpenCase). The prefix is the project's
// (templates.Project.CasePrefix, [project] case_prefix), SEC by default
// (DefaultPrefix). Refs are a workflow's references: its prefix, and the
// prefixes of the cases its database already holds, which keep their
// references when a project changes its prefix; a /case line or a subject
// tag with any other prefix names no case of this project.
//
// The report, every follow-up, comment, note and reply, the impact draft,
// the reporter's disclosure terms and all attachments are stored encrypted
// to the team key (crypto's EncryptAtRest): a copy of the SQLite file alone
// reveals no report text. Metadata (state, class, CVSS, CVE, versions,
// fingerprints, times) is kept in clear for planning.
//
// The fix lead of a new case comes from the rota: members with Rota > 0 in
// rota order (every member when nobody has a rota number), starting after
// the lead the rota gave the previous case, skipping members who are away or
// whose key is not usable.
//
// # Lifecycle
//
// The states are Kata's (they cover the other seeds' steps). A transition
// not in this table is refused ("/status fix-released" on a new case):
//
//	from            to
//	new             incomplete, confirmed, opinion, wontfix, invalid
//	incomplete      confirmed, opinion, wontfix, invalid
//	confirmed       incomplete, triaged, fix-committed, opinion, wontfix, invalid
//	triaged         incomplete, cve-requested, fix-committed, opinion, wontfix, invalid
//	cve-requested   fix-committed, opinion, wontfix, invalid
//	fix-committed   fix-released
//	fix-released    closed
//	opinion         incomplete, confirmed, closed, wontfix, invalid
//	closed          (final)
//	wontfix         (final)
//	invalid         (final)
//
// Why: Kata sets a report Incomplete while it is unclear whether it warrants
// an advisory and back to Incomplete when the need is challenged (from
// confirmed or triaged); Confirmed when the advisory is warranted; Triaged
// once the impact description is drafted (so triaged requires /impact);
// In Progress (here cve-requested, alias "in-progress") when the CVE is
// requested; Fix committed when the downstream stakeholders got the embargo
// notice (Knative's embargo list, KubeEdge's private distributors); Fix
// released when all patches are merged; closed after the retrospective
// (Knative). Opinion waits for a security note and may still turn into an
// advisory (confirmed), end as wontfix/invalid, or close once the note is
// out. Wontfix and invalid end the case; Knative requires the reporter to be
// told in all cases, so the reporter gets a text on incomplete (Kata's
// reception-incomplete message), wontfix, invalid and opinion (Kata's security
// note case: the decision text says a note will follow).
//
// # Commands
//
// Team members act on a case by replying to any case mail with a signed
// message (PGP/MIME, signed or signed-then-encrypted). The grammar follows
// Prow's: one command per line, starting with "/" in the first column, read
// only from the signed text. Quoted lines (">") are ignored, and so is
// everything from a "-- " signature line down. The outer Subject never
// carries commands. Lines that are not commands are kept as a comment on the
// case. /impact, /reply and /note take a block: the rest of their line plus
// the following lines up to a blank line, a quoted line or the next command
// line. /list add may be followed by an armored public key. Parsing is
// all-or-nothing: one unknown or invalid command, and nothing in the mail is
// applied. Only a member's signed mail runs commands: CommandLines finds
// the lines the parser would read as commands in anyone else's mail on a
// case (the reporter's "/agree CODE" aside), and AddMessage records a
// refusal for them in the audit log, naming the commands (CommandNames),
// never their text, and what the sender was told (Message.Told).
//
//	/case PREFIX-YYYY-NNNN     name the case (else: signed subject tag, outer subject tag, thread)
//	/status STATE              move the case (table above; aliases in-progress, won't-fix)
//	/class CLASS               Kata class A B1 B2 B3 C1 C2 D E Y Z
//	/cvss VECTOR               CVSS 3.1 or 4.0; canonical vector, score and severity stored
//	/cve CVE-YYYY-NNNN         the assigned CVE
//	/advisory ID               GHSA-xxxx-xxxx-xxxx or the project's own ID (Config.AdvisoryPattern)
//	/affected VERSIONS         affected versions (free text)
//	/fixed VERSIONS            fixed versions (free text)
//	/credit NAME               who is credited; /credit consent yes|no records the reporter's answer; /credit none
//	/title TEXT                the vulnerability's title (one line)
//	/component NAME            the affected component or package
//	/impact TEXT...            impact description draft (block)
//	/mitigation TEXT...        mitigations and workarounds (block); /mitigation none clears
//	/terms TEXT...             the reporter's disclosure terms (block), shown with every /disclose; /terms none clears
//	/patch WHERE               add where a fix is to the embargo notice (a file attached, or the reporter's, goes with it); /patch none clears
//	/release URL               the release notes or binaries link for the announcement; /release none clears
//	/reference URL             add a reference URL for the advisory and records; /reference none clears
//	/reply TEXT...             text to the reporter, signed, encrypted when their key is known (block)
//	/note TEXT...              internal note (block)
//	/close [REASON]            fix-released -> closed
//	/close invalid|wontfix|opinion [REASON]   side exits (the reporter is told)
//	/lead offer @MEMBER        hand-off, step 1 (the fix lead)
//	/lead accept               hand-off, step 2 (the member offered); the gateway confirms to both (step 3)
//	/lead take                 become the lead when the case has none, the lead released it (/lead release),
//	                           offered it to you, or the rota skips the lead (away, removed, key unusable)
//	/lead release              the lead agrees that anyone may /lead take
//	/team add|remove @MEMBER   the case's fix team
//	/log                       mail me the audit log (encrypted)
//	/draft NAME                mail me a text rendered with the case (CVE request, impact, advisory, notices...)
//	/help                      mail me the vocabulary
//	/disclose YYYY-MM-DD HH:MM ZONE [no-embargo] [force: REASON]   plan public disclosure (Scheduler.Disclose)
//	/notify [LIST] [force: REASON]    send the embargo notice now (Scheduler.NotifyNow), or add list LIST (ListNotifier)
//	/publish-now REASON        embargo broken: publish now (Scheduler.PublishNow)
//	/leak WHO: WHAT            record a leak on the case (sealed at rest); every member is asked whether to /publish-now
//	/list add LIST ADDRESS     add a recipient to an embargo list (key attached or pasted armored below; without one
//	                           its key is looked up in its Web Key Directory and every member sent the fingerprint)
//	/list confirm LIST ADDRESS FINGERPRINT   add it with the key looked up, once a member checked the fingerprint (keyrequest.go)
//	/list remove LIST ADDRESS  remove one; the removed address is told
//	/list approve APP-ID       take an application (/apply LIST, application.go): add the applicant, welcome them
//	/list deny APP-ID REASON   decline an application; the applicant gets the reason
//	/list suspend ADDRESS REASON   keep a distributor out of every notice until /list reinstate ADDRESS
//	/approve REF               approve a step another member asked for under the two-person rule (approval.go)
//	/break-glass REASON        take this mail's irreversible steps alone (members [cases] break_glass names)
//
// @MEMBER is a member's name, the local part or whole of their address, or
// their fingerprint. Roles: any member may use every command except /close,
// /team, /disclose, /notify and /publish-now (the case's fix lead or a member
// with role "lead"), /lead offer and /lead release (the fix lead) and /list
// (role "lead").
//
// # Applications
//
// ReceiveApplication takes a distributor's application to an embargo list
// (intake hands it over: a mail whose text starts with /apply LIST):
// stored encrypted at rest as APP-YYYY-NNNN, audited in the gateway log,
// sent to every member with the key and the list's criteria as a
// checklist. Only a lead's signed /list approve or /list deny decides it;
// no line of its text ever runs as a command (gateway_untrusted_line).
//
// # Authentication
//
// HandleCommandMail acts only when every check passes: the signature
// verifies and covers the whole content (Signature.Whole); the signer's
// full fingerprint is a current team member's; that key is valid both at the
// signature time and now; the signature was never seen before (replay table
// with a UNIQUE signature ID: a replay is logged and gets no answer); its
// creation time is within Config.SignatureMaxAge in the past and
// Config.SignatureMaxSkew in the future; the hash is not MD5/SHA-1; the
// outer From is the member's address (or one of their key's); header fields
// the client signed (RFC 9788 protected headers) agree with the outer ones:
// the signed From is the outer From, a signed To/Cc names the team address
// (else the mail was signed for someone else and forwarded), a signed Date
// is fresh; with Config.RequireEncrypted, the mail was signed and then
// encrypted to the team key; the mail names or threads to an existing case
// (a signed /case line; else the signed Subject's [PREFIX-YYYY-NNNN] tag, or
// the outer Subject's when nothing was signed; else In-Reply-To/References
// through the outbox's Message-IDs); and the member's role allows each
// command. Every other mail is refused, logged and answered (encrypted to
// the member: the signer, or the member whose address is the From) with the
// reason; a mail nobody can be answered for is only logged.
// The changes, the audit events, the consumed signature and the answer
// commit in one transaction.
//
// # Audit log
//
// Each case has an append-only log (UPDATE and DELETE are refused by
// triggers). Every event records the actor (key fingerprint, "gateway",
// "reporter:ADDRESS", or "sender:ADDRESS" for a follow-up from anyone else
// on the case's thread), action, detail, source Message-ID and time, and a
// SHA-256 hash over those fields and the previous event's hash; VerifyAudit
// checks the chain. Refusals concerning no known case go to the gateway log
// (case ID 0). Details never carry report text.
//
// A chain alone can be rewritten by anyone who can write the database
// file (drop the triggers, change an event, hash everything after it
// again). So the team key signs a Head at every event, in the transaction
// that writes it: the hashes of all events of all chains, folded in the
// order they were written, and their number. VerifyAuditLog checks every
// chain against the newest signed head and against heads members kept
// from the weekly key report; a rewrite, a removed event or a cut tail no
// longer matches, and only the team key signs a new head. The gateway
// extends only a head it can vouch for (SignAuditHead signs, on trust, a
// log from before signed heads).
//
// # Archive
//
// An Archiver moves a case that ended, with nothing pending, into an
// archive database of the same schema, one case at a time and idempotent:
// the copy in one transaction of the archive (its events appended to the
// archive's own log under heads the team key signs), then the delete in
// one transaction of the project's database, which checks that the case
// is still the digest copied. The case's audit chain stays in the
// project's log too (its heads fold every event), and its id and number
// are never given again (archived_case). archivetables.go says what
// happens to each table.
package cases
