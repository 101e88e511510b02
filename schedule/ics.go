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
	return ICSCalendar(stamp, ICSEvent{UID: uid, Sequence: sequence, Start: t0, Summary: summary, Description: description})
}

// ICSEvent is one event of an iCalendar object: an hour from Start.
type ICSEvent struct {
	UID         string
	Sequence    int64
	Start       time.Time
	Summary     string
	Description string
}

// ICSCalendar returns an iCalendar (RFC 5545) object with events, in UTC,
// stamped at stamp.
func ICSCalendar(stamp time.Time, events ...ICSEvent) []byte {
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
	for _, e := range events {
		line("BEGIN:VEVENT")
		line("UID:" + icsText(e.UID))
		line(fmt.Sprintf("SEQUENCE:%d", e.Sequence))
		line("DTSTAMP:" + stamp.UTC().Format(f))
		line("DTSTART:" + e.Start.UTC().Format(f))
		line("DTEND:" + e.Start.UTC().Add(time.Hour).Format(f))
		line("SUMMARY:" + icsText(e.Summary))
		if e.Description != "" {
			line("DESCRIPTION:" + icsText(e.Description))
		}
		line("CLASS:CONFIDENTIAL")
		line("TRANSP:TRANSPARENT")
		line("END:VEVENT")
	}
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
