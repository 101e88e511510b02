package cases

import (
	"context"
	"database/sql"
	"strings"

	"github.com/secgate/secgate/store"
)

// list reads the cases opts chooses, newest first, and their teams, in
// one read transaction: the states are chosen by SQL (the index
// cases_state), and the teams come in one query, not one a case.
func (w *Workflow) list(ctx context.Context, opts ListOptions) ([]*Case, error) {
	where, args := listWhere(opts)
	tx, err := w.db.Reader().BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	cols := caseCols
	if opts.Sealed {
		cols = strings.NewReplacer("impact_enc", "NULL", "terms_enc", "NULL", "details_enc", "NULL").Replace(caseCols)
	}
	scan := w.scanCase
	if opts.Brief {
		cols, scan = briefCols, scanBrief
	}
	rows, err := tx.QueryContext(ctx, `SELECT `+cols+` FROM cases`+where+` ORDER BY id DESC`, args...)
	if err != nil {
		return nil, err
	}
	var out []*Case
	byID := map[int64]*Case{}
	for rows.Next() {
		c, err := scan(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, c)
		byID[c.ID] = c
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 || opts.Brief {
		return out, nil
	}
	rows, err = tx.QueryContext(ctx, `SELECT t.case_id, t.fingerprint FROM case_team t
		WHERE t.case_id IN (SELECT id FROM cases`+where+`) ORDER BY t.case_id, t.added, t.fingerprint`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var fpr string
		if err := rows.Scan(&id, &fpr); err != nil {
			return nil, err
		}
		if c := byID[id]; c != nil {
			c.Team = append(c.Team, fpr)
		}
	}
	return out, rows.Err()
}

// briefCols are the columns of a brief list (ListOptions.Brief).
const briefCols = `id, ref, state, severity, cvss_score, cve, lead, received, disclose_at`

func scanBrief(sc interface{ Scan(...any) error }) (*Case, error) {
	var c Case
	var state string
	var received, discloseAt int64
	if err := sc.Scan(&c.ID, &c.Ref, &state, &c.Severity, &c.CVSSScore, &c.CVE, &c.Lead, &received, &discloseAt); err != nil {
		return nil, err
	}
	c.State = State(state)
	c.Received, c.DiscloseAt = store.Time(received), store.Time(discloseAt)
	return &c, nil
}

// listWhere is the WHERE clause (with its leading space, or empty) and
// arguments that choose the cases of opts.
func listWhere(opts ListOptions) (string, []any) {
	var conds []string
	var args []any
	in := func(not bool, ss []State) {
		marks := strings.TrimSuffix(strings.Repeat("?, ", len(ss)), ", ")
		op := " IN ("
		if not {
			op = " NOT IN ("
		}
		conds = append(conds, "state"+op+marks+")")
		for _, s := range ss {
			args = append(args, string(s))
		}
	}
	if len(opts.States) > 0 {
		in(false, opts.States)
	}
	if opts.Open {
		var ended []State
		for _, s := range States {
			if terminal(s) {
				ended = append(ended, s)
			}
		}
		in(true, ended)
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}
