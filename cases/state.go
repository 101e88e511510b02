package cases

import (
	"errors"
	"fmt"
)

// ErrTransition is returned for a state change the lifecycle does not allow.
var ErrTransition = errors.New("transition not allowed")

// transitions is the lifecycle; doc.go documents it as a table and
// TestTransitionTableDocumented keeps the two in step.
var transitions = map[State][]State{
	StateNew:          {StateIncomplete, StateConfirmed, StateOpinion, StateWontfix, StateInvalid},
	StateIncomplete:   {StateConfirmed, StateOpinion, StateWontfix, StateInvalid},
	StateConfirmed:    {StateIncomplete, StateTriaged, StateFixCommitted, StateOpinion, StateWontfix, StateInvalid},
	StateTriaged:      {StateIncomplete, StateCVERequested, StateFixCommitted, StateOpinion, StateWontfix, StateInvalid},
	StateCVERequested: {StateFixCommitted, StateOpinion, StateWontfix, StateInvalid},
	StateFixCommitted: {StateFixReleased},
	StateFixReleased:  {StateClosed},
	StateOpinion:      {StateIncomplete, StateConfirmed, StateClosed, StateWontfix, StateInvalid},
	StateClosed:       nil,
	StateWontfix:      nil,
	StateInvalid:      nil,
}

// ParseState returns the state named s. "in-progress" (Kata's label for a
// requested CVE) and "won't-fix" are accepted as aliases.
func ParseState(s string) (State, bool) {
	switch s {
	case "in-progress":
		return StateCVERequested, true
	case "won't-fix", "wont-fix":
		return StateWontfix, true
	}
	st := State(s)
	_, ok := transitions[st]
	return st, ok
}

// CanTransition reports whether a case may move from one state to another.
func CanTransition(from, to State) bool {
	for _, s := range transitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

// Next returns the states reachable from s.
func Next(s State) []State { return append([]State(nil), transitions[s]...) }

func terminal(s State) bool {
	return len(transitions[s]) == 0
}

// checkTransition validates moving c to state to, including the guards the
// seeds attach to some states.
func checkTransition(c *Case, to State) error {
	if c.State == to {
		return fmt.Errorf("case %s is already %s", c.Ref, to)
	}
	if !CanTransition(c.State, to) {
		next := Next(c.State)
		if len(next) == 0 {
			return fmt.Errorf("%w: case %s is %s, which is final", ErrTransition, c.Ref, c.State)
		}
		return fmt.Errorf("%w: %s -> %s (from %s the case can go to: %s)", ErrTransition, c.State, to, c.State, joinStates(next))
	}
	if to == StateTriaged && c.Impact == "" {
		return fmt.Errorf("%w: triaged means the impact description has been drafted; set it with /impact first", ErrTransition)
	}
	if to == StateFixCommitted && c.State == StateConfirmed && c.Impact == "" {
		// Straight from confirmed (a plan made before triage, a public
		// issue): the impact description the notices carry comes first.
		return fmt.Errorf("%w: fix-committed means the distributors were told, with the impact description; set it with /impact first", ErrTransition)
	}
	return nil
}

func joinStates(ss []State) string {
	out := ""
	for i, s := range ss {
		if i > 0 {
			out += ", "
		}
		out += string(s)
	}
	return out
}
