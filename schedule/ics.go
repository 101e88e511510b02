package schedule

import (
	"fmt"
	"strings"
	"time"
)

// ICS returns an iCalendar (RFC 5545) object with one event at t0 in UTC.
// uid is stable per case so that a re-plan (a higher sequence) replaces the
// event in the recipient's calendar instead of adding one.
func ICS(uid string, sequence int64, t0, stamp time.Time, summary, description string) []byte {
	var b strings.Builder
	line := func(s string) {
		// Fold at 75 octets (RFC 5545 §3.1) without splitting a UTF-8 sequence.
		for len(s) > 75 {
			cut := 75
			for cut > 0 && s[cut]&0xC0 == 0x80 {
				cut--
			}
			b.WriteString(s[:cut] + "\r\n ")
			s = s[cut:]
		}
		b.WriteString(s + "\r\n")
	}
	const f = "20060102T150405Z"
	line("BEGIN:VCALENDAR")
	line("VERSION:2.0")
	line("PRODID:-//secgate//disclosure schedule//EN")
	line("CALSCALE:GREGORIAN")
	line("METHOD:PUBLISH")
	line("BEGIN:VEVENT")
	line("UID:" + icsText(uid))
	line(fmt.Sprintf("SEQUENCE:%d", sequence))
	line("DTSTAMP:" + stamp.UTC().Format(f))
	line("DTSTART:" + t0.UTC().Format(f))
	line("DTEND:" + t0.UTC().Add(time.Hour).Format(f))
	line("SUMMARY:" + icsText(summary))
	if description != "" {
		line("DESCRIPTION:" + icsText(description))
	}
	line("CLASS:CONFIDENTIAL")
	line("TRANSP:TRANSPARENT")
	line("END:VEVENT")
	line("END:VCALENDAR")
	return []byte(b.String())
}

// icsText escapes a TEXT value (RFC 5545 §3.3.11) and drops controls.
func icsText(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\\' || r == ';' || r == ',':
			b.WriteRune('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r < 0x20 || r == 0x7f:
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
