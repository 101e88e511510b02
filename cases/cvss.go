package cases

import (
	"errors"
	"fmt"
	"math"
	"strings"

	cvss31 "github.com/pandatix/go-cvss/31"
	cvss40 "github.com/pandatix/go-cvss/40"
)

// ErrCVSS is returned for a CVSS vector that does not parse.
var ErrCVSS = errors.New("invalid CVSS vector")

// CVSS is a validated, scored CVSS vector.
type CVSS struct {
	Vector   string  // canonical form, as re-serialised by go-cvss
	Score    float64 // base score (3.1) or CVSS-B/BT/BE/BTE score (4.0)
	Severity string  // NONE, LOW, MEDIUM, HIGH, CRITICAL
}

// ParseCVSS validates and scores a CVSS 3.1 or 4.0 vector.
func ParseCVSS(v string) (CVSS, error) {
	v = strings.TrimSpace(v)
	switch {
	case strings.HasPrefix(v, "CVSS:3.1/"):
		c, err := cvss31.ParseVector(v)
		if err != nil {
			return CVSS{}, fmt.Errorf("%w: %q: %v", ErrCVSS, short(v), err)
		}
		s := c.BaseScore()
		r, err := cvss31.Rating(s)
		if err != nil {
			return CVSS{}, fmt.Errorf("%w: %q: %v", ErrCVSS, short(v), err)
		}
		return CVSS{Vector: c.Vector(), Score: round1(s), Severity: r}, nil
	case strings.HasPrefix(v, "CVSS:4.0/"):
		c, err := cvss40.ParseVector(v)
		if err != nil {
			return CVSS{}, fmt.Errorf("%w: %q: %v", ErrCVSS, short(v), err)
		}
		s := c.Score()
		r, err := cvss40.Rating(s)
		if err != nil {
			return CVSS{}, fmt.Errorf("%w: %q: %v", ErrCVSS, short(v), err)
		}
		return CVSS{Vector: c.Vector(), Score: round1(s), Severity: r}, nil
	}
	return CVSS{}, fmt.Errorf("%w: %q: must start with CVSS:3.1/ or CVSS:4.0/", ErrCVSS, short(v))
}

func round1(f float64) float64 { return math.Round(f*10) / 10 }

// short caps untrusted text quoted back in messages.
func short(s string) string {
	const max = 120
	if len(s) <= max {
		return s
	}
	r := []rune(s)
	if len(r) > max {
		r = r[:max]
	}
	return string(r) + "..."
}
