package cases

import (
	"errors"
	"os"
	"regexp"
	"strings"
	"testing"
)

func TestTransitions(t *testing.T) {
	tests := []struct {
		from, to State
		ok       bool
	}{
		{StateNew, StateConfirmed, true},
		{StateNew, StateIncomplete, true},
		{StateNew, StateInvalid, true},
		{StateNew, StateFixReleased, false},
		{StateNew, StateTriaged, false},
		{StateIncomplete, StateConfirmed, true},
		{StateConfirmed, StateIncomplete, true},
		{StateConfirmed, StateTriaged, true},
		{StateTriaged, StateCVERequested, true},
		{StateTriaged, StateFixCommitted, true}, // a plan made before a CVE was requested
		{StateConfirmed, StateFixCommitted, true},
		{StateCVERequested, StateFixCommitted, true},
		{StateFixCommitted, StateFixReleased, true},
		{StateFixCommitted, StateInvalid, false},
		{StateFixReleased, StateClosed, true},
		{StateOpinion, StateConfirmed, true},
		{StateOpinion, StateClosed, true},
		{StateClosed, StateNew, false},
		{StateInvalid, StateConfirmed, false},
		{StateWontfix, StateConfirmed, false},
	}
	for _, tt := range tests {
		if got := CanTransition(tt.from, tt.to); got != tt.ok {
			t.Errorf("CanTransition(%s, %s) = %v, want %v", tt.from, tt.to, got, tt.ok)
		}
	}
}

func TestCheckTransition(t *testing.T) {
	tests := []struct {
		name string
		c    Case
		to   State
		want string // "" ok
	}{
		{"impossible", Case{Ref: "R", State: StateNew}, StateFixReleased, "new -> fix-released"},
		{"same", Case{Ref: "R", State: StateNew}, StateNew, "already new"},
		{"final", Case{Ref: "R", State: StateInvalid}, StateConfirmed, "final"},
		{"triaged needs impact", Case{Ref: "R", State: StateConfirmed}, StateTriaged, "/impact"},
		{"triaged with impact", Case{Ref: "R", State: StateConfirmed, Impact: "x"}, StateTriaged, ""},
		{"fix-committed from confirmed needs impact", Case{Ref: "R", State: StateConfirmed}, StateFixCommitted, "/impact"},
		{"fix-committed from confirmed with impact", Case{Ref: "R", State: StateConfirmed, Impact: "x"}, StateFixCommitted, ""},
	}
	for _, tt := range tests {
		err := checkTransition(&tt.c, tt.to)
		if tt.want == "" {
			if err != nil {
				t.Errorf("%s: %v", tt.name, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want %q", tt.name, err, tt.want)
		}
		if tt.name != "same" && !errors.Is(err, ErrTransition) {
			t.Errorf("%s: err %v is not ErrTransition", tt.name, err)
		}
	}
}

// TestTransitionTableDocumented keeps doc.go's table and the code in step.
func TestTransitionTableDocumented(t *testing.T) {
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile(`(?m)^//\t([a-z-]+)\s{2,}(.+)$`)
	seen := map[State]bool{}
	for _, m := range row.FindAllStringSubmatch(string(doc), -1) {
		from := State(m[1])
		if _, ok := transitions[from]; !ok {
			continue
		}
		seen[from] = true
		var want []string
		if strings.TrimSpace(m[2]) != "(final)" {
			for _, s := range strings.Split(m[2], ",") {
				want = append(want, strings.TrimSpace(s))
			}
		}
		var got []string
		for _, s := range transitions[from] {
			got = append(got, string(s))
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("doc.go row %s = %v, code has %v", from, want, got)
		}
	}
	for _, s := range States {
		if !seen[s] {
			t.Errorf("doc.go has no row for %s", s)
		}
	}
}
