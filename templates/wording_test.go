package templates

import (
	"regexp"
	"strings"
	"testing"
)

func TestPluralCount(t *testing.T) {
	tests := []struct {
		n          int
		word, want string
	}{
		{1, "line", "1 line"},
		{2, "line", "2 lines"},
		{0, "recipient", "0 recipients"},
		{1, "change", "1 change"},
		{17, "change", "17 changes"},
		{2, "patch", "2 patches"},
		{2, "reply", "2 replies"},
		{2, "key", "2 keys"},
		{2, "business day", "2 business days"},
		{1, "business day", "1 business day"},
		{3, "class", "3 classes"},
	}
	for _, tc := range tests {
		if got := Count(tc.n, tc.word); got != tc.want {
			t.Errorf("Count(%d, %q) = %q, want %q", tc.n, tc.word, got, tc.want)
		}
	}
}

// oneMany matches a count of one with a plural noun: "1 lines", "1 keys".
var oneMany = regexp.MustCompile(`(^|[^0-9.,])1 (line|change|recipient|attachment|message|key|event|distributor|day|step|time|member|file)s\b`)

// TestCountsOfOne renders every template with one of each counted thing:
// no count of one reads as a plural ("1 recipients"), and a subject that
// counts keys agrees with its verb.
func TestCountsOfOne(t *testing.T) {
	s, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	d := Sample()
	d.Answer.Done = d.Answer.Done[:1]
	d.Skipped = d.Skipped[:1]
	d.Keys = d.Keys[:1]
	for _, n := range Names() {
		txt, err := s.Render(n, d)
		if err != nil {
			t.Fatal(err)
		}
		if m := oneMany.FindString(txt.Subject + "\n" + txt.Body); m != "" {
			t.Errorf("%s: %q:\nSubject: %s\n\n%s", n, m, txt.Subject, txt.Body)
		}
	}
	txt, err := s.Render(KeyExpiry, d)
	if err != nil {
		t.Fatal(err)
	}
	if txt.Subject != "Key report: 1 key needs attention" {
		t.Errorf("key report subject %q", txt.Subject)
	}
}

// TestAnswerDoneCountsWhatItLists: the answer's subject counts the changes
// it lists, not the notes that go with them.
func TestAnswerDoneCountsWhatItLists(t *testing.T) {
	s, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	d := Sample()
	d.Answer.Done = []string{"state new -> confirmed", "credit: Rita Reporter", "comment added to the case"}
	d.Answer.Notes = []string{"note: the reporter's consent to be credited is not recorded yet (/credit consent yes|no)",
		"reporter told (reporter-confirmed), encrypted to the reporter's key"}
	txt, err := s.Render(AnswerDone, d)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(txt.Subject, "Done: 3 changes") {
		t.Errorf("subject %q, want Done: 3 changes", txt.Subject)
	}
	changes, notes, ok := strings.Cut(txt.Body, "\nNotes:\n")
	if !ok {
		t.Fatalf("no Notes: section:\n%s", txt.Body)
	}
	if n := strings.Count(changes, "\n- "); n != 3 {
		t.Errorf("%d changes listed, the subject counts 3:\n%s", n, txt.Body)
	}
	if n := strings.Count(notes, "\n- "); n != 2 || !strings.Contains(notes, "reporter told") {
		t.Errorf("%d notes listed, want 2:\n%s", n, txt.Body)
	}
}

// TestHandoffReasonLabelled: the reason of a hand-off is labelled.
func TestHandoffReasonLabelled(t *testing.T) {
	s, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	d := Sample()
	d.Reason = "accepted the hand-off"
	txt, err := s.Render(HandoffConfirm, d)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(txt.Body, "\nReason: accepted the hand-off\n") {
		t.Errorf("the reason is not labelled:\n%s", txt.Body)
	}
}

// TestRetrospectiveSuggestsClose: the reminder suggests a /close the
// gateway reads as closing the case (a reason, not a state).
func TestRetrospectiveSuggestsClose(t *testing.T) {
	s, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	txt, err := s.Render(Retrospective, Sample())
	if err != nil {
		t.Fatal(err)
	}
	body := strings.Join(strings.Fields(txt.Body), " ")
	for _, bad := range []string{"/close fix-released", "/status closed"} {
		if strings.Contains(body, bad) {
			t.Errorf("the reminder suggests %q:\n%s", bad, txt.Body)
		}
	}
	for _, want := range []string{`"/close REASON"`, `"/close retrospective sent"`, `"/draft retrospective"`} {
		if !strings.Contains(body, want) {
			t.Errorf("the reminder lacks %s:\n%s", want, txt.Body)
		}
	}
}

