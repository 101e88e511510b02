package schedule

import (
	"context"
	"fmt"
	"time"

	"github.com/secgate/secgate/store"
)

// NoticeDue reports whether a step that mails the distributors (an
// embargo, change or pre-release notice) is pending and due before until:
// the gateway refreshes the distributors' keys ahead of it.
func (s *Scheduler) NoticeDue(ctx context.Context, until time.Time) (bool, error) {
	var n int
	err := s.db.Reader().QueryRowContext(ctx, `SELECT count(*) FROM schedule_job WHERE state = 'pending' AND due <= ? AND kind IN (?, ?, ?)`,
		store.Millis(until), JobEmbargoNotice, JobEmbargoChange, JobPreReleaseNotice).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("schedule: notices due: %w", err)
	}
	return n > 0, nil
}

// noticeJob reports whether a job of kind mails the distributors.
func noticeJob(kind string) bool {
	return kind == JobEmbargoNotice || kind == JobEmbargoChange || kind == JobPreReleaseNotice
}
