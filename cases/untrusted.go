package cases

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"fmt"
	"strings"
)

// Untrusted lines: the gateway remembers every line that starts with "/"
// in text it sent to the team as someone else's words (a report, a
// follow-up, a distributor's reply, text found outside an encrypted part).
// Such a line never runs as a command in that case, however it reaches a
// member's signed reply: quoted by a client that strips the "| " prefix,
// or pasted. A member who means the same command writes it themselves
// (the comparison is exact, so other spacing or case is their own line).

// untrustedHash is the key of a line: its text with the blanks around it
// (and the "| " prefix the team copy adds) trimmed.
func untrustedHash(line string) []byte {
	h := sha256.Sum256([]byte(strings.TrimSpace(line)))
	return h[:]
}

// RecordUntrusted remembers the command-like lines of texts as untrusted
// in case caseID; GatewayLog: outside any case (an application), and then
// they never run in any mail.
func (w *Workflow) RecordUntrusted(ctx context.Context, tx *sql.Tx, caseID int64, texts ...string) error {
	q, args := `INSERT INTO case_untrusted_line (case_id, line_hash) VALUES (?, ?) ON CONFLICT DO NOTHING`, []any{caseID}
	if caseID == GatewayLog {
		q, args = `INSERT INTO gateway_untrusted_line (line_hash) VALUES (?) ON CONFLICT DO NOTHING`, nil
	}
	for _, text := range texts {
		for _, l := range strings.Split(text, "\n") {
			if !strings.HasPrefix(strings.TrimSpace(l), "/") {
				continue
			}
			if _, err := tx.ExecContext(ctx, q, append(args, untrustedHash(l))...); err != nil {
				return fmt.Errorf("cases: record untrusted line: %w", err)
			}
		}
	}
	return nil
}

// untrustedCommand returns the first command of cmds that is a line the
// gateway sent as untrusted text in case caseID (in any case when caseID
// is 0: a command that needs no case), or outside any case.
func untrustedCommand(ctx context.Context, tx *sql.Tx, caseID int64, cmds []Command) (*Command, error) {
	for i, c := range cmds {
		q, args := `SELECT 1 FROM case_untrusted_line WHERE case_id = ?1 AND line_hash = ?2
			UNION ALL SELECT 1 FROM gateway_untrusted_line WHERE line_hash = ?2 LIMIT 1`, []any{caseID, untrustedHash(c.Raw)}
		if caseID == 0 {
			q, args = `SELECT 1 FROM case_untrusted_line WHERE line_hash = ?1
				UNION ALL SELECT 1 FROM archived_untrusted_line WHERE line_hash = ?1
				UNION ALL SELECT 1 FROM gateway_untrusted_line WHERE line_hash = ?1 LIMIT 1`, args[1:]
		}
		var one int
		err := tx.QueryRowContext(ctx, q, args...).Scan(&one)
		if err == sql.ErrNoRows {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("cases: untrusted line lookup: %w", err)
		}
		return &cmds[i], nil
	}
	return nil, nil
}
