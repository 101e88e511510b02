// Package intake turns mail arriving at the security address into cases.
//
// The Poller watches one IMAP mailbox (IDLE, with a NOOP/re-IDLE refresh and
// a polling fallback for servers without IDLE) and reconnects with backoff
// and jitter after any failure. It stores every message durably and
// encrypted at rest (AtRest, the team key) with its SHA-256 before anything
// else happens, hands it to a Handler and only then moves it on the server
// to the Processed or Quarantine folder (created if missing). A message of
// up to 256 KiB that the poller inserted is handed to the Processor with
// the row's values and the bytes it sealed, once they are committed, so
// that the Processor neither reads them back nor decrypts them again; a
// bigger one, one stored before, and every message after a restart is
// read from the database. The
// UIDVALIDITY and the last stored UID live in SQLite, so a restart neither
// skips nor repeats a message; storing is idempotent by (mailbox,
// uidvalidity, uid) and by content hash, so a UIDVALIDITY change is a safe
// full resync. A message over the size limit is stored header-only and
// quarantined; the whole message stays on the server.
//
// Several projects may share one mailbox (NewRoutedPoller, one Route per
// project: its addresses, database, team key and Processor). Each message
// is routed by the Router before it is stored: the receiving MTA's record
// of the envelope decides (the topmost Delivered-To, which Dovecot's LMTP
// writes with the +detail, then the topmost X-Original-To), then To and Cc,
// which the sender writes; addresses are compared ignoring case (the
// local part too, as MTAs deliver it), and a detail after a separator
// (plus-addressing) names the
// address before it. The message is stored in its project's database,
// encrypted to its key, and processed by its Processor alone. A header
// naming another project's address than the envelope's is noted in the
// reason; mail that no project, or several, own (a report sent to two
// projects at once) is stored already quarantined, class route, with what
// it named, in the envelope's project's database or else the default
// project's, and answered to nobody. The mailbox's UIDVALIDITY and last UID
// live in the default project's database, advanced only after every
// project's share of a batch is stored; a message found stored under its
// UID in any project's database stays there, so a crash in between repeats
// nothing.
//
// The Processor classifies each stored message, in this order: a bounce or
// delivery status notification (matched by the outbox), an automatic reply
// (RFC 3834, vacation, list mail), our own mail coming back, the limits,
// mail from the team (handed to the case workflow as a command mail), the
// per-sender rate limit, a re-sent ciphertext (held silently, the team
// alerted), a duplicate Message-ID, a reply to an existing case (thread or
// [PREFIX-YYYY-NNNN] subject tag; a distributor's acknowledgement is recorded),
// and otherwise a new report. A new report opens a case, acknowledges the
// reporter (encrypted when their key is known, always signed, never quoting
// the report) and sends one copy to each team member, encrypted to that
// member alone; the case, the outgoing mail and the message's state commit
// in one transaction. A message joining a case is copied to the team too;
// a signature its first opening could not check is verified again with the
// reporter's key on file or the key held for the distributor who replied,
// and every line of the copy about the signature (verified, with whose key,
// the distributor's own key or not) comes from that one result. Mail on a
// case from anyone outside the team never runs a command: lines of it that
// read as commands (cases.CommandLines) are recorded in the audit log as a
// refusal and shown in the team copy, and the sender is told that commands
// are taken only from team members, at most once an hour and only when they
// are the case's reporter or their signature verified with a key carrying
// their From address (no forged From makes the gateway write to anyone).
// A mail from outside the team whose text starts with the line
// "/apply LIST" is an application to an embargo list, never a case
// (ParseApply, apply.go): within the per-sender and daily limits it goes
// to the workflow (ApplicationReceiver), and the applicant gets a receipt
// or the reason it was not taken.
// ProcessBatch opens a batch of messages on every CPU and decides on them
// in order, up to 32 in one transaction (when one fails, the group runs
// again with a savepoint each, and the one that fails alone); when the Mailer
// is a BatchMailer, the group's mail is sealed in the background meanwhile
// and written before the commit. Whatever cannot
// be handled ends in quarantine with a reason, readable and releasable
// with Quarantine; the sender is told politely at most once a day and
// never when the mail was automatic.
//
// The Processor reaches the rest of secgate through small interfaces
// (Opener, Directory, Mailer, Cases, Texts); NewStackProcessor wires them to
// crypto, distlist and cases:
//
//	proc, err := intake.NewStackProcessor(intake.StackOptions{Config: cfg, DB: db,
//		TeamKey: teamKey, Directory: dir, Outbox: outbox, Workflow: workflow,
//		Templates: set, Project: project})
//	poller, err := intake.NewPoller(cfg, db, teamKey, proc, clock.Real{}, logger)
//	go outbox.Run(ctx)
//	err = poller.Run(ctx)
//
// With a shared mailbox, one poller for all the projects that share it:
//
//	poller, err := intake.NewRoutedPoller(cfg, intake.Routes{Default: "knative", Routes: []intake.Route{
//		{Project: "knative", Addresses: []string{"security+knative@example.org"}, DB: kdb, AtRest: kkey, Handler: kproc},
//		{Project: "kata", Addresses: []string{"security+kata@example.org"}, DB: adb, AtRest: akey, Handler: aproc},
//	}}, clock.Real{}, logger)
package intake
