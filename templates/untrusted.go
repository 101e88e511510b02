package templates

import (
	"crypto/rand"
	"encoding/base32"
	"regexp"
	"strings"
)

// Untrusted text (a report, a follow-up, a distributor's reply) reaches the
// team in a form that no mail client can turn into a command: framed by
// markers that carry a token the sender never sees, and every line
// prefixed with "| ". A member's client may quote the copy without "> "
// (Outlook, GpgOL and many mobile clients do); the prefix still keeps
// every line from starting with "/", and the command parser skips
// everything between a begin marker and the end marker of the same token.

// UntrustedPrefix starts every line of untrusted text in mail to the team.
const UntrustedPrefix = "| "

// NewUntrustedToken returns a fresh token for the markers of one copy.
func NewUntrustedToken() string {
	var b [10]byte
	rand.Read(b[:])
	return "UT-" + base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:])
}

// UntrustedBegin and UntrustedEnd are the marker lines around untrusted
// text with token.
func UntrustedBegin(token string) string { return "----- untrusted text begins [" + token + "] -----" }

// UntrustedEnd: see UntrustedBegin.
func UntrustedEnd(token string) string { return "----- untrusted text ends [" + token + "] -----" }

var untrustedMarker = regexp.MustCompile(`^-{5} untrusted text (begins|ends) \[(UT-[A-Z2-7]{16})\] -{5}$`)

// UntrustedMarker reports whether line (blanks around it ignored) is a
// marker, which one, and its token.
func UntrustedMarker(line string) (begin bool, token string, ok bool) {
	m := untrustedMarker.FindStringSubmatch(strings.TrimSpace(line))
	if m == nil {
		return false, "", false
	}
	return m[1] == "begins", m[2], true
}

// Untrusted frames text as untrusted with token: the begin marker, every
// line prefixed, the end marker.
func Untrusted(text, token string) string {
	var b strings.Builder
	b.WriteString(UntrustedBegin(token) + "\n")
	text = strings.TrimRight(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	for _, l := range strings.Split(text, "\n") {
		b.WriteString(strings.TrimRight(UntrustedPrefix+l, " ") + "\n")
	}
	b.WriteString(UntrustedEnd(token))
	return b.String()
}
