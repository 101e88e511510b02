package cases

import (
	"context"
	"database/sql"
	"regexp"
	"slices"
	"strings"

	"github.com/secgate/secgate/distlist"
	"github.com/secgate/secgate/templates"
)

// DraftOptions is what the workflow adds to the data of a /draft text.
type DraftOptions struct {
	Actor         templates.Person            // the member who asked
	Retrospective templates.RetrospectiveData // the case's own history
}

// draftTemplate is the template /draft NAME renders: NAME, except for the
// retrospective, whose template of that name is the lead's reminder.
func draftTemplate(name string) string {
	if name == templates.Retrospective {
		return templates.RetroDraft
	}
	return name
}

// retroSkipped are the audit actions a retrospective leaves out: the
// team's discussion, the gateway's own bookkeeping, refused mail, and what
// could name the reporter against their wish (credit follows consent).
var retroSkipped = []string{"message", "comment", "alert", ActionRefused, ActionReplay, "team-note", "reporter-skipped",
	"reporter-key", "retrospective-reminder", "credit", "terms", "draft", "log", "help"}

var (
	fingerprintRE = regexp.MustCompile(`\b[0-9A-F]{40}\b`)
	addressRE     = regexp.MustCompile(`(\s*<)?[^\s<>(),;:"]+@[^\s<>(),;:"]+\.[A-Za-z]{2,}>?`)
)

// retrospective is c's history read from its audit log, in words fit for
// the project's public list: people by name, the reporter by their credit
// only if they agreed to it, and no address or key anywhere.
func retrospective(ctx context.Context, tx *sql.Tx, c *Case, team []distlist.Member) (templates.RetrospectiveData, error) {
	evs, err := auditLog(ctx, tx, c.ID)
	if err != nil {
		return templates.RetrospectiveData{}, err
	}
	reporter := "the reporter"
	if c.CreditConsent == ConsentYes && c.Credit != "" {
		reporter = c.Credit
	}
	names := map[string]string{} // fingerprint or address -> name
	for _, m := range team {
		names[m.Fingerprint] = m.Name
		names[strings.ToLower(m.Address)] = m.Name
	}
	if c.ReporterAddr != "" {
		names[strings.ToLower(c.ReporterAddr)] = reporter
	}
	who := func(actor string) string {
		switch {
		case actor == ActorGateway:
			return "secgate"
		case strings.HasPrefix(actor, "reporter:"):
			return reporter
		case strings.HasPrefix(actor, ActorSender):
			return "someone outside the team"
		case names[actor] != "":
			return names[actor]
		}
		return "a former member"
	}
	scrub := func(s string) string {
		s = fingerprintRE.ReplaceAllStringFunc(s, func(f string) string {
			if n, ok := names[f]; ok {
				return n
			}
			return "[key]"
		})
		return addressRE.ReplaceAllStringFunc(s, func(a string) string {
			if strings.HasSuffix(a, ">") {
				return "" // "Name <address>": the name stays
			}
			if n, ok := names[strings.ToLower(a)]; ok {
				return n
			}
			return "[address]"
		})
	}

	var r templates.RetrospectiveData
	person := func(p string) {
		if !slices.Contains(r.People, p) {
			r.People = append(r.People, p)
		}
	}
	if c.Lead != "" {
		person(who(c.Lead) + " (fix lead)")
	}
	for _, f := range c.Team {
		if f != c.Lead {
			person(who(f) + " (fix team)")
		}
	}
	for _, e := range evs {
		if slices.Contains(retroSkipped, e.Action) {
			continue
		}
		what := scrub(e.Detail)
		if what == "" {
			what = e.Action
		}
		w := who(e.Actor)
		if e.Actor != ActorGateway && !strings.HasPrefix(e.Actor, "reporter:") && !strings.HasPrefix(e.Actor, ActorSender) && !slices.ContainsFunc(r.People, func(p string) bool { return strings.HasPrefix(p, w+" (") }) {
			person(w)
		}
		r.Timeline = append(r.Timeline, templates.TimelineLine{At: e.At, Who: w, What: what})
	}
	if reporter == "the reporter" {
		person("the reporter (not named without their consent)")
	} else {
		person(reporter + " (reporter)")
	}
	return r, nil
}
