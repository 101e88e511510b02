package distlist

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/secgate/secgate/crypto"
)

// Sync makes the directory match the members and lists of cfg, in one
// transaction: entries that came from the config and are no longer in it are
// removed; entries added from the CLI or by team command are kept. Key files
// are read relative to cfg.BaseDir. It returns warnings to show the operator,
// each naming its entry.
//
// A key that cannot be used now (expired, revoked, without a usable
// encryption subkey) does not stop the sync: its member or list entry is
// loaded, marked unusable (Member.KeyErr, Recipient.KeyErr) and named in a
// warning, and gets nothing encrypted until a usable key is configured or
// imported. A key file that cannot be read, is not a public key or is
// another person's key is an error, and nothing changes.
func (d *Directory) Sync(ctx context.Context, cfg Config) ([]string, error) {
	var warns []string
	err := d.db.Tx(ctx, func(tx *sql.Tx) error {
		var keep []string
		for _, mc := range cfg.Members {
			if mc.WKD {
				ok, w, err := d.syncWKDMember(ctx, tx, mc)
				if err != nil {
					return fmt.Errorf("distlist: sync: %s: %w", memberHolder(mc.Address), err)
				}
				if ok {
					warns = append(warns, prefixed(memberHolder(mc.Address), w)...)
					a, _ := CanonicalAddress(mc.Address)
					keep = append(keep, a)
				} else {
					warns = append(warns, memberHolder(mc.Address)+": not a member until its Web Key Directory publishes the key the configuration names")
				}
				continue
			}
			key, err := readKeyFile(cfg.BaseDir, mc.Address, mc.KeyFile)
			if err != nil {
				return fmt.Errorf("distlist: sync: %w", err)
			}
			w, err := d.AddMember(ctx, tx, MemberSpec{Name: mc.Name, Address: mc.Address, Role: mc.Role, Rota: mc.Rota,
				Away: mc.Away, TZ: mc.TZ, Key: key, AllowMismatch: mc.AllowMismatch, Source: SourceConfig})
			if err != nil {
				return fmt.Errorf("distlist: sync: %w", err)
			}
			warns = append(warns, prefixed(memberHolder(mc.Address), w)...)
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
			if err := setRules(ctx, tx, lc.Name, lc.Rules()); err != nil {
				return fmt.Errorf("distlist: sync: rules of list %q: %w", lc.Name, err)
			}
			if err := d.SetApplications(ctx, tx, lc.Name, lc.Applications, lc.Criteria); err != nil {
				return fmt.Errorf("distlist: sync: %w", err)
			}
			lists = append(lists, lc.Name)
			var rkeep []string
			for _, rc := range lc.Recipients {
				if rc.WKD {
					if err := d.syncWKDEntry(ctx, tx, lc.Name, rc); err != nil {
						return fmt.Errorf("distlist: sync: %s: %w", entryHolder(lc.Name, rc.Address), err)
					}
					a, _ := CanonicalAddress(rc.Address)
					rkeep = append(rkeep, a)
					continue
				}
				key, err := readKeyFile(cfg.BaseDir, rc.Address, rc.KeyFile)
				if err != nil {
					return fmt.Errorf("distlist: sync: %w", err)
				}
				w, err := d.AddRecipient(ctx, tx, lc.Name, RecipientSpec{Name: rc.Name, Address: rc.Address, Key: key,
					AllowMismatch: rc.AllowMismatch, Source: SourceConfig})
				if err != nil {
					return fmt.Errorf("distlist: sync: %w", err)
				}
				warns = append(warns, prefixed(entryHolder(lc.Name, rc.Address), w)...)
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

// readKeyFile reads the key file of who, relative to base; no file, no key.
func readKeyFile(base, who, path string) ([]byte, error) {
	if path == "" {
		return nil, nil
	}
	if !filepath.IsAbs(path) && base != "" {
		path = filepath.Join(base, path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("key of %s: %w", who, err)
	}
	return b, nil
}

// memberHolder and entryHolder name a key's holder as CheckKeys does.
func memberHolder(addr string) string { return "member " + canonicalOrAsIs(addr) }

func entryHolder(list, addr string) string { return "list " + list + ": " + canonicalOrAsIs(addr) }

func canonicalOrAsIs(addr string) string {
	if a, err := CanonicalAddress(addr); err == nil {
		return a
	}
	return addr
}

func prefixed(holder string, warns []string) []string {
	out := make([]string, len(warns))
	for i, w := range warns {
		out[i] = holder + ": " + w
	}
	return out
}

// KeyProblem is a configured member or list entry whose key cannot be
// encrypted to now. Sync loads it all the same; it gets nothing encrypted
// until a usable key is configured or imported.
type KeyProblem struct {
	Holder      string // "member alice@example.org", "list embargo: sec@distro.example"
	KeyFile     string // as configured
	Fingerprint string
	Err         error // wraps crypto.ErrExpired, crypto.ErrRevoked or crypto.ErrNoEncryptKey
}

// String is the problem on one line, for the operator.
func (p KeyProblem) String() string {
	return fmt.Sprintf("%s: key %s (%s) %s: gets nothing encrypted until a usable key is configured or imported",
		p.Holder, p.Fingerprint, p.KeyFile, unusableWhy(p.Err))
}

// unusableWhy says in a few words why a key cannot be encrypted to.
func unusableWhy(err error) string {
	switch {
	case errors.Is(err, crypto.ErrRevoked):
		return "is revoked"
	case errors.Is(err, crypto.ErrExpired):
		return "has expired"
	case errors.Is(err, crypto.ErrNoEncryptKey):
		return "has no usable encryption subkey"
	}
	return "cannot be used: " + err.Error()
}

// CheckConfig reads and checks the key files of cfg's members and list
// entries as Sync does, without a database: it returns the entries whose
// key cannot be used at now, which Sync loads marked unusable, and an error
// naming each entry that Sync would refuse (a key file that cannot be read,
// is no public key or is another person's key; a member or an entry of an
// encrypted list without a key file).
func CheckConfig(cfg Config, now time.Time) ([]KeyProblem, error) {
	var (
		probs []KeyProblem
		errs  []error
	)
	check := func(holder, addr, file string, allowMismatch, encrypted bool) {
		key, err := readKeyFile(cfg.BaseDir, addr, file)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", holder, err))
			return
		}
		if key == nil {
			if encrypted {
				errs = append(errs, fmt.Errorf("%s: no key_file: %w", holder, ErrNoKey))
			} else if _, err := CanonicalAddress(addr); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", holder, err))
			}
			return
		}
		k, _, err := checkKey(key, ImportOptions{Address: addr, AllowMismatch: allowMismatch}, now, crypto.ParsePublicKey)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s (%s): %w", holder, file, err))
			return
		}
		if !encrypted {
			return
		}
		if err := checkUsable(k, now, time.Time{}); err != nil {
			probs = append(probs, KeyProblem{Holder: holder, KeyFile: file, Fingerprint: k.Fingerprint(), Err: err})
		}
	}
	for _, mc := range cfg.Members {
		if mc.WKD {
			if _, err := checkWKD(mc.KeyFile, mc.Fingerprint); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", memberHolder(mc.Address), err))
			}
			continue
		}
		check(memberHolder(mc.Address), mc.Address, mc.KeyFile, mc.AllowMismatch, true)
	}
	for _, lc := range cfg.Lists {
		enc, err := kindEncrypts(lc.Kind)
		if err != nil {
			errs = append(errs, fmt.Errorf("list %q: %w", lc.Name, err))
			continue
		}
		for _, rc := range lc.Recipients {
			if rc.WKD {
				if _, err := checkWKD(rc.KeyFile, rc.Fingerprint); err != nil {
					errs = append(errs, fmt.Errorf("%s: %w", entryHolder(lc.Name, rc.Address), err))
				} else if !enc {
					errs = append(errs, fmt.Errorf("%s: wkd = true on a list that is not encrypted: it needs no key", entryHolder(lc.Name, rc.Address)))
				}
				continue
			}
			check(entryHolder(lc.Name, rc.Address), rc.Address, rc.KeyFile, rc.AllowMismatch, enc)
		}
	}
	return probs, errors.Join(errs...)
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
