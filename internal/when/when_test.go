package when

import (
	"errors"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want string // RFC 3339 UTC, or "" for an error
		err  error
	}{
		{"2026-12-15 16:00 UTC", "2026-12-15T16:00:00Z", nil},
		{"2026-12-15 16:00 Z", "2026-12-15T16:00:00Z", nil},
		{"2026-12-15 17:00 Europe/Berlin", "2026-12-15T16:00:00Z", nil},
		{"2026-07-15 18:00 Europe/Berlin", "2026-07-15T16:00:00Z", nil},
		{"2026-12-15 11:00 -05:00", "2026-12-15T16:00:00Z", nil},
		{"2026-12-15 21:30 +0530", "2026-12-15T16:00:00Z", nil},
		{"2026-12-15 18:00 UTC+2", "2026-12-15T16:00:00Z", nil},
		{"2026-12-15 16:00:30 UTC", "2026-12-15T16:00:30Z", nil},
		{"2026-12-15 16:00 CET", "", ErrUnknownZone},
		{"2026-12-15 16:00 CST", "", ErrUnknownZone},
		{"2026-12-15 16:00 IST", "", ErrUnknownZone},
		{"2026-12-15 16:00 Mars/Olympus", "", ErrUnknownZone},
		{"2026-12-15 16:00 Local", "", ErrUnknownZone},
		{"2026-12-15 16:00 ../../etc/passwd", "", ErrUnknownZone},
		{"2026-12-15 16:00 +15:00", "", ErrUnknownZone},
		{"2026-03-29 02:30 Europe/Berlin", "", ErrBadTime},       // skipped by DST
		{"2026-10-25 02:30 Europe/Berlin", "", ErrUnknownZone},   // happens twice
		{"2026-10-25 02:30 +01:00", "2026-10-25T01:30:00Z", nil}, // disambiguated
		{"2026-12-15 16:00", "", ErrBadTime},
		{"2026-13-15 16:00 UTC", "", ErrBadTime},
		{"tomorrow noon UTC", "", ErrBadTime},
		{"", "", ErrBadTime},
	}
	for _, tc := range tests {
		got, err := Parse(tc.in)
		if tc.err != nil {
			if !errors.Is(err, tc.err) {
				t.Errorf("Parse(%q) = %v, %v; want %v", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || got.Format(time.RFC3339) != tc.want {
			t.Errorf("Parse(%q) = %v, %v; want %s", tc.in, got, err, tc.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"2026-12-15 16:00 UTC", "2026-10-25 02:30 Europe/Berlin", "x y z", "2026-12-15 16:00 +99:99"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := Parse(s)
		if err == nil && got.Location() != time.UTC {
			t.Fatalf("Parse(%q) not in UTC", s)
		}
	})
}
