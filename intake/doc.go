// Package intake turns mail arriving at the security address into cases.
//
// The Poller watches one IMAP mailbox (IDLE, with a NOOP/re-IDLE refresh and
// a polling fallback), stores every message durably and encrypted at rest
// before anything else happens, hands it to a Handler and only then moves it
// on the server to the Processed or Quarantine folder. The UIDVALIDITY and
// the last stored UID live in SQLite, so a restart neither skips nor repeats
// a message; storing is idempotent by (mailbox, uidvalidity, uid) and by the
// SHA-256 of the raw bytes.
//
// The Processor classifies each stored message, in this order: a bounce or
// delivery status notification, an automatic reply, mail from the team (a
// command mail), a reply to an existing case, a distributor's signed
// acknowledgement, and otherwise a new report. A new report opens a case,
// acknowledges the reporter (never quoting the report) and sends one copy to
// each team member, encrypted to that member alone. What exceeds the limits
// or cannot be handled goes to quarantine with a reason an operator can read
// (see Quarantine).
package intake
