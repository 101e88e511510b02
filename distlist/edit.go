package distlist

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/secgate/secgate/crypto"
	"github.com/secgate/secgate/store"
)

// Sources of directory entries. Sync replaces only entries from the config.
const (
	SourceConfig  = "config"
	SourceCLI     = "cli"
	SourceCommand = "command"
)

// MemberSpec describes a member to add or update.
type MemberSpec struct {
	Name          string
	Address       string
	Role          string // RoleMember (default) or RoleLead
	Rota          int
	Away          bool
	TZ            string // IANA zone, default UTC
	Key           []byte // armored public key
	AllowMismatch bool   // accept a key without the address among its user IDs
	Source        string // SourceCLI (default), SourceConfig or SourceCommand
}

// RecipientSpec describes a list entry or case extra to add or update.
type RecipientSpec struct {
	Name          string
	Address       string
	Key           []byte // armored public key; required on encrypted lists
	AllowMismatch bool
	Source        string // SourceCLI (default), SourceConfig or SourceCommand
}

// write runs fn in tx, or in a transaction of its own when tx is nil.
func (d *Directory) write(ctx context.Context, tx *sql.Tx, fn func(*sql.Tx) error) error {
	if tx != nil {
		return fn(tx)
	}
	return d.db.Tx(ctx, fn)
}

func source(s string) string {
	if s == "" {
		return SourceCLI
	}
	return s
}

// AddMember adds a team member or updates the member with that address. The
// key must be a public key whose user IDs include the address (unless
// AllowMismatch). A key that cannot be encrypted to now (expired, revoked,
// without a usable encryption subkey) is recorded with a warning, so that
// it can be renewed later: the member gets nothing encrypted meanwhile. It
// returns warnings to show. tx may be nil.
func (d *Directory) AddMember(ctx context.Context, tx *sql.Tx, m MemberSpec) ([]string, error) {
	addr, err := CanonicalAddress(m.Address)
	if err != nil {
		return nil, err
	}
	if m.Role == "" {
		m.Role = RoleMember
	}
	if m.Role != RoleMember && m.Role != RoleLead {
		return nil, fmt.Errorf("distlist: member %s: role %q: want member or lead", addr, m.Role)
	}
	if m.TZ == "" {
		m.TZ = "UTC"
	}
	if _, err := time.LoadLocation(m.TZ); err != nil {
		return nil, fmt.Errorf("distlist: member %s: time zone %q: %w", addr, m.TZ, err)
	}
	k, warns, err := d.CheckKey(m.Key, ImportOptions{Address: addr, AllowMismatch: m.AllowMismatch})
	if err != nil {
		return nil, fmt.Errorf("distlist: member %s: %w", addr, err)
	}
	err = d.write(ctx, tx, func(tx *sql.Tx) error {
		if _, err := storeKey(ctx, tx, k, d.clock.Now(), true); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO dir_member (address, name, fingerprint, role, rota, away, tz, source)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (address) DO UPDATE SET name = excluded.name,
			fingerprint = excluded.fingerprint, role = excluded.role, rota = excluded.rota, away = excluded.away,
			tz = excluded.tz, source = excluded.source`,
			addr, headerSafe(m.Name), k.Fingerprint(), m.Role, m.Rota, boolInt(m.Away), m.TZ, source(m.Source))
		if err != nil {
			return fmt.Errorf("distlist: add member %s: %w", addr, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	d.log.Info("team member saved", "address", addr, "fingerprint", k.Fingerprint(), "role", m.Role)
	return warns, nil
}

// RemoveMember removes the member with address addr. tx may be nil.
func (d *Directory) RemoveMember(ctx context.Context, tx *sql.Tx, addr string) error {
	a, err := CanonicalAddress(addr)
	if err != nil {
		return err
	}
	return d.write(ctx, tx, func(tx *sql.Tx) error {
		return affected1(tx.ExecContext(ctx, `DELETE FROM dir_member WHERE address = ?`, a))("remove member "+a, ErrNotFound)
	})
}

// SetAway sets or clears the away flag of a member. tx may be nil.
func (d *Directory) SetAway(ctx context.Context, tx *sql.Tx, addr string, away bool) error {
	a, err := CanonicalAddress(addr)
	if err != nil {
		return err
	}
	return d.write(ctx, tx, func(tx *sql.Tx) error {
		return affected1(tx.ExecContext(ctx, `UPDATE dir_member SET away = ? WHERE address = ?`, boolInt(away), a))("set away "+a, ErrNotFound)
	})
}

// CreateList creates a list of kind (team and embargo lists are encrypted,
// public lists are signed only); an existing list keeps its entries. tx may
// be nil.
func (d *Directory) CreateList(ctx context.Context, tx *sql.Tx, name, kind, src string) error {
	enc, err := kindEncrypts(kind)
	if err != nil {
		return fmt.Errorf("distlist: create list %q: %w", name, err)
	}
	if name == "" {
		return fmt.Errorf("distlist: create list: empty name")
	}
	return d.write(ctx, tx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO dir_list (name, kind, encrypt, source) VALUES (?, ?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET kind = excluded.kind, encrypt = excluded.encrypt`, name, kind, boolInt(enc), source(src))
		if err != nil {
			return fmt.Errorf("distlist: create list %q: %w", name, err)
		}
		return nil
	})
}

