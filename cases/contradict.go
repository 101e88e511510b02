package cases

import (
	"fmt"
	"strings"
)

// A mail is one decision: commands in it that contradict each other are
// refused together, never applied in order so that the last one wins
// ("/status confirmed" then "/status incomplete" says two things, and a
// client that quoted someone else's text may have added one of them).

// stateRank orders the lifecycle: within one mail, the states named by
// /status and /close must strictly advance. The side exits end a case and
// rank last, so that nothing may follow them.
var stateRank = map[State]int{
	StateNew: 0, StateIncomplete: 1, StateConfirmed: 2, StateTriaged: 3, StateCVERequested: 4,
	StateFixCommitted: 5, StateFixReleased: 6, StateClosed: 7,
	StateOpinion: 8, StateWontfix: 8, StateInvalid: 8,
}

// singleValued are the commands that set one value: naming one twice with
// different values is a contradiction. /cvss is keyed by its version and
// /credit by whether it records consent (see valueKey).
var singleValued = map[string]bool{
	"class": true, "cvss": true, "cve": true, "advisory": true, "affected": true, "fixed": true,
	"credit": true, "title": true, "component": true, "terms": true, "mitigation": true, "impact": true,
	"disclose": true, "notify": true, "publish-now": true, "lead": true,
}

// exclusive are pairs of commands that cannot both be meant.
var exclusive = [][2]string{{"disclose", "publish-now"}, {"disclose", "close"}, {"notify", "close"}, {"publish-now", "close"}}

// valueKey is what a single-valued command sets.
func valueKey(c Command) string {
	switch c.Name {
	case "cvss":
		v, _, _ := strings.Cut(c.Rest, "/")
		return "cvss " + strings.ToUpper(v)
	case "credit":
		if len(c.Args) > 0 && strings.EqualFold(c.Args[0], "consent") {
			return "credit consent"
		}
	}
	return c.Name
}

// contradictions returns a problem for each command that contradicts an
// earlier one of the same mail.
func contradictions(cmds []Command) []Problem {
	var problems []Problem
	seen := map[string]Command{}
	var lastState *Command
	for i := range cmds {
		c := cmds[i]
		if c.Name == "status" || c.Name == "close" {
			if lastState != nil && stateRank[c.State] <= stateRank[lastState.State] {
				problems = append(problems, Problem{Line: c.Line, Raw: c.Raw, Msg: fmt.Sprintf(
					"contradicts line %d %q: one mail may move the case forward through its states, not back or sideways; send one decision", lastState.Line, short(lastState.Raw))})
			}
			lastState = &cmds[i]
		}
		if singleValued[c.Name] {
			k := valueKey(c)
			if prev, ok := seen[k]; ok && (prev.Rest != c.Rest || prev.Text != c.Text) {
				problems = append(problems, Problem{Line: c.Line, Raw: displayRaw(&c), Msg: fmt.Sprintf(
					"contradicts line %d %q: /%s is given twice with different values", prev.Line, short(displayRaw(&prev)), c.Name)})
			}
			seen[k] = c
		}
		for _, pair := range exclusive {
			for _, other := range []string{pair[0], pair[1]} {
				if c.Name != other {
					continue
				}
				want := pair[0]
				if other == pair[0] {
					want = pair[1]
				}
				for _, prev := range cmds[:i] {
					if prev.Name == want {
						problems = append(problems, Problem{Line: c.Line, Raw: displayRaw(&c), Msg: fmt.Sprintf(
							"contradicts line %d %q: /%s and /%s in one mail say two different things", prev.Line, short(displayRaw(&prev)), want, c.Name)})
					}
				}
			}
		}
	}
	return problems
}
