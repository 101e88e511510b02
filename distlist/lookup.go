package distlist

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/secgate/secgate/store"
)

// States of a key lookup (table dir_lookup).
const (
	LookupPending  = "pending"  // to be fetched
	LookupFound    = "found"    // fetched; waits for a member's confirmation
	LookupFailed   = "failed"   // nothing usable was published, or it was refused
	LookupAdded    = "added"    // the entry was added with the key confirmed
	LookupReplaced = "replaced" // a later request for the same entry took over
)

// ByConfig is the requester of a lookup a configured entry asked for.
const ByConfig = "config"

// Lookup retries: a failure that may pass (the network, a server error)
// is tried again after 2, 4, 8 and 16 minutes, then the lookup fails.
const (
	lookupAttempts = 5
	lookupBackoff  = 2 * time.Minute
)

// KeyRequest is a recipient to be added to a list by address alone: its key
// comes from the Web Key Directory of its domain, and is used only once a
// member confirmed its fingerprint.
type KeyRequest struct {
	ID          int64
	List        string
	Address     string
	RequestedBy string // a member's fingerprint, or ByConfig
	Confirmed   string // a fingerprint confirmed ahead (the configuration's), "" if none
	Attempts    int
}

// KeyFound is the outcome of fetching a KeyRequest's key (FetchKey).
type KeyFound struct {
	KeyRequest
	Key         []byte // the key as published, when found
	Fingerprint string
	Emails      []string
	Expires     time.Time // zero: never
	Warnings    []string
	Err         error // why nothing usable was found
	Retry       bool  // Err may pass: try again later
}

// NormalizeFingerprint writes a fingerprint as keys print it: upper case,
// without the spaces people group it with.
func NormalizeFingerprint(s string) string {
	return strings.ToUpper(strings.Join(strings.Fields(s), ""))
}