// DeleteList deletes a list and its entries. tx may be nil.
func (d *Directory) DeleteList(ctx context.Context, tx *sql.Tx, name string) error {
	return d.write(ctx, tx, func(tx *sql.Tx) error {
		return affected1(tx.ExecContext(ctx, `DELETE FROM dir_list WHERE name = ?`, name))("delete list "+name, ErrNotFound)
	})
}

// AddRecipient adds an entry to a list or updates it. On encrypted lists a
// key is required; one that cannot be encrypted to now (expired, revoked,
// without a usable encryption subkey) is recorded with a warning, as by
// AddMember. tx may be nil.
func (d *Directory) AddRecipient(ctx context.Context, tx *sql.Tx, list string, r RecipientSpec) ([]string, error) {
	addr, err := CanonicalAddress(r.Address)
	if err != nil {
		return nil, err
	}
	var warns []string
	err = d.write(ctx, tx, func(tx *sql.Tx) error {
		var enc int64
		if err := tx.QueryRowContext(ctx, `SELECT encrypt FROM dir_list WHERE name = ?`, list).Scan(&enc); err == sql.ErrNoRows {
			return fmt.Errorf("distlist: list %q: %w", list, ErrNotFound)
		} else if err != nil {
			return fmt.Errorf("distlist: list %q: %w", list, err)
		}
		var fpr any
		if len(r.Key) > 0 {
			k, w, err := d.CheckKey(r.Key, ImportOptions{Address: addr, AllowMismatch: r.AllowMismatch})
			if err != nil {
				return fmt.Errorf("distlist: list %q: %s: %w", list, addr, err)
			}
			warns = w
			if _, err := storeKey(ctx, tx, k, d.clock.Now(), true); err != nil {
				return err
			}
			fpr = k.Fingerprint()
		} else if enc != 0 {
			return fmt.Errorf("distlist: list %q is encrypted: %s: %w", list, addr, ErrNoKey)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO dir_recipient (list, address, name, fingerprint, source) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (list, address) DO UPDATE SET name = excluded.name, fingerprint = excluded.fingerprint, source = excluded.source`,
			list, addr, headerSafe(r.Name), fpr, source(r.Source))
		if err != nil {
			return fmt.Errorf("distlist: list %q: add %s: %w", list, addr, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return warns, nil
}

// RemoveRecipient removes an entry from a list. tx may be nil.
func (d *Directory) RemoveRecipient(ctx context.Context, tx *sql.Tx, list, addr string) error {
	a, err := CanonicalAddress(addr)
	if err != nil {
		return err
	}
	return d.write(ctx, tx, func(tx *sql.Tx) error {
		return affected1(tx.ExecContext(ctx, `DELETE FROM dir_recipient WHERE list = ? AND address = ?`, list, a))("remove "+a+" from "+list, ErrNotFound)
	})
}

// AddCaseExtra adds a per-case recipient (role "reporter" or "expert"); the
// key is optional (a reporter who wrote in clear has none). tx may be nil.
func (d *Directory) AddCaseExtra(ctx context.Context, tx *sql.Tx, caseID int64, role string, r RecipientSpec) ([]string, error) {
	addr, err := CanonicalAddress(r.Address)
	if err != nil {
		return nil, err
	}
	if role != "reporter" && role != "expert" {
		return nil, fmt.Errorf("distlist: case %d extra %s: role %q: want reporter or expert", caseID, addr, role)
	}
	var k *crypto.Key
	var warns []string
	if len(r.Key) > 0 {
		if k, warns, err = d.CheckKey(r.Key, ImportOptions{Address: addr, AllowMismatch: r.AllowMismatch, ForEncryption: true}); err != nil {
			return nil, fmt.Errorf("distlist: case %d extra %s: %w", caseID, addr, err)
		}
	}
	err = d.write(ctx, tx, func(tx *sql.Tx) error {
		var fpr any
		if k != nil {
			if _, err := storeKey(ctx, tx, k, d.clock.Now(), true); err != nil {
				return err
			}
			fpr = k.Fingerprint()
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO dir_case_extra (case_id, address, name, role, fingerprint, added) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (case_id, address) DO UPDATE SET name = excluded.name, role = excluded.role, fingerprint = excluded.fingerprint`,
			caseID, addr, headerSafe(r.Name), role, fpr, store.Millis(d.clock.Now()))
		if err != nil {
			return fmt.Errorf("distlist: case %d extra %s: %w", caseID, addr, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return warns, nil
}

// RemoveCaseExtra removes a per-case recipient. tx may be nil.
func (d *Directory) RemoveCaseExtra(ctx context.Context, tx *sql.Tx, caseID int64, addr string) error {
	a, err := CanonicalAddress(addr)
	if err != nil {
		return err
	}
	return d.write(ctx, tx, func(tx *sql.Tx) error {
		return affected1(tx.ExecContext(ctx, `DELETE FROM dir_case_extra WHERE case_id = ? AND address = ?`, caseID, a))(
			fmt.Sprintf("case %d: remove %s", caseID, a), ErrNotFound)
	})
}

// affected1 turns an Exec result into an error: notFound when no row changed.
func affected1(res sql.Result, err error) func(what string, notFound error) error {
	return func(what string, notFound error) error {
		if err != nil {
			return fmt.Errorf("distlist: %s: %w", what, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("distlist: %s: %w", what, err)
		}
		if n == 0 {
			return fmt.Errorf("distlist: %s: %w", what, notFound)
		}
		return nil
	}
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}
