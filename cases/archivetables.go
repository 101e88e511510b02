package cases

// archiveTable is one table's part of a case, as Archiver moves it: the
// rows where selects (?1 is the case's id), ordered by order (the
// primary key, so that a digest of them is the same on every read).
type archiveTable struct {
	name  string
	where string
	order string
	// keep: the rows are copied to the archive and stay in the project's
	// database too (see archiveTables).
	keep bool
	// volatile: the rows may change after the case ended (an inbound
	// message is moved in IMAP, a key is refreshed); they are copied as
	// they are but are no part of the case's digest.
	volatile bool
}

// The ids a case's rows in other tables hang off.
const (
	caseMessageIDs    = `SELECT id FROM case_messages WHERE case_id = ?1`
	caseAttachmentIDs = `SELECT a.id FROM case_attachments a JOIN case_messages m ON m.id = a.message_id WHERE m.case_id = ?1`
	caseOutboxIDs     = `SELECT id FROM outbox WHERE case_id = ?1`
	caseInboundIDs    = `SELECT id FROM inbound WHERE case_id = ?1`
	caseNoticeIDs     = `SELECT notice_id FROM ack_notice WHERE case_id = ?1`
)

// auditTable is the case's audit chain. It is copied event by event and
// kept (see copyAudit): the signed heads fold every event ever written.
const auditTable = "case_audit"

// archiveTables is every table that holds a case's rows, parents first:
// they are copied in this order and deleted in the reverse one. The
// README's table "What archive moves" says why for each; a table of the
// schema missing here and from notCaseTables fails
// TestArchiveTablesCoverSchema.
//
// Kept in the project's database as well as copied:
//   - case_audit: the signed heads fold every event in the order written;
//     removing one is what `secgate audit verify` exists to detect.
//   - security_note: its numbers are allocated after the highest stored.
//   - inbound: its unique keys (mailbox UID, content hash) make intake
//     idempotent; without the row, a message fetched again would be
//     processed again. Its bytes (inbound_raw) move.
//   - dir_key: the keys the case's extra recipients name, shared.
var archiveTables = []archiveTable{
	{name: "cases", where: "id = ?1", order: "id"},
	{name: "case_team", where: "case_id = ?1", order: "fingerprint"},
	{name: "case_messages", where: "case_id = ?1", order: "id"},
	{name: "case_attachments", where: "message_id IN (" + caseMessageIDs + ")", order: "id"},
	{name: "blob_chunk", where: "owner = 'case_messages' AND id IN (" + caseMessageIDs + ")", order: "id, seq"},
	{name: "blob_chunk", where: "owner = 'case_attachments' AND id IN (" + caseAttachmentIDs + ")", order: "id, seq"},
	{name: auditTable, where: "case_id = ?1", order: "seq", keep: true},
	{name: "case_leak", where: "case_id = ?1", order: "id"},
	{name: "case_approval", where: "case_id = ?1", order: "ref"},
	{name: "case_untrusted_line", where: "case_id = ?1", order: "line_hash"},
	{name: "dir_key", where: "fingerprint IN (SELECT fingerprint FROM dir_case_extra WHERE case_id = ?1)", order: "fingerprint", keep: true, volatile: true},
	{name: "dir_case_extra", where: "case_id = ?1", order: "address"},
	{name: "schedule_plan", where: "case_id = ?1", order: "case_id"},
	{name: "schedule_job", where: "case_id = ?1", order: "id"},
	{name: "schedule_sla", where: "case_id = ?1", order: "deadline, stage"},
	{name: "schedule_audience", where: "case_id = ?1", order: "list"},
	{name: "security_note", where: "case_id = ?1", order: "id", keep: true},
	{name: "outbox", where: "case_id = ?1", order: "id"},
	{name: "outbox_message", where: "outbox_id IN (" + caseOutboxIDs + ")", order: "outbox_id"},
	{name: "blob_chunk", where: "owner = 'outbox' AND id IN (" + caseOutboxIDs + ")", order: "id, seq"},
	{name: "outbox_attempt", where: "outbox_id IN (" + caseOutboxIDs + ")", order: "outbox_id, n"},
	{name: "outbox_event", where: "case_id = ?1", order: "id"},
	{name: "ack_notice", where: "case_id = ?1", order: "notice_id"},
	{name: "ack_reply", where: "notice_id IN (" + caseNoticeIDs + ")", order: "notice_id, recipient"},
	{name: "ack_nudge", where: "notice_id IN (" + caseNoticeIDs + ")", order: "notice_id, recipient, stage"},
	{name: "inbound", where: "case_id = ?1", order: "id", keep: true, volatile: true},
	{name: "inbound_raw", where: "inbound_id IN (" + caseInboundIDs + ")", order: "inbound_id"},
	{name: "blob_chunk", where: "owner = 'inbound' AND id IN (" + caseInboundIDs + ")", order: "id, seq"},
	// A big message streamed from IMAP keeps its pieces under its spool
	// (store schema 24), which inbound_spool names.
	{name: "inbound_spool", where: "inbound_id IN (" + caseInboundIDs + ")", order: "inbound_id"},
	{name: "blob_chunk", where: "owner = 'inbound-spool' AND id IN (SELECT spool FROM inbound_spool WHERE inbound_id IN (" + caseInboundIDs + "))", order: "id, seq"},
}

// notCaseTables are the tables that hold nothing of one case (the
// directory, the gateway's own state, counters) or only the archive's
// bookkeeping: archiving leaves them as they are.
var notCaseTables = []string{
	"inbound_mailbox", "inbound_cipher", "inbound_answer", "inbound_replay_alert",
	"dir_member", "dir_list", "dir_recipient", "dir_bounce", "dir_list_rules", "dir_suspension",
	"outbox_secret", "key_report", "store_probe", "case_refusal", "case_refusal_answer",
	"application", "gateway_untrusted_line", "team_key_history", "audit_head",
	"case_signatures", // the replay guard of signed commands: kept whole
	"archived_case", "archived_untrusted_line",
	"outbox_count", "inbound_count", // counters the triggers of both databases keep
	"dir_lookup", // keys looked up by address alone for the directory
	// The data keys, wrapped to the team key: they stay in the project's
	// database, which the archive is opened with (secgate case show
	// -archive, audit verify -archive), and open what they sealed there.
	"data_key", "data_key_wrap",
}

// archivePending are the queries that find what a case still waits for;
// a case with any is not archived. Each counts rows, ?1 is the case's id.
var archivePending = []struct{ query, what string }{
	{`SELECT count(*) FROM outbox WHERE case_id = ?1 AND state NOT IN ('sent', 'failed', 'bounced')`, "outbox rows not in a final state"},
	{`SELECT count(*) FROM outbox_event WHERE case_id = ?1 AND told = 0`, "delivery alerts the team was not told of yet"},
	{`SELECT count(*) FROM schedule_job WHERE case_id = ?1 AND state = 'pending'`, "scheduled jobs pending"},
	{`SELECT count(*) FROM case_approval WHERE case_id = ?1 AND state = 'pending'`, "approvals pending"},
	{`SELECT count(*) FROM inbound WHERE case_id = ?1 AND state != 'processed'`, "inbound messages not processed (stored, quarantined or released)"},
}
