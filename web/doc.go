// Package web is the read-only view: the team's cases, each case's
// disclosure timeline, the outbox, the quarantine, the keys and a calendar
// feed of every planned step, rendered on the server with html/template
// and working with JavaScript off.
//
// # What it reads, and what it never can
//
// The handler gets one Project per project the process serves: readers of
// that project's database (its cases, timeline, directory, outbox,
// quarantine, audit log and acknowledgements), nothing that sends, writes
// or decrypts. The cases reader is built without the team key, so a case's
// encrypted content (report text, title, impact, terms, messages) cannot
// reach a page: the view shows only what is stored in clear — states,
// dates, severity, IDs, the addresses of the team and of the lists. An
// address that is neither (a reporter's) is shown as "reporter" or
// "other address", never written out.
//
// # Access
//
// The view answers GET and HEAD only, and every response carries strict
// security headers (Headers): a Content-Security-Policy without script or
// inline style, no referrer, no framing, no caching. Who may connect is
// decided at the listener (Listener): loopback only when no client CA is
// configured; with a client CA every connection must present a
// certificate that CA signed (a member's, or an authenticating reverse
// proxy's), else the TLS handshake fails.
package web
