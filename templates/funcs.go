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
//	plural N S     the noun S, made plural unless N == 1: "change", "changes"
//	count N S      N and the noun S, made plural unless N == 1: "1 change", "3 changes"
//	credit CASE    who the texts credit, or why nobody yet (see Credit)
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
	"count":  Count,
	"credit": Credit,
}

// Plural returns the noun word as it goes with the number n: word itself
// when n is 1, its plural otherwise ("recipient", "recipients"; "patch",
// "patches"; "reply", "replies"). A phrase ("business day") has its last
// word made plural. Every count the gateway writes goes through Plural or
// Count, so that none reads "1 lines".
func Plural(n int, word string) string {
	if n == 1 || n == -1 || word == "" {
		return word
	}
	last := word[len(word)-1]
	switch {
	case strings.HasSuffix(word, "s"), strings.HasSuffix(word, "x"), strings.HasSuffix(word, "z"),
		strings.HasSuffix(word, "ch"), strings.HasSuffix(word, "sh"):
		return word + "es"
	case last == 'y' && len(word) > 1 && !strings.ContainsRune("aeiou", rune(word[len(word)-2])):
		return word[:len(word)-1] + "ies"
	}
	return word + "s"
}

// Count returns n followed by the noun word as it goes with n: "1 change",
// "3 changes", "0 recipients".
func Count(n int, word string) string {
	return fmt.Sprintf("%d %s", n, Plural(n, word))
}

// Credit returns what a text that names the case's credit shows: the name
// when the reporter agreed to be credited, otherwise why nobody is, so that
// a reporter who was asked and has not answered yet is not taken for one
// who declined:
//
//	Rita Reporter                                             consent yes, a name recorded
//	(none: the reporter declined to be named)                 consent no
//	(none yet: credit pending the reporter's consent)         no answer recorded yet
//	(none yet: the reporter agreed, no name is recorded)      consent yes, no name
func Credit(c CaseData) string {
	yes := c.CreditConsent || c.CreditAnswer == "yes"
	switch {
	case c.CreditAnswer == "no":
		return "(none: the reporter declined to be named)"
	case yes && c.Credit != "":
		return c.Credit
	case yes:
		return "(none yet: the reporter agreed, no name is recorded)"
	}
	return "(none yet: credit pending the reporter's consent)"
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
