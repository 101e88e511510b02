package schedule

import (
	"time"

	"github.com/secgate/secgate/cases"
	"github.com/secgate/secgate/templates"
)

// The workflow states these windows in the welcome to a new distributor.
var _ cases.NoticeWindower = (*Scheduler)(nil)

// NoticeWindows are the notice windows of the policy of new cases, in
// words, as the welcome to a new distributor states them (cases): the
// least and the most time between the embargo notice and the disclosure,
// and how long before it the pre-release notice comes; "" for a window
// the policy does not have.
func (s *Scheduler) NoticeWindows() (minNotice, maxNotice, preRelease string) {
	p, err := s.Policy("")
	if err != nil {
		return "", "", ""
	}
	window := func(d time.Duration, days int) string {
		switch {
		case d > 0:
			return FormatDuration(d)
		case days > 0:
			return templates.Count(days, "business day")
		}
		return ""
	}
	minNotice = window(p.MinNotice, p.MinNoticeBusinessDays)
	maxNotice = window(p.MaxNotice, p.MaxNoticeBusinessDays)
	if p.PreReleaseNotice > 0 {
		preRelease = FormatDuration(p.PreReleaseNotice)
	}
	return minNotice, maxNotice, preRelease
}
