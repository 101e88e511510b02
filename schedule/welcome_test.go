package schedule

import (
	"testing"
	"time"
)

// TestNoticeWindows: the welcome to a new distributor states the notice
// windows of the policy of new cases, in days or business days.
func TestNoticeWindows(t *testing.T) {
	now := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	for _, tc := range []struct{ policy, min, max, pre string }{
		{"knative", "21 days", "28 days", "1 day"},
		{"kata", "3 business days", "5 business days", "1 day"},
	} {
		e := newEnv(t, now, tc.policy)
		min, max, pre := e.newScheduler(tc.policy).NoticeWindows()
		if min != tc.min || max != tc.max || pre != tc.pre {
			t.Errorf("%s: %q %q %q, want %q %q %q", tc.policy, min, max, pre, tc.min, tc.max, tc.pre)
		}
	}
}
