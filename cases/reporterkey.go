package cases

import (
	"context"
	"database/sql"
	"fmt"
	"slices"

	"github.com/secgate/secgate/crypto"
	"github.com/secgate/secgate/distlist"
)

// TakeReporterKey considers key, an armored public key found in a
// follow-up (attached, in an Autocrypt header, or the key that signed it)
// from address from, as the reporter's key of case caseID, so that replies
// are encrypted from then on. It is taken when from is the reporter's
// address, one of the key's user IDs is that address, and the case has no
// usable key, or when it is the key on file again (an extended expiry, say). A different key never replaces a usable
// one: anyone can write in the reporter's name, and the reporter must not
// lose the replies to a key that is not theirs. The decision is audited; the
// returned note says what was done ("" when the mail is not the
// reporter's).
func (w *Workflow) TakeReporterKey(ctx context.Context, tx *sql.Tx, caseID int64, from, key, messageID string) (string, error) {
	c, err := w.loadCase(ctx, tx, "id = ?", caseID)
	if err != nil {
		return "", err
	}
	if key == "" || !distlist.SameAddress(from, c.ReporterAddr) {
		return "", nil
	}
	now := w.now()
	note, take := "", false
	k, err := crypto.ParsePublicKey([]byte(key))
	if err == nil {
		err = k.Check(now)
	}
	switch {
	case err != nil:
		note = "reporter key in a follow-up not usable: " + err.Error()
	case !keyNames(k, c.ReporterAddr):
		note = "a key " + k.Fingerprint() + " in a follow-up was not taken: none of its user IDs is the reporter's address " + c.ReporterAddr
	default:
		old, oerr := crypto.ParsePublicKey([]byte(c.ReporterKey))
		if oerr == nil {
			oerr = old.Check(now)
		}
		switch {
		case c.ReporterKey == "":
			note, take = "reporter key "+k.Fingerprint()+" taken from a follow-up: replies are encrypted to it", true
		case oerr != nil:
			note, take = "reporter key "+k.Fingerprint()+" taken from a follow-up in place of the key on file, which is not usable ("+oerr.Error()+")", true
		case old.Fingerprint() == k.Fingerprint():
			if c.ReporterKey == key {
				return "", nil
			}
			note, take = "reporter key "+k.Fingerprint()+" refreshed from a follow-up", true
		default:
			note = "a different key " + k.Fingerprint() + " in a follow-up was not taken: the reporter's usable key " + old.Fingerprint() + " stays"
		}
	}
	if take {
		if _, err := tx.ExecContext(ctx, `UPDATE cases SET reporter_key = ? WHERE id = ?`, key, c.ID); err != nil {
			return "", fmt.Errorf("cases: %s: reporter key: %w", c.Ref, err)
		}
	}
	if err := w.Audit(ctx, tx, c.ID, "reporter:"+c.ReporterAddr, "reporter-key", note, messageID); err != nil {
		return "", err
	}
	return note, nil
}

// keyNames reports whether one of k's user IDs is addr: a key is taken as
// someone's only when it says it is theirs.
func keyNames(k *crypto.Key, addr string) bool {
	return slices.ContainsFunc(k.Emails(), func(e string) bool { return distlist.SameAddress(e, addr) })
}
