package distlist

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// DefaultCriteria are what an applicant to an embargo list is asked to
// show when the list names no criteria of its own: the Kubernetes private
// distributors list's, which the KubeEdge and Kata processes follow.
var DefaultCriteria = []string{
	"Which distribution or product: an actively maintained distribution of the project, not a rebuild of another one on the list",
	"User base: who uses it, beyond your own organisation",
	"Track record: a publicly verifiable record of fixing security issues in it",
	"Acceptance of the embargo policy: nothing is shared beyond the people who need it, and nothing is published before the disclosure date",
	"OpenPGP: you read mail encrypted to your key and keep the secret key safe",
}

// ApplicationRules say whether a list takes applications by mail and what
// an applicant is asked to show.
type ApplicationRules struct {
	Kind     string // the list's kind: only embargo lists take applications
	Open     bool   // the list takes applications (applications = true)
	Criteria []string
}

// checkApplications refuses applications on a list that is not an
// embargo list, and empty criteria.
func (l ListConfig) checkApplications() error {
	if l.Applications && l.Kind != KindEmbargo {
		return fmt.Errorf("applications = true on a %s list: only embargo lists take applications", l.Kind)
	}
	for i, c := range l.Criteria {
		if strings.TrimSpace(c) == "" {
			return fmt.Errorf("criteria item %d is empty", i+1)
		}
	}
	return nil
}

// SetApplications records whether list name takes applications by mail
// and its criteria (none: DefaultCriteria). Only an embargo list may take
// them. tx may be nil.
func (d *Directory) SetApplications(ctx context.Context, tx *sql.Tx, name string, open bool, criteria []string) error {
	crit := ""
	if len(criteria) > 0 {
		b, err := json.Marshal(criteria)
		if err != nil {
			return err
		}
		crit = string(b)
	}
	return d.write(ctx, tx, func(tx *sql.Tx) error {
		var kind string
		if err := tx.QueryRowContext(ctx, `SELECT kind FROM dir_list WHERE name = ?`, name).Scan(&kind); errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("distlist: list %q: %w", name, ErrNotFound)
		} else if err != nil {
			return fmt.Errorf("distlist: list %q: %w", name, err)
		}
		if open && kind != KindEmbargo {
			return fmt.Errorf("distlist: list %q is a %s list: only embargo lists take applications", name, kind)
		}
		_, err := tx.ExecContext(ctx, `UPDATE dir_list SET applications = ?, criteria = ? WHERE name = ?`, boolInt(open), crit, name)
		if err != nil {
			return fmt.Errorf("distlist: list %q: applications: %w", name, err)
		}
		return nil
	})
}

// Applications returns the application rules of list name, read through
// tx (nil: the read pool), or ErrNotFound.
func (d *Directory) Applications(ctx context.Context, tx *sql.Tx, name string) (ApplicationRules, error) {
	q := d.reader(tx)
	var r ApplicationRules
	var open int64
	var crit string
	err := q.QueryRowContext(ctx, `SELECT kind, applications, criteria FROM dir_list WHERE name = ?`, name).Scan(&r.Kind, &open, &crit)
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("distlist: list %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return r, fmt.Errorf("distlist: list %q: %w", name, err)
	}
	r.Open = open != 0 && r.Kind == KindEmbargo
	if crit != "" {
		if err := json.Unmarshal([]byte(crit), &r.Criteria); err != nil {
			return r, fmt.Errorf("distlist: list %q: criteria: %w", name, err)
		}
	}
	if len(r.Criteria) == 0 {
		r.Criteria = DefaultCriteria
	}
	return r, nil
}

// KindForMessageID returns the kind of the outbox row whose Message-ID is
// msgid (with or without <>): what a reply answers.
func (o *Outbox) KindForMessageID(ctx context.Context, msgid string) (string, bool, error) {
	id := strings.Trim(strings.TrimSpace(msgid), "<>")
	if !isMessageID(id) {
		return "", false, nil
	}
	var kind string
	err := o.db.Reader().QueryRowContext(ctx, `SELECT kind FROM outbox WHERE message_id = ?`, id).Scan(&kind)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("distlist: kind for message-id: %w", err)
	}
	return kind, true, nil
}
