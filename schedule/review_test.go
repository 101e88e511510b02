package schedule

import (
	"strings"
	"testing"

	"github.com/secgate/secgate/cases"
)

// TestImpactReview: under kata (impact_review) the reporter gets the
// impact description to review when the case is triaged, encrypted to
// their key; with no key on file it is not sent and the lead is told;
// under knative nothing is sent.
func TestImpactReview(t *testing.T) {
	const impact = "An unauthenticated attacker can write files anywhere."
	for _, tc := range []struct {
		name, policy string
		key, want    bool
	}{
		{"kata, key on file", "kata", true, true},
		{"kata, no key", "kata", false, false},
		{"knative", "knative", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newWorkflowEnv(t, utc("2026-11-20 10:00"))
			rita := e.key("rita@reporter.example")
			key := ""
			if tc.key {
				key = string(e.armor(rita))
			}
			c := e.open("<r1@reporter.example>", "upload traversal", "POST /upload with ../ writes anywhere", tc.policy, key)
			e.command(c, "/status confirmed\n/affected < 1.2.3\n/fixed 1.2.3\n/impact\n"+impact+"\n")
			before := e.reporterMails()
			e.command(c, "/status triaged")
			after := e.reporterMails()
			var review []string
			if tc.key {
				for _, m := range e.mailTo("rita@reporter.example", cases.MailReporter, rita) {
					if strings.Contains(m, "Please review") || strings.Contains(m, impact) {
						review = append(review, m)
					}
				}
			}
			switch {
			case tc.want && (len(review) != 1 || !strings.Contains(review[0], impact) || !strings.Contains(review[0], "< 1.2.3")):
				t.Errorf("the reporter's review mail %q, want one with the impact description and versions", review)
			case !tc.want && after != before:
				t.Errorf("%d mails to the reporter at triage, want none", after-before)
			}
			var clear int
			e.db.Reader().QueryRow(`SELECT count(*) FROM outbox o JOIN outbox_message m ON m.outbox_id = o.id
				WHERE o.recipient = 'rita@reporter.example' AND instr(m.raw, ?) > 0`, "write files anywhere").Scan(&clear)
			if clear != 0 {
				t.Errorf("%d mails carry the impact description in clear", clear)
			}
			a := e.answers()
			last := a[len(a)-1]
			if tc.policy == "kata" && !tc.key && !strings.Contains(last, "NOT sent to the reporter to review") {
				t.Errorf("the lead is not told the review was not sent: %q", last)
			}
		})
	}
}

// reporterMails counts the mail queued for the reporter.
func (e *workflowEnv) reporterMails() int {
	var n int
	e.db.Reader().QueryRow(`SELECT count(*) FROM outbox WHERE recipient = 'rita@reporter.example'`).Scan(&n)
	return n
}
