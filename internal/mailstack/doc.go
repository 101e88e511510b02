// Package mailstack starts a real, private Postfix and Dovecot on loopback
// for integration tests.
//
// Each call to Start generates the configuration of both daemons in a fresh,
// short temporary directory, picks free 127.0.0.1 ports, starts the daemons in
// the foreground as children of the test process and stops them (by PID) when
// the test ends. Nothing outside that directory is changed and nothing can
// leave the machine:
//
//   - SMTPAddr is the public MX of Domain: no AUTH, only existing local
//     recipients (unknown ones get 550 at RCPT), no relaying.
//   - SubmissionAddr requires AUTH PLAIN (user@Domain, Password); after it any
//     recipient is accepted. Mail to a foreign domain is captured in the
//     SinkUser mailbox (one copy per recipient, with Delivered-To: the original
//     recipient), refused at RCPT with Options.RejectForeign, or relayed
//     with Options.RelayHost to an SMTP server on a loopback address (the
//     stack as a smarthost: Queue lists what Postfix holds for it, Flush
//     retries it now).
//   - IMAPAddr serves every user's mailboxes (LOGIN with the full address).
//
// Users log in with their full address (Addr) and Password; AddUser adds
// one while the stack runs. Send delivers through the MX and Submit through
// submission, as the gateway would (TrySend and TrySubmit return the SMTP
// error instead of failing the test). Messages, WaitMessages and Mailboxes
// read over IMAP; WaitMessages waits on mailbox counts (IMAP IDLE), never on
// fixed sleeps. Dovecot holds EXISTS notifications for about 0.5 s after a
// delivery, and Postfix delivers in parallel, so the mailbox order may differ
// from the order of sending. With Options.TLS the stack also offers
// STARTTLS, implicit-TLS submission and IMAPS with a certificate that
// TLSConfig trusts. Logs returns the daemons' log tails for failure
// messages; when a test fails, Dir is kept and the logs are printed.
//
// A stack starts in about 0.15 s (Started records it) and stops in a few
// milliseconds.
//
// The test process must run as root (Postfix and Dovecot need it) on a
// machine with postfix, dovecot-imapd and dovecot-lmtpd installed; `make test`
// installs them.
package mailstack
