package schedule

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"github.com/secgate/secgate/cases"
	"github.com/secgate/secgate/store"
	"github.com/secgate/secgate/templates"
)

// stateRank orders the lifecycle states; side exits rank after everything.
func stateRank(s cases.State) int {
	if i := slices.Index(cases.States, s); i >= 0 {
		switch s {
		case cases.StateOpinion, cases.StateWontfix, cases.StateInvalid:
			return len(cases.States)
		}
		return i
	}
	return -1
}

// CheckSLA reminds the lead of every open case whose evaluation or fix
// deadline is near (within the policy's reminder lead) or missed. Each
// reminder is sent once. It returns how many were sent.
func (s *Scheduler) CheckSLA(ctx context.Context) (int, error) {
	cs, err := s.casesOrErr()
	if err != nil {
		return 0, err
	}
	// Metadata only: a case's sealed fields are read in the transaction
	// of its reminder, if one is due.
	open, err := cs.List(ctx, cases.ListOptions{Open: true, Sealed: true})
	if err != nil {
		return 0, err
	}
	team, err := s.dir.Team(ctx)
	if err != nil {
		return 0, err
	}
	now := s.now()
	sent := 0
	for _, c := range open {
		if c.Received.IsZero() {
			continue
		}
		pol, err := s.Policy(c.Policy)
		if err != nil {
			pol, _ = s.Policy("")
		}
		type deadline struct {
			name, what string
			due        time.Time
			done       bool
		}
		var dls []deadline
		if pol.EvaluationDeadline > 0 {
			dls = append(dls, deadline{"evaluate", "evaluate the report", c.Received.Add(pol.EvaluationDeadline),
				stateRank(c.State) >= stateRank(cases.StateConfirmed)})
		}
		if pol.FixDeadline > 0 {
			doneState := cases.State(pol.FixDoneState)
			if doneState == "" {
				doneState = cases.StateFixCommitted
			}
			dls = append(dls, deadline{"fix", pol.fixWhat(), c.Received.Add(pol.FixDeadline),
				stateRank(c.State) >= stateRank(doneState)})
		}
		if name, what, due, ok, err := s.consentDeadline(ctx, c, pol); err != nil {
			return sent, err
		} else if ok {
			// A plan that waits for the reporter's consent: the lead
			// is reminded before the embargo notice must go out.
			dls = append(dls, deadline{name, what, due, false})
		}
		for _, dl := range dls {
			if dl.done {
				continue
			}
			stage := ""
			switch {
			case !now.Before(dl.due):
				stage = "missed"
			case pol.ReminderLead > 0 && !now.Before(dl.due.Add(-pol.ReminderLead)):
				stage = "soon"
			}
			if stage == "" {
				continue
			}
			err := s.db.Tx(ctx, func(tx *sql.Tx) error {
				res, err := tx.ExecContext(ctx, `INSERT INTO schedule_sla (case_id, deadline, stage, due, sent)
					VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`, c.ID, dl.name, stage, store.Millis(dl.due), store.Millis(now))
				if err != nil {
					return err
				}
				if n, _ := res.RowsAffected(); n == 0 {
					return errAlreadySent
				}
				c, err := cs.GetTx(ctx, tx, c.ID)
				if err != nil {
					return err
				}
				d := s.data(c, team, nil, now)
				d.Reminder = templates.ReminderData{What: dl.what, Due: dl.due, Overdue: stage == "missed"}
				if _, _, err := s.send(ctx, tx, cs, c, MailReminder, fmt.Sprintf("%s-sla-%s-%s", c.Ref, dl.name, stage),
					templates.SLAReminder, d, "", leadRecipients(team, c), true, now); err != nil {
					return err
				}
				return cs.Audit(ctx, tx, c.ID, cases.ActorGateway, "sla-reminder",
					fmt.Sprintf("%s deadline %s: %s", dl.name, stage, dl.due.Format(layoutUTC)), "")
			})
			switch {
			case err == errAlreadySent:
			case err != nil:
				return sent, fmt.Errorf("schedule: SLA reminder for %s: %w", c.Ref, err)
			default:
				sent++
			}
		}
	}
	if sent > 0 {
		s.kickOutbox()
	}
	return sent, nil
}

var errAlreadySent = fmt.Errorf("already sent")
