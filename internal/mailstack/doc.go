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
//     recipient), or refused at RCPT with Options.RejectForeign.
//   - IMAPAddr serves every user's mailboxes (LOGIN with the full address).
//
// Tests read mail with Messages and WaitMessages, which wait on mailbox
// counts (IMAP IDLE), never on fixed sleeps. Dovecot holds EXISTS
// notifications for about 0.5 s after a delivery.
//
// The test process must run as root (Postfix and Dovecot need it) on a
// machine with postfix, dovecot-imapd and dovecot-lmtpd installed; `make test`
// installs them.
package mailstack
