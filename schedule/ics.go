package schedule

import (
	"fmt"
	"strings"
	"time"
)

// Event is the disclosure time as an iCalendar event (RFC 5545), the
// attachment of every notice that carries a date. UID is the same for a
// case across all its lists' notices, so that a later version (a higher
// Sequence) replaces the event in a distributor's calendar instead of adding
// one; Cancel makes it the cancellation (METHOD:CANCEL, STATUS:CANCELLED) of
// a withdrawn or broken embargo.
type Event struct {
	UID         string
	Sequence    int64     // the plan's generation: higher on every move
	Start       time.Time // the disclosure time
	Stamp       time.Time // when the notice was made
	Summary     string
	Description string
	Organizer   string // the team address, as mailto: (RFC 5546 wants one)
	Cancel      bool
}

// Method is the iTIP method of the event: PUBLISH, which calendar clients
// take from a mail without a reply, or CANCEL.
func (e Event) Method() string {
	if e.Cancel {
		return "CANCEL"
	}
	return "PUBLISH"
}

// ContentType is the MIME type of the event's attachment.
func (e Event) ContentType() string {
	return "text/calendar; charset=utf-8; method=" + e.Method()
}

// ICS returns the event as an iCalendar object: CRLF line ends, lines
// folded at 75 octets.
func (e Event) ICS() []byte { return writeCalendar(e.Method(), e) }

// Feed returns an iCalendar object that publishes events, such as the
// team's calendar feed of every planned step.
func Feed(events ...Event) []byte { return writeCalendar("PUBLISH", events...) }

// writeCalendar writes a VCALENDAR of the iTIP method with events.
func writeCalendar(method string, events ...Event) []byte {
	var b strings.Builder
	line := func(s string) {
		// Fold at 75 octets (RFC 5545 §3.1) without splitting a UTF-8
		// sequence; a continuation line's leading space counts.
		limit := 75
		for len(s) > limit {
			cut := limit
			for cut > 0 && s[cut]&0xC0 == 0x80 {
				cut--
			}
			b.WriteString(s[:cut] + "\r\n ")
			s = s[cut:]
			limit = 74
		}
		b.WriteString(s + "\r\n")
	}
	const f = "20060102T150405Z"
	line("BEGIN:VCALENDAR")
	line("VERSION:2.0")
	line("PRODID:-//secgate//disclosure schedule//EN")
	line("CALSCALE:GREGORIAN")
	line("METHOD:" + method)
	for _, e := range events {
		line("BEGIN:VEVENT")
		line("UID:" + icsText(e.UID))
		line(fmt.Sprintf("SEQUENCE:%d", e.Sequence))
		line("DTSTAMP:" + e.Stamp.UTC().Format(f))
		line("DTSTART:" + e.Start.UTC().Format(f))
		line("DTEND:" + e.Start.UTC().Add(time.Hour).Format(f))
		if e.Organizer != "" {
			line("ORGANIZER:mailto:" + icsText(e.Organizer))
		}
		line("SUMMARY:" + icsText(e.Summary))
		if e.Description != "" {
			line("DESCRIPTION:" + icsText(e.Description))
		}
		if e.Cancel {
			line("STATUS:CANCELLED")
		} else {
			line("STATUS:CONFIRMED")
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
