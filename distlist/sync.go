package distlist

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"slices"
)

// Sync makes the directory match the members and lists of cfg, in one
// transaction: entries that came from the config and are no longer in it are
// removed; entries added from the CLI or by team command are kept. Key files
// are read relative to cfg.BaseDir. It returns warnings to show the operator.
func (d *Directory) Sync(ctx context.Context, cfg Config) ([]string, error) {
	readKey := func(who, path string) ([]byte, error) {
		if path == "" {
			return nil, nil
		}
		if !filepath.IsAbs(path) && cfg.BaseDir != "" {
			path = filepath.Join(cfg.BaseDir, path)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("distlist: sync: key of %s: %w", who, err)
		}
		return b, nil
	}
	var warns []string
	err := d.db.Tx(ctx, func(tx *sql.Tx) error {
		var keep []string
		for _, mc := range cfg.Members {
			key, err := readKey(mc.Address, mc.KeyFile)
			if err != nil {
				return err
			}
			w, err := d.AddMember(ctx, tx, MemberSpec{Name: mc.Name, Address: mc.Address, Role: mc.Role, Rota: mc.Rota,
				Away: mc.Away, TZ: mc.TZ, Key: key, AllowMismatch: mc.AllowMismatch, Source: SourceConfig})
			if err != nil {
				return fmt.Errorf("distlist: sync: %w", err)
			}
			warns = append(warns, w...)
			a, _ := CanonicalAddress(mc.Address)
			keep = append(keep, a)
		}
		if err := deleteMissing(ctx, tx, keep, `SELECT address FROM dir_member WHERE source = 'config'`,
			`DELETE FROM dir_member WHERE address = ?`); err != nil {
			return err
		}
		var lists []string
		for _, lc := range cfg.Lists {
			if err := d.CreateList(ctx, tx, lc.Name, lc.Kind, SourceConfig); err != nil {
				return fmt.Errorf("distlist: sync: %w", err)
			}
			lists = append(lists, lc.Name)
			var rkeep []string
			for _, rc := range lc.Recipients {
				key, err := readKey(rc.Address, rc.KeyFile)
				if err != nil {
					return err
				}
				w, err := d.AddRecipient(ctx, tx, lc.Name, RecipientSpec{Name: rc.Name, Address: rc.Address, Key: key,
					AllowMismatch: rc.AllowMismatch, Source: SourceConfig})
				if err != nil {
					return fmt.Errorf("distlist: sync: %w", err)
				}
				warns = append(warns, w...)
				a, _ := CanonicalAddress(rc.Address)
				rkeep = append(rkeep, a)
			}
			if err := deleteMissing(ctx, tx, rkeep, `SELECT address FROM dir_recipient WHERE source = 'config' AND list = ?1`,
				`DELETE FROM dir_recipient WHERE list = ?1 AND address = ?2`, lc.Name); err != nil {
				return err
			}
		}
		return deleteMissing(ctx, tx, lists, `SELECT name FROM dir_list WHERE source = 'config'`, `DELETE FROM dir_list WHERE name = ?`)
	})
	if err != nil {
		return nil, err
	}
	return warns, nil
}

// deleteMissing deletes (with del) every key listed by sel that is not in
// keep. Both statements get args; del gets the key after them.
func deleteMissing(ctx context.Context, tx *sql.Tx, keep []string, sel, del string, args ...any) error {
	rows, err := tx.QueryContext(ctx, sel, args...)
	if err != nil {
		return fmt.Errorf("distlist: sync: %w", err)
	}
	var gone []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			rows.Close()
			return fmt.Errorf("distlist: sync: %w", err)
		}
		if !slices.Contains(keep, k) {
			gone = append(gone, k)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("distlist: sync: %w", err)
	}
	for _, k := range gone {
		if _, err := tx.ExecContext(ctx, del, append(slices.Clone(args), k)...); err != nil {
			return fmt.Errorf("distlist: sync: remove %s: %w", k, err)
		}
	}
	return nil
}
