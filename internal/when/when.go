// Package when reads the times people write in commands and
// configuration: a disclosure time "YYYY-MM-DD HH:MM ZONE" and a time zone.
// It is strict where a misreading would move an embargo: ambiguous zone
// abbreviations, local times a daylight-saving change skips or repeats, and
// zone names that are paths are refused with a reason a person can act on.
package when

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	_ "time/tzdata" // zones must resolve the same on every host
)

// Errors of Parse and Zone.
var (
	ErrBadTime     = errors.New("invalid disclosure time")
	ErrUnknownZone = errors.New("unknown or ambiguous time zone")
)

// zoneAbbrevs are the only abbreviations accepted: they are unambiguous.
// Anything like "CST" or "IST", which names several zones, is refused;
// write an IANA name (America/Chicago) or an offset (-06:00) instead.
var zoneAbbrevs = map[string]*time.Location{
	"UTC": time.UTC,
	"GMT": time.UTC,
	"Z":   time.UTC,
}

var offsetRE = regexp.MustCompile(`^(?:UTC|GMT)?([+-])(\d{1,2})(?::?(\d{2}))?$`)

// Parse parses a disclosure time "DATE TIME ZONE": DATE is YYYY-MM-DD,
// TIME is HH:MM (or HH:MM:SS), ZONE is an IANA zone name (Europe/Berlin),
// UTC/GMT/Z, or a UTC offset (+02:00, -0500, UTC+2). Abbreviations such as
// CET or EST are refused as ambiguous. A local time that does not exist
// (skipped by a daylight-saving change) or exists twice (repeated by one) in
// the zone is refused too. The result is in UTC.
func Parse(s string) (time.Time, error) {
	f := strings.Fields(s)
	if len(f) != 3 {
		return time.Time{}, fmt.Errorf("%w: %q: want \"YYYY-MM-DD HH:MM ZONE\", e.g. \"2026-12-15 16:00 UTC\"", ErrBadTime, s)
	}
	loc, err := Zone(f[2])
	if err != nil {
		return time.Time{}, err
	}
	var lt time.Time
	for _, layout := range []string{"2006-01-02 15:04", "2006-01-02 15:04:05"} {
		if lt, err = time.Parse(layout, f[0]+" "+f[1]); err == nil {
			break
		}
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: %q: want \"YYYY-MM-DD HH:MM ZONE\"", ErrBadTime, s)
	}
	t := time.Date(lt.Year(), lt.Month(), lt.Day(), lt.Hour(), lt.Minute(), lt.Second(), 0, loc)
	// time.Date normalises a skipped local time; refuse it.
	if t.Hour() != lt.Hour() || t.Minute() != lt.Minute() || t.Day() != lt.Day() {
		return time.Time{}, fmt.Errorf("%w: %s %s does not exist in %s (daylight-saving change)", ErrBadTime, f[0], f[1], f[2])
	}
	// A repeated local time: an hour earlier or later has the same wall clock.
	for _, d := range []time.Duration{-time.Hour, time.Hour} {
		o := t.Add(d).In(loc)
		if o.Hour() == t.Hour() && o.Minute() == t.Minute() && o.Day() == t.Day() {
			return time.Time{}, fmt.Errorf("%w: %s %s occurs twice in %s (daylight-saving change); give a UTC offset", ErrUnknownZone, f[0], f[1], f[2])
		}
	}
	return t.UTC(), nil
}

// Zone parses a zone as Parse accepts it.
func Zone(z string) (*time.Location, error) {
	if loc, ok := zoneAbbrevs[strings.ToUpper(z)]; ok {
		return loc, nil
	}
	if m := offsetRE.FindStringSubmatch(strings.ToUpper(z)); m != nil {
		var h, mm int
		fmt.Sscanf(m[2], "%d", &h)
		if m[3] != "" {
			fmt.Sscanf(m[3], "%d", &mm)
		}
		if h > 14 || mm > 59 {
			return nil, fmt.Errorf("%w: offset %q out of range", ErrUnknownZone, z)
		}
		off := h*3600 + mm*60
		if m[1] == "-" {
			off = -off
		}
		return time.FixedZone(fmt.Sprintf("UTC%s%02d:%02d", m[1], h, mm), off), nil
	}
	// IANA names contain a slash (Europe/Berlin) or are a handful of
	// historical names; abbreviations like "CET", "EST" or "MST" are also
	// in the database but mean different things to different people.
	if !strings.Contains(z, "/") || strings.HasPrefix(z, "/") || strings.Contains(z, "..") {
		return nil, fmt.Errorf("%w: %q: use an IANA zone (Europe/Berlin), UTC or an offset (+01:00)", ErrUnknownZone, z)
	}
	loc, err := time.LoadLocation(z)
	if err != nil {
		return nil, fmt.Errorf("%w: %q", ErrUnknownZone, z)
	}
	return loc, nil
}
