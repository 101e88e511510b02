package cases

import (
	"fmt"
	"strings"
)

// Publication is what the disclosure of a case publishes, as its Kata
// incident class decides.
type Publication string

// What a disclosure publishes.
const (
	// PublishAdvisory: a security advisory (Kata's KCSA) under the
	// embargoed process: the distributors are told first, the advisory
	// goes out at T0. An unclassified case takes this path.
	PublishAdvisory Publication = "an advisory"
	// PublishNote: a security note (Kata's KCSN), never an advisory. The
	// note goes to the public lists at T0 with no embargo notice before
	// it; the case waits for it in opinion.
	PublishNote Publication = "a security note"
	// PublishNothing: nothing is published; the case ends.
	PublishNothing Publication = "nothing"
)

// ClassRule is one class of the Kata Containers incident report taxonomy
// and what it leads to.
type ClassRule struct {
	Class     string
	Meaning   string // the taxonomy's description
	Publishes Publication
	// Optional: the taxonomy's "Potential": a note only if the team
	// decides that one is warranted; otherwise the case ends as End.
	Optional bool
	// End is the state that ends a case of this class when nothing is
	// published (invalid, wontfix); /close END tells the reporter.
	End State
}

// classRules is the taxonomy, the one place that says what each class
// leads to. Classes, /class, /advisory, /disclose, /notify, /publish-now
// and the scheduler read it.
var classRules = []ClassRule{
	{Class: "A", Meaning: "a vulnerability to be fixed in master and all supported releases", Publishes: PublishAdvisory},
	{Class: "B1", Meaning: "a vulnerability that can only be fixed in master, with a security note for the stable branches (an insecure default, say)", Publishes: PublishNote},
	{Class: "B2", Meaning: "a vulnerability without a complete fix yet, with a security note for all versions (poor architecture or design, say)", Publishes: PublishNote},
	{Class: "B3", Meaning: "a vulnerability in experimental or debugging features not intended for production use", Publishes: PublishNote},
	{Class: "C1", Meaning: "not considered a practical vulnerability", Publishes: PublishNote, Optional: true, End: StateWontfix},
	{Class: "C2", Meaning: "a vulnerability, but not in supported code (in a dependency, say)", Publishes: PublishNote, Optional: true, End: StateWontfix},
	{Class: "D", Meaning: "not a vulnerability, a bug with some security implications (a strengthening opportunity, say)", Publishes: PublishNote, Optional: true, End: StateWontfix},
	{Class: "E", Meaning: "neither a vulnerability nor a hardening opportunity", Publishes: PublishNothing, End: StateInvalid},
	{Class: "Y", Meaning: "a vulnerability only found in a development release", Publishes: PublishNothing, End: StateWontfix},
	{Class: "Z", Meaning: "due process failed", Publishes: PublishNothing, End: StateInvalid},
}

// Classes are the Kata Containers incident report classes.
var Classes = func() []string {
	var out []string
	for _, r := range classRules {
		out = append(out, r.Class)
	}
	return out
}()

// ClassRuleOf returns the rule of class (A, B1 ... Z).
func ClassRuleOf(class string) (ClassRule, bool) {
	for _, r := range classRules {
		if strings.EqualFold(r.Class, class) {
			return r, true
		}
	}
	return ClassRule{}, false
}

func classMeaning(class string) string {
	r, _ := ClassRuleOf(class)
	return r.Meaning
}

// Publishes is what the disclosure of c publishes: what its class leads
// to, an advisory when it has none.
func (c *Case) Publishes() Publication {
	if r, ok := ClassRuleOf(c.Class); ok {
		return r.Publishes
	}
	return PublishAdvisory
}

// Implies says what a case of the class leads to and how the lead gets
// there, for the answer to /class.
func (r ClassRule) Implies() string {
	head := fmt.Sprintf("class %s (%s): ", r.Class, r.Meaning)
	switch {
	case r.Publishes == PublishAdvisory:
		return head + "an advisory under the embargoed process: /disclose tells the distributors under embargo and publishes the advisory at that time"
	case r.Publishes == PublishNote && r.Optional:
		return head + fmt.Sprintf("no advisory; a security note only if the team decides one is warranted "+
			"(/status opinion, then /disclose DATE TIME ZONE plans it), otherwise end the case with /close %s and fix the bug in the open", r.End)
	case r.Publishes == PublishNote:
		return head + "a security note, not an advisory: move the case to opinion (/status opinion; the reporter is told), " +
			"then /disclose DATE TIME ZONE plans the note, which goes to the public lists at that time with its own ID and no embargo notice"
	}
	return head + fmt.Sprintf("nothing is published: end the case with /close %s (the reporter is told)", r.End)
}

// setClass runs /class: it records the class and tells the lead what it
// implies, and what of the case no longer fits it.
func (s *session) setClass(class string) error {
	c := s.c
	before := c.Publishes()
	s.done = append(s.done, fmt.Sprintf("class %s -> %s", orNone(c.Class), class))
	c.Class = class
	r, _ := ClassRuleOf(class)
	s.extra = append(s.extra, r.Implies())
	if c.Advisory != "" && r.Publishes != PublishAdvisory {
		s.extra = append(s.extra, fmt.Sprintf("the advisory ID %s stays recorded but nothing publishes it: class %s publishes %s", c.Advisory, r.Class, r.Publishes))
	}
	if planned := !c.DiscloseAt.IsZero() && !c.Terminal() && c.State != StateFixReleased; planned && r.Publishes != before {
		s.extra = append(s.extra, fmt.Sprintf("a disclosure is planned for %s: at that time the gateway publishes %s now, not %s; plan it again or end the case",
			c.DiscloseAt.UTC().Format("2006-01-02 15:04 UTC"), r.Publishes, before))
	}
	return nil
}

// checkClass refuses a command that the case's class contradicts.
func (s *session) checkClass(cmd *Command) error {
	if s.c == nil {
		return nil
	}
	r, ok := ClassRuleOf(s.c.Class)
	if !ok {
		return nil
	}
	switch cmd.Name {
	case "advisory":
		if r.Publishes != PublishAdvisory {
			return fmt.Errorf("class %s publishes %s, not an advisory; /class A first if an advisory is warranted", r.Class, r.Publishes)
		}
	case "disclose", "publish-now", "notify":
		if r.Publishes == PublishNothing {
			return fmt.Errorf("class %s (%s) publishes nothing: end the case with /close %s (the reporter is told)", r.Class, r.Meaning, r.End)
		}
		if cmd.Name == "notify" && r.Publishes != PublishAdvisory {
			return fmt.Errorf("class %s publishes %s, which goes out with no embargo notice to the distributors", r.Class, r.Publishes)
		}
	}
	return nil
}
