package schedule

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// calendar is an iCalendar object as checkICS reads it: the METHOD and
// the properties of its one VEVENT, unfolded.
type calendar struct {
	Method string
	Event  map[string]string
}

// checkICS is a small RFC 5545 reader, strict about what clients depend
// on: CRLF line ends, lines of at most 75 octets folded with one leading
// space, BEGIN and END balanced, VERSION and PRODID on the calendar, one
// VEVENT with UID, DTSTAMP, DTSTART and SEQUENCE, ORGANIZER (RFC 5546 wants
// one for PUBLISH and CANCEL), and STATUS:CANCELLED on a cancellation.
func checkICS(data []byte) (calendar, error) {
	if !bytes.HasSuffix(data, []byte("\r\n")) {
		return calendar{}, fmt.Errorf("does not end in CRLF")
	}
	raw := strings.Split(strings.TrimSuffix(string(data), "\r\n"), "\r\n")
	var lines []string
	for i, l := range raw {
		if strings.ContainsAny(l, "\r\n") {
			return calendar{}, fmt.Errorf("line %d: a bare CR or LF", i+1)
		}
		if len(l) > 75 {
			return calendar{}, fmt.Errorf("line %d: %d octets, more than 75", i+1, len(l))
		}
		if strings.HasPrefix(l, " ") || strings.HasPrefix(l, "\t") {
			if len(lines) == 0 {
				return calendar{}, fmt.Errorf("line %d: a continuation first", i+1)
			}
			lines[len(lines)-1] += l[1:]
			continue
		}
		lines = append(lines, l)
	}
	var stack []string
	cal := calendar{Event: map[string]string{}}
	props := map[string]string{}
	events := 0
	for _, l := range lines {
		name, value, ok := strings.Cut(l, ":")
		if !ok {
			return calendar{}, fmt.Errorf("%q: no colon", l)
		}
		name, _, _ = strings.Cut(name, ";")
		switch name {
		case "BEGIN":
			stack = append(stack, value)
			if value == "VEVENT" {
				events++
			}
			continue
		case "END":
			if len(stack) == 0 || stack[len(stack)-1] != value {
				return calendar{}, fmt.Errorf("END:%s does not close %v", value, stack)
			}
			stack = stack[:len(stack)-1]
			continue
		}
		switch {
		case len(stack) == 1 && stack[0] == "VCALENDAR":
			props[name] = value
		case len(stack) == 2 && stack[1] == "VEVENT":
			if _, dup := cal.Event[name]; dup {
				return calendar{}, fmt.Errorf("VEVENT has %s twice", name)
			}
			cal.Event[name] = value
		default:
			return calendar{}, fmt.Errorf("%s outside a component (%v)", name, stack)
		}
	}
	if len(stack) != 0 || events != 1 {
		return calendar{}, fmt.Errorf("unbalanced (%v) or %d events", stack, events)
	}
	if props["VERSION"] != "2.0" || props["PRODID"] == "" || props["METHOD"] == "" {
		return calendar{}, fmt.Errorf("calendar properties %v", props)
	}
	cal.Method = props["METHOD"]
	for _, p := range []string{"UID", "DTSTAMP", "DTSTART", "SEQUENCE", "ORGANIZER", "SUMMARY"} {
		if _, ok := cal.Event[p]; !ok {
			return calendar{}, fmt.Errorf("VEVENT has no %s", p)
		}
	}
	for _, p := range []string{"DTSTAMP", "DTSTART", "DTEND"} {
		if _, err := time.Parse("20060102T150405Z", cal.Event[p]); err != nil {
			return calendar{}, fmt.Errorf("%s: %v", p, err)
		}
	}
	if _, err := strconv.ParseUint(cal.Event["SEQUENCE"], 10, 31); err != nil {
		return calendar{}, fmt.Errorf("SEQUENCE: %v", err)
	}
	if (cal.Method == "CANCEL") != (cal.Event["STATUS"] == "CANCELLED") {
		return calendar{}, fmt.Errorf("METHOD:%s with STATUS:%s", cal.Method, cal.Event["STATUS"])
	}
	return cal, nil
}

// seq is the event's SEQUENCE.
func (c calendar) seq() int {
	n, _ := strconv.Atoi(c.Event["SEQUENCE"])
	return n
}

