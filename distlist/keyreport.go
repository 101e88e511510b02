package distlist

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/secgate/secgate/crypto"
	"github.com/secgate/secgate/store"
	"github.com/secgate/secgate/templates"
)

// KeyReport returns the weekly key report for the team: keys in use (and
// the team key, when given) that are unusable now or expire within within
// (30 days when zero), and addresses flagged for repeated bounces. It
// returns "" when there is nothing to report.
func (d *Directory) KeyReport(ctx context.Context, within time.Duration, team *crypto.Key, refreshed []Refresh) (string, error) {
	if within <= 0 {
		within = 30 * 24 * time.Hour
	}
	now := d.clock.Now()
	ks, err := d.CheckKeys(ctx, time.Time{})
	if err != nil {
		return "", err
	}
	if team != nil {
		ki := KeyInfo{Fingerprint: team.Fingerprint()}
		if exp, ok := team.Expires(); ok {
			ki.Expires = exp
		}
		ks = append([]KeyStatus{{KeyInfo: ki, Holders: []string{"the team key"}, Err: team.Check(now)}}, ks...)
	}
	var bad, soon []string
	for _, k := range ks {
		holders := strings.Join(k.Holders, ", ")
		switch {
		case k.Err != nil:
			bad = append(bad, fmt.Sprintf("  %s (%s): %v", k.Fingerprint, holders, k.Err))
		case !k.Expires.IsZero() && k.Expires.Before(now.Add(within)):
			days := int(k.Expires.Sub(now).Hours() / 24)
			soon = append(soon, fmt.Sprintf("  %s (%s): expires %s, in %s", k.Fingerprint, holders,
				k.Expires.UTC().Format("2006-01-02 15:04 UTC"), templates.Count(days, "day")))
		}
	}
	flags, err := d.Flagged(ctx)
	if err != nil {
		return "", err
	}
	rs := RefreshReport(refreshed)
	if len(bad)+len(soon)+len(flags) == 0 && rs == "" {
		return "", nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Key report of %s\n", now.UTC().Format("2006-01-02"))
	if len(bad) > 0 {
		b.WriteString("\nKeys that cannot be used now (these recipients get nothing encrypted):\n")
		b.WriteString(strings.Join(bad, "\n") + "\n")
	}
	if len(soon) > 0 {
		fmt.Fprintf(&b, "\nKeys that expire within %s (ask the holders for an updated key):\n", templates.Count(int(within.Hours()/24), "day"))
		b.WriteString(strings.Join(soon, "\n") + "\n")
	}
	if len(flags) > 0 {
		b.WriteString("\nAddresses that bounced repeatedly:\n")
		for _, f := range flags {
			fmt.Fprintf(&b, "  %s: %s, last %s: %s\n", f.Address, templates.Count(f.HardBounce, "hard bounce"), f.Last.UTC().Format("2006-01-02"), f.LastReason)
		}
	}
	b.WriteString(rs)
	return b.String(), nil
}

// ReportWeek is the ISO week of t (UTC), as key reports are kept: 2026-W49.
func ReportWeek(t time.Time) string {
	y, w := t.UTC().ISOWeek()
	return fmt.Sprintf("%d-W%02d", y, w)
}

// KeyReportMade reports whether the key report of week was made.
func (d *Directory) KeyReportMade(ctx context.Context, week string) (bool, error) {
	var made int64
	err := d.db.Reader().QueryRowContext(ctx, `SELECT made FROM key_report WHERE week = ?`, week).Scan(&made)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("distlist: key report %s: %w", week, err)
	}
	return true, nil
}

// MarkKeyReport records inside tx that the key report of week was made,
// and whether it is mailed; it reports false when it was made already (the
// caller then sends nothing).
func (d *Directory) MarkKeyReport(ctx context.Context, tx *sql.Tx, week string, mailed bool) (bool, error) {
	m := 0
	if mailed {
		m = 1
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO key_report (week, made, mailed) VALUES (?, ?, ?) ON CONFLICT (week) DO NOTHING`,
		week, store.Millis(d.clock.Now()), m)
	if err != nil {
		return false, fmt.Errorf("distlist: key report %s: %w", week, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}
