package cases

import (
	"context"
	"database/sql"
	"fmt"
)

// UpdateCase changes a case inside tx on behalf of actor (a fingerprint, or
// "gateway" for the scheduler): fn edits the loaded case, the result is
// saved and one audit event (action, detail, source Message-ID) written
// (detail "" records the state change). A
// state change made by fn must be allowed by the lifecycle; the reporter is
// told on incomplete, invalid, wontfix and opinion as with /status.
func (w *Workflow) UpdateCase(ctx context.Context, tx *sql.Tx, caseID int64, actor, action, detail, source string, fn func(*Case) error) error {
	return w.updateCase(ctx, tx, caseID, actor, action, detail, source, fn, "")
}

func (w *Workflow) updateCase(ctx context.Context, tx *sql.Tx, caseID int64, actor, action, detail, source string, fn func(*Case) error, why string) error {
	c, err := w.loadCase(ctx, tx, "id = ?", caseID)
	if err != nil {
		return err
	}
	from := c.State
	if err := fn(c); err != nil {
		return err
	}
	team, err := w.dir.Team(ctx)
	if err != nil {
		return fmt.Errorf("cases: update %s: %w", c.Ref, err)
	}
	s := &session{w: w, tx: tx, team: team, mail: CommandMail{MessageID: source}, now: w.now(), actor: actor, c: c}
	if c.State != from {
		to := c.State
		c.State = from
		if err := s.setState(ctx, to, c.CloseReason); err != nil {
			return fmt.Errorf("cases: update %s: %w", c.Ref, err)
		}
	}
	if detail == "" {
		detail = fmt.Sprintf("state %s -> %s", from, c.State)
		if why != "" {
			detail += ": " + why
		}
	}
	c.Updated = s.now
	if err := w.saveCase(ctx, tx, c); err != nil {
		return err
	}
	if err := w.Audit(ctx, tx, c.ID, actor, action, detail, source); err != nil {
		return err
	}
	for _, f := range s.after {
		if err := f(); err != nil {
			return fmt.Errorf("cases: update %s: %w", c.Ref, err)
		}
	}
	return nil
}

// SetState moves a case to state to inside tx with the rules of /status,
// on behalf of actor (the scheduler: fix-committed once the embargo notice
// is out, fix-released once the announcement is). detail is added to the
// audit event.
func (w *Workflow) SetState(ctx context.Context, tx *sql.Tx, caseID int64, to State, actor, detail string) error {
	return w.updateCase(ctx, tx, caseID, actor, "status", "", "", func(c *Case) error {
		c.State = to
		return nil
	}, detail)
}