// calendarOf returns the calendar attached to a notice's MIME entity and
// the method its Content-Type names; ok is false when it has none.
func calendarOf(t *testing.T, entity string) (cal calendar, ctMethod string, ok bool) {
	t.Helper()
	m, err := mail.ReadMessage(strings.NewReader(entity))
	if err != nil {
		t.Fatalf("entity: %v", err)
	}
	ct, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || ct != "multipart/mixed" {
		return calendar{}, "", false
	}
	r := multipart.NewReader(m.Body, params["boundary"])
	for {
		p, err := r.NextPart()
		if err == io.EOF {
			return calendar{}, "", false
		}
		if err != nil {
			t.Fatal(err)
		}
		pt, pp, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		if pt != "text/calendar" {
			continue
		}
		b, err := io.ReadAll(base64.NewDecoder(base64.StdEncoding, p))
		if err != nil {
			t.Fatal(err)
		}
		cal, err := checkICS(b)
		if err != nil {
			t.Fatalf("calendar does not parse: %v\n%s", err, b)
		}
		return cal, pp["method"], true
	}
}

func testEvent() Event {
	return Event{UID: "SEC-2026-0001-disclosure@secgate", Sequence: 3, Start: utc("2026-12-22 10:00"), Stamp: utc("2026-12-01 10:00"),
		Organizer: "security@example.org", Description: "Embargoed until this time. Do not publish before.",
		Summary: "Example Ütility, Inc.; SEC-2026-0001 public disclosure (embargo ends) CVE-2026-12341 with a summary long enough to fold twice over the limit"}
}

// TestEventGolden renders the disclosure event and its cancellation and
// reads both back with checkICS.
func TestEventGolden(t *testing.T) {
	for _, tc := range []struct {
		name   string
		cancel bool
		method string
	}{
		{"event-publish", false, "PUBLISH"},
		{"event-cancel", true, "CANCEL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := testEvent()
			ev.Cancel = tc.cancel
			b := ev.ICS()
			golden(t, tc.name+".ics", string(b))
			cal, err := checkICS(b)
			if err != nil {
				t.Fatalf("%v\n%s", err, b)
			}
			if cal.Method != tc.method || cal.Event["UID"] != ev.UID || cal.seq() != 3 || !strings.HasSuffix(ev.ContentType(), "method="+tc.method) {
				t.Errorf("method %s uid %s seq %d, content type %s", cal.Method, cal.Event["UID"], cal.seq(), ev.ContentType())
			}
			if want := `Example Ütility\, Inc.\; SEC-2026-0001`; !strings.HasPrefix(cal.Event["SUMMARY"], want) {
				t.Errorf("summary %q, want it escaped: %q", cal.Event["SUMMARY"], want)
			}
		})
	}
}

// TestCheckICSRefuses shows that the checker the tests rely on fails on
// what a client would stumble over.
func TestCheckICSRefuses(t *testing.T) {
	good := string(testEvent().ICS())
	for name, bad := range map[string]string{
		"LF line ends":      strings.ReplaceAll(good, "\r\n", "\n"),
		"long line":         strings.Replace(good, "CLASS:CONFIDENTIAL", "CLASS:"+strings.Repeat("X", 80), 1),
		"no UID":            strings.Replace(good, "UID:", "XUID:", 1),
		"cancel not status": strings.Replace(good, "METHOD:PUBLISH", "METHOD:CANCEL", 1),
		"unbalanced":        strings.Replace(good, "END:VEVENT\r\n", "", 1),
	} {
		if _, err := checkICS([]byte(bad)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// FuzzEventICS: whatever the summary and description (a case's title and
// CVE come from people), the event stays one valid calendar object whose
// values read back as written, less control characters.
func FuzzEventICS(f *testing.F) {
	f.Add("Example SEC-1 public disclosure", "Embargoed.")
	f.Add(strings.Repeat("é", 80), "a;b,c\\d\nnew line")
	f.Add("END:VEVENT\r\nBEGIN:VEVENT", "\r\n \t")
	f.Fuzz(func(t *testing.T, summary, desc string) {
		ev := testEvent()
		ev.Summary, ev.Description = summary, desc
		b := ev.ICS()
		if !utf8.ValidString(summary) || !utf8.ValidString(desc) {
			return
		}
		cal, err := checkICS(b)
		if err != nil {
			t.Fatalf("%v\n%s", err, b)
		}
		if got, want := cal.Event["SUMMARY"], icsText(summary); got != want {
			t.Errorf("summary %q, want %q", got, want)
		}
	})
}
