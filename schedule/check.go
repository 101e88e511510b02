package schedule

import (
	"fmt"
	"time"

	"github.com/secgate/secgate/templates"
)

// Violations returns every rule of p that a disclosure at t0 breaks when the
// embargo notice goes out at notice (or went out, for a re-plan).
func (p Policy) Violations(notice, t0 time.Time) []string {
	return append(p.noticeViolations(notice, t0), p.t0Violations(t0)...)
}

// noticeViolations lists how an embargo from notice to t0 breaks the
// policy's minimum and maximum.
func (p Policy) noticeViolations(notice, t0 time.Time) []string {
	var v []string
	lead := t0.Sub(notice)
	if p.MinNotice > 0 && lead < p.MinNotice {
		v = append(v, fmt.Sprintf("the embargo list must be told at least %s before disclosure, this gives %s",
			FormatDuration(p.MinNotice), FormatDuration(lead)))
	}
	if p.MinNoticeBusinessDays > 0 {
		if n := p.BusinessDays(notice, t0); n < p.MinNoticeBusinessDays {
			v = append(v, fmt.Sprintf("the embargo must last at least %s, this gives %d", templates.Count(p.MinNoticeBusinessDays, "business day"), n))
		}
	}
	return append(v, p.TooLong(notice, t0)...)
}

// t0Violations lists how the disclosure time itself breaks the policy (its
// time of day, weekday, a holiday), whatever the embargo.
func (p Policy) t0Violations(t0 time.Time) []string {
	var v []string
	t0u := t0.UTC()
	if h, m, err := p.disclosureTime(); err == nil && h >= 0 {
		if t0u.Hour() != h || t0u.Minute() != m || t0u.Second() != 0 {
			v = append(v, fmt.Sprintf("disclosure must be at %s UTC, not %s UTC", p.DisclosureTime, t0u.Format("15:04")))
		}
	}
	if wd, err := p.weekdays(); err == nil && wd != nil && !wd[t0u.Weekday()] {
		v = append(v, fmt.Sprintf("disclosure may not be on a %s (allowed: %v)", t0u.Weekday(), p.Weekdays))
	}
	if h, err := p.holidays(); err == nil && h[t0u.Format(time.DateOnly)] {
		v = append(v, fmt.Sprintf("%s is a holiday", t0u.Format(time.DateOnly)))
	}
	return v
}

// TooLong lists how an embargo from notice to t0 breaks the policy's
// maximum (calendar or business days): what an early /notify must not do
// unless forced.
func (p Policy) TooLong(notice, t0 time.Time) []string {
	var v []string
	if lead := t0.Sub(notice); p.MaxNotice > 0 && lead > p.MaxNotice {
		v = append(v, fmt.Sprintf("the embargo may last at most %s, this gives %s",
			FormatDuration(p.MaxNotice), FormatDuration(lead)))
	}
	if p.MaxNoticeBusinessDays > 0 {
		if n := p.BusinessDays(notice, t0); n > p.MaxNoticeBusinessDays {
			v = append(v, fmt.Sprintf("the embargo may last at most %s, this gives %d", templates.Count(p.MaxNoticeBusinessDays, "business day"), n))
		}
	}
	return v
}

// FormatDuration shows d in days and hours ("21 days", "6 days 23 hours",
// "45 minutes").
func FormatDuration(d time.Duration) string {
	neg := ""
	if d < 0 {
		neg, d = "-", -d
	}
	days := int(d / Day)
	hours := int((d % Day) / time.Hour)
	mins := int((d % time.Hour) / time.Minute)
	plural := templates.Count
	switch {
	case days > 0 && hours > 0:
		return neg + plural(days, "day") + " " + plural(hours, "hour")
	case days > 0:
		return neg + plural(days, "day")
	case hours > 0 && mins > 0:
		return neg + plural(hours, "hour") + " " + plural(mins, "minute")
	case hours > 0:
		return neg + plural(hours, "hour")
	default:
		return neg + plural(mins, "minute")
	}
}
