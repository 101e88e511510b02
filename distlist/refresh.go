package distlist

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/secgate/secgate/crypto"
)

// Outcomes of a key refresh.
const (
	RefreshUnchanged = "unchanged"     // the published key is the one on file
	RefreshUpdated   = "updated"       // a later state of the same key replaced ours
	RefreshKept      = "kept"          // the published copy is older than ours
	RefreshDifferent = "different key" // another primary key is published: not used
	RefreshNone      = "not published" // nothing published for the address
	RefreshFailed    = "failed"        // the lookup or the key failed
)

// Refresh is what became of one key on file when it was refreshed.
type Refresh struct {
	Address     string `json:"address"`
	Fingerprint string `json:"fingerprint"` // the key on file
	Outcome     string `json:"outcome"`
	Detail      string `json:"detail,omitempty"` // what changed, the other key, or the error
}

// RefreshKeys asks lookup for the key each member and each list recipient
// publishes and updates the key on file when the published one is a later
// state of the same primary key (a new expiry, new subkeys, a
// revocation): never a different primary key, which is reported and left
// unused until a member imports it, and never an older copy. A key is
// only ever replaced by one that carries its holder's address.
func (d *Directory) RefreshKeys(ctx context.Context, lookup KeyLookup) ([]Refresh, error) {
	rows, err := d.db.Reader().QueryContext(ctx, `SELECT h.address, k.fingerprint, k.armored FROM
		(SELECT address, fingerprint FROM dir_member UNION SELECT address, fingerprint FROM dir_recipient WHERE fingerprint IS NOT NULL) h
		JOIN dir_key k USING (fingerprint) ORDER BY h.address, k.fingerprint`)
	if err != nil {
		return nil, fmt.Errorf("distlist: refresh keys: %w", err)
	}
	type held struct{ addr, fpr, armored string }
	var keys []held
	for rows.Next() {
		var h held
		if err := rows.Scan(&h.addr, &h.fpr, &h.armored); err != nil {
			rows.Close()
			return nil, fmt.Errorf("distlist: refresh keys: %w", err)
		}
		keys = append(keys, h)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("distlist: refresh keys: %w", err)
	}
	var out []Refresh
	for _, h := range keys {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		r := Refresh{Address: h.addr, Fingerprint: h.fpr}
		r.Outcome, r.Detail = d.refreshOne(ctx, lookup, h.addr, h.fpr, h.armored)
		if r.Outcome != RefreshUnchanged && r.Outcome != RefreshNone {
			d.log.Info("distlist: key refresh", "address", r.Address, "key", r.Fingerprint, "outcome", r.Outcome, "detail", r.Detail)
		}
		out = append(out, r)
	}
	return out, nil
}

// refreshOne refreshes one key on file and says what became of it.
func (d *Directory) refreshOne(ctx context.Context, lookup KeyLookup, addr, fpr, armored string) (outcome, detail string) {
	raw, err := lookup.Lookup(ctx, addr)
	switch {
	case errors.Is(err, ErrNotFound):
		return RefreshNone, ""
	case err != nil:
		return RefreshFailed, err.Error()
	}
	fresh, _, err := d.CheckKey(raw, ImportOptions{Address: addr})
	if err != nil {
		return RefreshFailed, "the published key is refused: " + err.Error()
	}
	if fresh.Fingerprint() != fpr {
		return RefreshDifferent, fmt.Sprintf("%s publishes key %s, not the key on file: not used (import it to change keys)", addr, fresh.Fingerprint())
	}
	ours, err := d.keys.parse([]byte(armored))
	if err != nil {
		return RefreshFailed, "the key on file: " + err.Error()
	}
	arm, err := fresh.ArmorPublic()
	if err != nil {
		return RefreshFailed, err.Error()
	}
	if arm == armored {
		return RefreshUnchanged, ""
	}
	if !ours.Refreshes(fresh) {
		return RefreshKept, "the published copy is older than the key on file (or lacks its revocation): ours kept"
	}
	err = d.write(ctx, nil, func(tx *sql.Tx) error {
		_, err := storeKey(ctx, tx, fresh, d.clock.Now(), true)
		return err
	})
	if err != nil {
		return RefreshFailed, err.Error()
	}
	return RefreshUpdated, expiryChange(ours, fresh) + keyUse(fresh, d.clock.Now())
}

// expiryChange says how the key's expiry moved.
func expiryChange(old, fresh *crypto.Key) string {
	when := func(k *crypto.Key) string {
		if t, ok := k.Expires(); ok {
			return t.UTC().Format(time.DateOnly)
		}
		return "never"
	}
	if when(old) == when(fresh) {
		return "new signatures or subkeys, expiry " + when(fresh)
	}
	return "expires " + when(fresh) + " (was " + when(old) + ")"
}

// keyUse says, after an update, whether the key can be used now.
func keyUse(k *crypto.Key, now time.Time) string {
	if err := k.Check(now); err != nil {
		return "; not usable now: " + err.Error()
	}
	return ""
}

// RefreshReport is the part of the key report that says what the refresh
// changed or could not do ("" when every key was unchanged or published
// nowhere).
func RefreshReport(rs []Refresh) string {
	var b strings.Builder
	for _, r := range rs {
		if r.Outcome == RefreshUnchanged || r.Outcome == RefreshNone {
			continue
		}
		fmt.Fprintf(&b, "  %s %s: %s", r.Address, r.Fingerprint, r.Outcome)
		if r.Detail != "" {
			b.WriteString(": " + r.Detail)
		}
		b.WriteString("\n")
	}
	if b.Len() == 0 {
		return ""
	}
	return "\nKeys refreshed from their holders' Web Key Directories (a different key is never used until a member imports it):\n" + b.String()
}
