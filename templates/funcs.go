package templates

import (
	"fmt"
	"strings"
	"text/template"
	"time"
)

// Layouts used by the time helpers.
const (
	layoutUTC  = "2006-01-02 15:04 UTC"
	layoutZone = "2006-01-02 15:04 MST (-07:00)"
	layoutDate = "2006-01-02"
)

// funcs are the helpers available in every template:
//
//	utc T          "2026-12-15 16:00 UTC" ("(not set)" for the zero time)
//	inzone T ZONE  T in the IANA zone ZONE, e.g. "2026-12-15 17:00 CET (+01:00)";
//	               UTC when ZONE is empty or unknown
//	date T         "2026-12-15"
//	rfc3339 T      "2026-12-15T16:00:00Z"
//	join LIST SEP  strings.Join
//	indent N S     every line of S indented by N spaces
//	quote S        every line of S prefixed with "> "
//	header S       HeaderSafe(S)
//	upper S        strings.ToUpper
//	score F        a CVSS score with one decimal
//	plural N S     S with an "s" unless N == 1
var funcs = template.FuncMap{
	"utc": func(t time.Time) string {
		if t.IsZero() {
			return "(not set)"
		}
		return t.UTC().Format(layoutUTC)
	},
	"inzone": func(t time.Time, zone string) string {
		if t.IsZero() {
			return "(not set)"
		}
		loc, err := time.LoadLocation(zone)
		if zone == "" || err != nil {
			return t.UTC().Format(layoutUTC)
		}
		return t.In(loc).Format(layoutZone)
	},
	"date": func(t time.Time) string {
		if t.IsZero() {
			return "(not set)"
		}
		return t.UTC().Format(layoutDate)
	},
	"rfc3339": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"join":    func(l []string, sep string) string { return strings.Join(l, sep) },
	// untrusted frames text that is not the team's own: see Untrusted.
	"untrusted": Untrusted,
	"indent": func(n int, s string) string {
		pad := strings.Repeat(" ", n)
		return prefixLines(pad, s)
	},
	"quote":  func(s string) string { return prefixLines("> ", s) },
	"header": HeaderSafe,
	"upper":  strings.ToUpper,
	"score":  func(f float64) string { return fmt.Sprintf("%.1f", f) },
	"plural": Plural,
}

// Plural returns word, with an s unless n is 1: "1 recipient", "2 recipients".
func Plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

func prefixLines(p, s string) string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return ""
	}
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if l == "" {
			lines[i] = strings.TrimRight(p, " ")
		} else {
			lines[i] = p + l
		}
	}
	return strings.Join(lines, "\n")
}
