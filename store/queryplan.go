package store

import (
	"context"
	"fmt"
	"strings"
)

// QueryPlan returns SQLite's plan for query (EXPLAIN QUERY PLAN), one
// step a line joined by "; ", for tests that check that a statement run
// for every message searches an index rather than scanning what grows.
// args are bound as given (their values do not change the plan).
func QueryPlan(ctx context.Context, q Querier, query string, args ...any) (string, error) {
	rows, err := q.QueryContext(ctx, "EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		return "", fmt.Errorf("store: query plan: %w", err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			return "", fmt.Errorf("store: query plan: %w", err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		return "", fmt.Errorf("store: query plan: %w", err)
	}
	return strings.Join(plan, "; "), nil
}
