package distlist

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/secgate/secgate/crypto"
	"github.com/secgate/secgate/store"
)

// ImportOptions control the checks of a key import.
type ImportOptions struct {
	// Address is the address the key is used for; it must be among the
	// key's user IDs unless AllowMismatch is set.
	Address       string
	AllowMismatch bool
	// ForEncryption refuses a key without a usable encryption subkey.
	ForEncryption bool
}

// KeyInfo describes a stored key.
type KeyInfo struct {
	Fingerprint string
	Emails      []string
	Expires     time.Time // zero: never
	Imported    time.Time
	Armored     string
}

// CheckKey parses an armored public key and runs the import checks without
// storing anything. Warnings are problems the caller should show but that do
// not refuse the key (an allowed address mismatch, an expired key).
func (d *Directory) CheckKey(armored []byte, opts ImportOptions) (*crypto.Key, []string, error) {
	return checkKey(armored, opts, d.clock.Now(), d.files.parse)
}

// checkKey runs the import checks of armored, parsed by parse.
func checkKey(armored []byte, opts ImportOptions, now time.Time, parse func([]byte) (*crypto.Key, error)) (*crypto.Key, []string, error) {
	if strings.Contains(string(armored), "PRIVATE KEY BLOCK") {
		return nil, nil, ErrSecretKey
	}
	k, err := parse(armored)
	if errors.Is(err, crypto.ErrSecretKey) {
		return nil, nil, ErrSecretKey
	}
	if err != nil {
		return nil, nil, fmt.Errorf("distlist: parse key: %w", err)
	}
	if k.IsPrivate() {
		return nil, nil, ErrSecretKey
	}
	var warns []string
	if opts.Address != "" {
		addr, err := CanonicalAddress(opts.Address)
		if err != nil {
			return nil, nil, err
		}
		if !keyHasEmail(k, addr) {
			if !opts.AllowMismatch {
				return nil, nil, fmt.Errorf("%w: %s is not in %v of key %s (allow it explicitly if intended)",
					ErrAddressMismatch, addr, k.Emails(), k.Fingerprint())
			}
			warns = append(warns, fmt.Sprintf("address %s is not among the user IDs %v of key %s (allowed)", addr, k.Emails(), k.Fingerprint()))
		}
	}
	if err := k.Check(now); err != nil {
		if errors.Is(err, crypto.ErrNoEncryptKey) && opts.ForEncryption {
			return nil, nil, fmt.Errorf("%w: key %s", ErrNoEncryptKey, k.Fingerprint())
		}
		warns = append(warns, fmt.Sprintf("key %s is not usable now: %v", k.Fingerprint(), err))
	}
	return k, warns, nil
}

// keyHasEmail reports whether addr is the address of one of k's user IDs.
func keyHasEmail(k *crypto.Key, addr string) bool {
	return slices.ContainsFunc(k.Emails(), func(e string) bool { return SameAddress(e, addr) })
}