// TestDecisionFinal: invalid and wontfix are final: the reporter is not
// invited to reply to disagree, but to send new information as a new
// report; opinion, which is not final, asks for nothing of the kind.
func TestDecisionFinal(t *testing.T) {
	s, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	for _, state := range []string{"invalid", "wontfix", "opinion"} {
		d := Sample()
		d.Case.State = state
		d.Reason = "works as documented"
		txt, err := s.Render(Decision, d)
		if err != nil {
			t.Fatal(err)
		}
		body := strings.Join(strings.Fields(txt.Body), " ")
		if strings.Contains(body, "disagree") || strings.Contains(body, "reply to this message") {
			t.Errorf("%s: the decision invites a reply:\n%s", state, txt.Body)
		}
		if !strings.Contains(txt.Body, "\nReason: works as documented\n") {
			t.Errorf("%s: the reason is not labelled:\n%s", state, txt.Body)
		}
		final := strings.Contains(body, "This decision is final") && strings.Contains(body, "as a new message, not as a reply") &&
			strings.Contains(body, "evaluated as a new report")
		if final != (state != "opinion") {
			t.Errorf("%s: final wording %v:\n%s", state, final, txt.Body)
		}
	}
}

// TestCreditWording: a credit is shown only with the reporter's consent,
// and the texts tell a consent not yet given from one declined.
func TestCreditWording(t *testing.T) {
	s, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		credit  string
		consent bool
		answer  string
		want    string
	}{
		{"agreed", "Rita Reporter", true, "yes", "Rita Reporter"},
		{"agreed, bool only", "Rita Reporter", true, "", "Rita Reporter"},
		{"pending", "Rita Reporter", false, "", "(none yet: credit pending the reporter's consent)"},
		{"pending, no name", "", false, "", "(none yet: credit pending the reporter's consent)"},
		{"declined", "Rita Reporter", false, "no", "(none: the reporter declined to be named)"},
		{"agreed, no name", "", true, "yes", "(none yet: the reporter agreed, no name is recorded)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := Sample()
			d.Case.Credit, d.Case.CreditConsent, d.Case.CreditAnswer = tc.credit, tc.consent, tc.answer
			if got := Credit(d.Case); got != tc.want {
				t.Errorf("Credit = %q, want %q", got, tc.want)
			}
			for name, label := range map[string]string{CVERequestPrivate: "Discoverer/credits: ", CVERequestPublic: "Discoverer/credits: ", Impact: "Reporter: "} {
				txt, err := s.Render(name, d)
				if err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(txt.Body, "\n"+label+tc.want+"\n") {
					t.Errorf("%s lacks %q:\n%s", name, label+tc.want, txt.Body)
				}
				if strings.Contains(txt.Body, "(anonymous)") {
					t.Errorf("%s says (anonymous):\n%s", name, txt.Body)
				}
			}
			// The reporter is asked again unless they declined or a
			// credit they agreed to is recorded; the disclosure asks only
			// about a name the team proposes.
			d.Reason = "" // the disclosure as planned, not published at once
			for _, name := range []string{ReporterConfirmed, Disclosure} {
				txt, err := s.Render(name, d)
				if err != nil {
					t.Fatal(err)
				}
				asks := strings.Contains(txt.Body, "Would you like to be credited") || strings.Contains(txt.Body, "We would like to credit you")
				want := tc.answer != "no" && !(tc.consent && tc.credit != "") && (name == ReporterConfirmed || tc.credit != "")
				if asks != want {
					t.Errorf("%s asks for consent: %v:\n%s", name, asks, txt.Body)
				}
				if declined := strings.Contains(txt.Body, "As you asked, the advisory"); declined != (tc.answer == "no") {
					t.Errorf("%s tells the reporter they are not named: %v:\n%s", name, declined, txt.Body)
				}
			}
		})
	}
}
