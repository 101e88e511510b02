package schedule

import "github.com/secgate/secgate/cases"

var _ cases.ImpactReviewer = (*Scheduler)(nil)

// ReviewsImpact implements cases.ImpactReviewer: whether policy has the
// reporter review the impact description when a case is triaged.
func (s *Scheduler) ReviewsImpact(policy string) bool {
	p, err := s.Policy(policy)
	return err == nil && p.ImpactReview
}
