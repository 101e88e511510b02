package schedule

import (
	"errors"
	"strings"
)

// Errors callers test with errors.Is. Each refusal is wrapped with a clear
// reason.
var (
	ErrUnknownPolicy = errors.New("unknown policy")
	ErrPast          = errors.New("disclosure time is in the past")
	ErrPolicy        = errors.New("disclosure time breaks the policy")
	ErrNotReady      = errors.New("case is not ready for disclosure")
	ErrState         = errors.New("case is not in a state that allows this")
	ErrNoPlan        = errors.New("no disclosure is planned for this case")
	ErrNoReason      = errors.New("a reason is required")
)

// PolicyError lists every rule a planned disclosure breaks.
type PolicyError struct {
	Policy     string
	Violations []string
}

func (e *PolicyError) Error() string {
	return "schedule: disclosure time breaks the " + e.Policy + " policy: " + strings.Join(e.Violations, "; ") +
		` (add "force: REASON" to override)`
}

func (e *PolicyError) Unwrap() error { return ErrPolicy }

// ReadinessError lists what is missing before a disclosure can be planned.
type ReadinessError struct {
	Missing []string
	// Forceable is true when only key problems block the plan; a forced
	// plan then skips those recipients (and tells the lead).
	Forceable bool
}

func (e *ReadinessError) Error() string {
	s := "schedule: case is not ready for disclosure: " + strings.Join(e.Missing, "; ")
	if e.Forceable {
		s += ` (add "force: REASON" to plan anyway; those recipients will get nothing)`
	}
	return s
}

func (e *ReadinessError) Unwrap() error { return ErrNotReady }