// RequestKey records in tx that addr's key is to be looked up so that addr
// can join list (list "": become the configured member addr, asked for by
// the configuration alone); by is the asking member's fingerprint, or ByConfig, and
// confirmed a fingerprint confirmed ahead ("" when a member is to confirm
// what is found). An open request for the same entry is replaced. The
// list must be an existing embargo list.
func (d *Directory) RequestKey(ctx context.Context, tx *sql.Tx, list, addr, by, confirmed string) (int64, error) {
	a, err := CanonicalAddress(addr)
	if err != nil {
		return 0, err
	}
	var id int64
	if list == "" && by != ByConfig {
		return 0, errors.New("distlist: a member's key is asked for by the configuration only")
	}
	err = d.write(ctx, tx, func(tx *sql.Tx) error {
		if list != "" {
			if err := encryptedList(ctx, tx, list); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE dir_lookup SET state = 'replaced' WHERE list = ? AND address = ? AND state IN ('pending', 'found')`, list, a); err != nil {
			return fmt.Errorf("distlist: key request %s: %w", a, err)
		}
		return tx.QueryRowContext(ctx, `INSERT INTO dir_lookup (list, address, requested_by, requested, confirmed) VALUES (?, ?, ?, ?, ?) RETURNING id`,
			list, a, by, store.Millis(d.clock.Now()), NormalizeFingerprint(confirmed)).Scan(&id)
	})
	if err != nil {
		return 0, err
	}
	return id, nil
}

// encryptedList checks that list exists and is encrypted to each recipient.
func encryptedList(ctx context.Context, tx *sql.Tx, list string) error {
	var enc int64
	if err := tx.QueryRowContext(ctx, `SELECT encrypt FROM dir_list WHERE name = ?`, list).Scan(&enc); errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("distlist: list %q: %w", list, ErrNotFound)
	} else if err != nil {
		return fmt.Errorf("distlist: list %q: %w", list, err)
	}
	if enc == 0 {
		return fmt.Errorf("distlist: list %q is not encrypted: it needs no key", list)
	}
	return nil
}

// KeyRequested reports whether an open request (pending or found) waits
// for list's entry addr, and the fingerprint it confirms ahead.
func (d *Directory) KeyRequested(ctx context.Context, tx *sql.Tx, list, addr string) (ok bool, confirmed string, err error) {
	a, err := CanonicalAddress(addr)
	if err != nil {
		return false, "", err
	}
	err = d.reader(tx).QueryRowContext(ctx, `SELECT confirmed FROM dir_lookup WHERE list = ? AND address = ? AND state IN ('pending', 'found')`, list, a).Scan(&confirmed)
	if errors.Is(err, sql.ErrNoRows) {
		return false, "", nil
	}
	if err != nil {
		return false, "", fmt.Errorf("distlist: key request %s: %w", a, err)
	}
	return true, confirmed, nil
}

// DueKeyRequests returns the pending requests whose next attempt has come.
func (d *Directory) DueKeyRequests(ctx context.Context) ([]KeyRequest, error) {
	rows, err := d.db.Reader().QueryContext(ctx, `SELECT id, list, address, requested_by, confirmed, attempts FROM dir_lookup
		WHERE state = 'pending' AND next_try <= ? ORDER BY id`, store.Millis(d.clock.Now()))
	if err != nil {
		return nil, fmt.Errorf("distlist: key requests: %w", err)
	}
	defer rows.Close()
	var rs []KeyRequest
	for rows.Next() {
		var r KeyRequest
		if err := rows.Scan(&r.ID, &r.List, &r.Address, &r.RequestedBy, &r.Confirmed, &r.Attempts); err != nil {
			return nil, fmt.Errorf("distlist: key requests: %w", err)
		}
		rs = append(rs, r)
	}
	return rs, rows.Err()
}

// FetchKey looks r's key up with lookup and runs the import checks on what
// it finds: the key must carry the address, be a public key, and be usable
// now. It writes nothing and is meant to run outside any transaction.
func (d *Directory) FetchKey(ctx context.Context, lookup KeyLookup, r KeyRequest) KeyFound {
	f := KeyFound{KeyRequest: r}
	raw, err := lookup.Lookup(ctx, r.Address)
	if err != nil {
		f.Err, f.Retry = err, !errors.Is(err, ErrNotFound) && ctx.Err() == nil
		return f
	}
	k, warns, err := d.CheckKey(raw, ImportOptions{Address: r.Address})
	if err != nil {
		f.Err = fmt.Errorf("the published key is refused: %w", err)
		return f
	}
	f.Key, f.Fingerprint, f.Emails, f.Warnings = raw, k.Fingerprint(), k.Emails(), warns
	if t, ok := k.Expires(); ok {
		f.Expires = t
	}
	if err := k.Check(d.clock.Now()); err != nil {
		f.Err = fmt.Errorf("the published key %s cannot be encrypted to: %w", f.Fingerprint, err)
	}
	return f
}

// RecordKey stores f's outcome in tx and returns its state: pending again
// (a failure that may pass, before the last attempt), failed, found (a
// member is to confirm the fingerprint), or added (the fingerprint is the
// one confirmed ahead: the entry is on the list now). A key whose
// fingerprint is not the one confirmed ahead fails and is never used.
func (d *Directory) RecordKey(ctx context.Context, tx *sql.Tx, f KeyFound) (string, error) {
	now := d.clock.Now()
	fail := func(why string) (string, error) {
		_, err := tx.ExecContext(ctx, `UPDATE dir_lookup SET state = 'failed', attempts = attempts + 1, fingerprint = ?, detail = ?, decided = ? WHERE id = ? AND state = 'pending'`,
			f.Fingerprint, why, store.Millis(now), f.ID)
		if err != nil {
			return "", fmt.Errorf("distlist: key request %d: %w", f.ID, err)
		}
		return LookupFailed, nil
	}
	switch {
	case f.Err != nil && f.Retry && f.Attempts+1 < lookupAttempts:
		next := now.Add(lookupBackoff << f.Attempts)
		_, err := tx.ExecContext(ctx, `UPDATE dir_lookup SET attempts = attempts + 1, next_try = ?, detail = ? WHERE id = ? AND state = 'pending'`,
			store.Millis(next), f.Err.Error(), f.ID)
		if err != nil {
			return "", fmt.Errorf("distlist: key request %d: %w", f.ID, err)
		}
		return LookupPending, nil
	case f.Err != nil:
		return fail(f.Err.Error())
	case f.Confirmed != "" && f.Confirmed != f.Fingerprint:
		return fail(fmt.Sprintf("%s publishes key %s, not the %s confirmed in the configuration: not used", f.Address, f.Fingerprint, f.Confirmed))
	}
	res, err := tx.ExecContext(ctx, `UPDATE dir_lookup SET state = 'found', attempts = attempts + 1, key = ?, fingerprint = ?, detail = '', decided = ? WHERE id = ? AND state = 'pending'`,
		f.Key, f.Fingerprint, store.Millis(now), f.ID)
	if err != nil {
		return "", fmt.Errorf("distlist: key request %d: %w", f.ID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return LookupReplaced, nil
	}
	if f.Confirmed == "" {
		return LookupFound, nil
	}
	if f.List == "" {
		// A configured member: the key is stored, and Sync, run again,
		// makes them a member with it.
		k, _, err := d.CheckKey(f.Key, ImportOptions{Address: f.Address})
		if err != nil {
			return "", fmt.Errorf("distlist: key request %d: %w", f.ID, err)
		}
		if _, err := storeKey(ctx, tx, k, now, true); err != nil {
			return "", err
		}
		_, err = tx.ExecContext(ctx, `UPDATE dir_lookup SET state = 'added', detail = 'confirmed by config' WHERE id = ?`, f.ID)
		if err != nil {
			return "", fmt.Errorf("distlist: key request %d: %w", f.ID, err)
		}
		return LookupAdded, nil
	}
	src := SourceCommand
	if f.RequestedBy == ByConfig {
		src = SourceConfig
	}
	if _, err := d.ConfirmKey(ctx, tx, f.List, f.Address, f.Confirmed, ByConfig, src); err != nil {
		return "", err
	}
	return LookupAdded, nil
}

// ConfirmKey adds list's entry addr with the key its lookup found, in tx,
// when fingerprint is that key's: a member checked it with the key's
// holder. by names who confirmed (audited in the lookup's row), src is
// the entry's source. The key passes the import checks again.
func (d *Directory) ConfirmKey(ctx context.Context, tx *sql.Tx, list, addr, fingerprint, by, src string) ([]string, error) {
	a, err := CanonicalAddress(addr)
	if err != nil {
		return nil, err
	}
	var (
		id    int64
		key   []byte
		found string
	)
	err = tx.QueryRowContext(ctx, `SELECT id, key, fingerprint FROM dir_lookup WHERE list = ? AND address = ? AND state = 'found'`, list, a).Scan(&id, &key, &found)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("distlist: no key found for %s on %s waits for confirmation: %w", a, list, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("distlist: confirm %s: %w", a, err)
	}
	if want := NormalizeFingerprint(fingerprint); want != found {
		return nil, fmt.Errorf("distlist: %s publishes key %s, not the %s confirmed: nothing added", a, found, want)
	}
	warns, err := d.AddRecipient(ctx, tx, list, RecipientSpec{Address: a, Key: key, Source: src})
	if err != nil {
		return nil, err
	}
	_, err = tx.ExecContext(ctx, `UPDATE dir_lookup SET state = 'added', detail = ?, decided = ? WHERE id = ?`, "confirmed by "+by, store.Millis(d.clock.Now()), id)
	if err != nil {
		return nil, fmt.Errorf("distlist: confirm %s: %w", a, err)
	}
	return warns, nil
}

// checkWKD validates a configured member or entry with wkd = true: it
// names its key by fingerprint instead of a key file. It returns the
// fingerprint as keys print it.
func checkWKD(keyFile, fingerprint string) (string, error) {
	if keyFile != "" {
		return "", errors.New("give key_file or wkd = true, not both")
	}
	fpr := NormalizeFingerprint(fingerprint)
	if len(fpr) != 40 && len(fpr) != 64 || strings.Trim(fpr, "0123456789ABCDEF") != "" {
		return "", fmt.Errorf("wkd = true needs fingerprint, the key's fingerprint checked with its holder (40 or 64 hexadecimal digits; secgate list add -wkd LIST ADDRESS shows the key published), not %q", fingerprint)
	}
	return fpr, nil
}

// syncWKDEntry is Sync for a configured entry with wkd = true: the entry
// stays when it holds the key the configuration names; otherwise it is
// taken off the list and the key is asked for (unless a request for it
// waits already), to be added once the key published is that one.
func (d *Directory) syncWKDEntry(ctx context.Context, tx *sql.Tx, list string, rc RecipientConfig) error {
	fpr, err := checkWKD(rc.KeyFile, rc.Fingerprint)
	if err != nil {
		return err
	}
	addr, err := CanonicalAddress(rc.Address)
	if err != nil {
		return err
	}
	var have, armored string
	err = tx.QueryRowContext(ctx, `SELECT coalesce(r.fingerprint, ''), coalesce(k.armored, '') FROM dir_recipient r LEFT JOIN dir_key k ON k.fingerprint = r.fingerprint
		WHERE r.list = ? AND r.address = ?`, list, addr).Scan(&have, &armored)
	exists := err == nil
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	if have == fpr {
		_, err := d.AddRecipient(ctx, tx, list, RecipientSpec{Name: rc.Name, Address: addr, Key: []byte(armored), Source: SourceConfig})
		return err
	}
	if exists {
		if err := d.RemoveRecipient(ctx, tx, list, addr); err != nil {
			return err
		}
	}
	if open, confirmed, err := d.KeyRequested(ctx, tx, list, addr); err != nil || open && confirmed == fpr {
		return err
	}
	_, err = d.RequestKey(ctx, tx, list, addr, ByConfig, fpr)
	return err
}

// syncWKDMember is Sync for a configured member with wkd = true: the
// member is loaded when the directory holds the key the configuration
// names (a lookup brought it) and reports true; otherwise the key is
// asked for (unless a request for it waits already), and the member is
// left out until it is found: Sync runs again then.
func (d *Directory) syncWKDMember(ctx context.Context, tx *sql.Tx, mc MemberConfig) (bool, []string, error) {
	fpr, err := checkWKD(mc.KeyFile, mc.Fingerprint)
	if err != nil {
		return false, nil, err
	}
	var armored string
	err = tx.QueryRowContext(ctx, `SELECT armored FROM dir_key WHERE fingerprint = ?`, fpr).Scan(&armored)
	if err == nil {
		w, err := d.AddMember(ctx, tx, MemberSpec{Name: mc.Name, Address: mc.Address, Role: mc.Role, Rota: mc.Rota,
			Away: mc.Away, TZ: mc.TZ, Key: []byte(armored), Source: SourceConfig})
		return err == nil, w, err
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return false, nil, err
	}
	if open, confirmed, err := d.KeyRequested(ctx, tx, "", mc.Address); err != nil || open && confirmed == fpr {
		return false, nil, err
	}
	_, err = d.RequestKey(ctx, tx, "", mc.Address, ByConfig, fpr)
	return false, nil, err
}