// ImportKey checks an armored public key and stores it (replacing a stored
// copy of the same key, so updates with new expiry, subkeys or revocations
// take effect). tx may be nil.
func (d *Directory) ImportKey(ctx context.Context, tx *sql.Tx, armored []byte, opts ImportOptions) (*crypto.Key, []string, error) {
	k, warns, err := d.CheckKey(armored, opts)
	if err != nil {
		return nil, nil, err
	}
	err = d.write(ctx, tx, func(tx *sql.Tx) error {
		_, err := storeKey(ctx, tx, k, d.clock.Now(), true)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	return k, warns, nil
}

// storeKey upserts k into dir_key; replace says whether a stored copy is
// replaced. It returns the armored key it wrote.
func storeKey(ctx context.Context, tx *sql.Tx, k *crypto.Key, now time.Time, replace bool) (string, error) {
	arm, err := k.ArmorPublic()
	if err != nil {
		return "", fmt.Errorf("distlist: armor key %s: %w", k.Fingerprint(), err)
	}
	var exp int64
	if t, ok := k.Expires(); ok {
		exp = store.Millis(t)
	}
	q := `INSERT INTO dir_key (fingerprint, armored, emails, expires, imported) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (fingerprint) DO `
	if replace {
		q += `UPDATE SET armored = excluded.armored, emails = excluded.emails, expires = excluded.expires, imported = excluded.imported`
	} else {
		q += `NOTHING`
	}
	_, err = tx.ExecContext(ctx, q, k.Fingerprint(), arm, strings.Join(k.Emails(), "\n"), exp, store.Millis(now))
	if err != nil {
		return "", fmt.Errorf("distlist: store key %s: %w", k.Fingerprint(), err)
	}
	return arm, nil
}

// ShowKey returns the stored key with fingerprint fpr, or ErrNotFound.
func (d *Directory) ShowKey(ctx context.Context, fpr string) (KeyInfo, error) {
	var ki KeyInfo
	var emails string
	var exp, imp int64
	err := d.db.Reader().QueryRowContext(ctx, `SELECT fingerprint, armored, emails, expires, imported FROM dir_key WHERE fingerprint = ?`,
		normFpr(fpr)).Scan(&ki.Fingerprint, &ki.Armored, &emails, &exp, &imp)
	if errors.Is(err, sql.ErrNoRows) {
		return ki, fmt.Errorf("distlist: key %s: %w", fpr, ErrNotFound)
	}
	if err != nil {
		return ki, fmt.Errorf("distlist: key %s: %w", fpr, err)
	}
	if emails != "" {
		ki.Emails = strings.Split(emails, "\n")
	}
	ki.Expires, ki.Imported = store.Time(exp), store.Time(imp)
	return ki, nil
}

// KeyStatus is the result of checking one stored key that is in use.
type KeyStatus struct {
	KeyInfo
	Holders []string // "member alice@x", "list embargo: bob@y", "case 7: carol@z"
	Err     error    // nil when usable from now through the checked date
}

// CheckKeys checks every key in use (by a member, a list entry or a case
// extra) at now and through until.
func (d *Directory) CheckKeys(ctx context.Context, until time.Time) ([]KeyStatus, error) {
	now := d.clock.Now()
	rows, err := d.db.Reader().QueryContext(ctx, `
		SELECT k.fingerprint, k.armored, k.emails, k.expires, k.imported, h.holder FROM dir_key k JOIN (
			SELECT fingerprint, 'member ' || address AS holder FROM dir_member
			UNION ALL SELECT fingerprint, 'list ' || list || ': ' || address FROM dir_recipient WHERE fingerprint IS NOT NULL
			UNION ALL SELECT fingerprint, 'case ' || case_id || ': ' || address FROM dir_case_extra WHERE fingerprint IS NOT NULL
		) h USING (fingerprint) ORDER BY k.expires = 0, k.expires, k.fingerprint, h.holder`)
	if err != nil {
		return nil, fmt.Errorf("distlist: check keys: %w", err)
	}
	defer rows.Close()
	var out []KeyStatus
	for rows.Next() {
		var ki KeyInfo
		var emails, holder string
		var exp, imp int64
		if err := rows.Scan(&ki.Fingerprint, &ki.Armored, &emails, &exp, &imp, &holder); err != nil {
			return nil, fmt.Errorf("distlist: check keys: %w", err)
		}
		if n := len(out); n > 0 && out[n-1].Fingerprint == ki.Fingerprint {
			out[n-1].Holders = append(out[n-1].Holders, holder)
			continue
		}
		if emails != "" {
			ki.Emails = strings.Split(emails, "\n")
		}
		ki.Expires, ki.Imported = store.Time(exp), store.Time(imp)
		ks := KeyStatus{KeyInfo: ki, Holders: []string{holder}}
		// Through the directory's cache: the key report runs at every
		// start and every day over every key, and a key parsed here is
		// not parsed again when its list is read.
		k, err := d.keys.parse([]byte(ki.Armored))
		if err != nil {
			ks.Err = err
		} else {
			ks.Err = checkUsable(k, now, until)
		}
		out = append(out, ks)
	}
	return out, rows.Err()
}

// checkUsable checks that k can be encrypted to at now and through until.
func checkUsable(k *crypto.Key, now, until time.Time) error {
	if k == nil {
		return ErrNoKey
	}
	if err := k.Check(now); err != nil {
		return err
	}
	if !until.IsZero() && until.After(now) {
		if err := k.CheckThrough(now, until); err != nil {
			return err
		}
	}
	return nil
}
