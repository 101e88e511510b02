package distlist

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// Whether a row must leave encrypted is worked out from what the row is:
// its kind, its case and the list it was sent to, as the directory has that
// list now. The encrypt flag stored next to the row's bytes may add the
// requirement, never take it away, so that a bug, a hand edit or a restored
// backup that rewrites a row's bytes and flag together cannot get it out in
// clear. Enqueue refuses such mail in clear, and the guard refuses it
// again right before DATA.

// clearKinds are the only kinds of mail that may leave unencrypted, each
// with the reason. Every other kind, one this table does not know yet
// included, must be encrypted.
var clearKinds = map[string]string{
	"announcement":     "the public announcement, sent at the disclosure",
	"pre-announcement": "the public date of a planned release, naming nothing of what it fixes",
	"ack":              "the acknowledgement to a reporter without a usable key, which quotes nothing",
	"reporter":         "a text to a reporter without a key on file, which names no detail of the case",
	"sender-notice":    "intake's answer to a sender outside the team (held, encrypted to a key we do not hold, or command lines not applied), which quotes nothing",
	"applicant":        "a text to an applicant or distributor about their own application or entry whose key cannot be encrypted to, which names nothing but that",
}

// listRule is what the directory says now of the list a row was sent to.
type listRule struct {
	name    string // "" when the row names no list
	kind    string // KindTeam, KindEmbargo, KindPublic; "" when the list is gone
	encrypt bool
}

// needsEncryption reports whether the list's mail must be encrypted: a team
// or embargo list's always, a public list's when it says so, and a list
// that is no longer in the directory's too (fail closed).
func (l listRule) needsEncryption() bool {
	return l.name != "" && (l.kind != KindPublic || l.encrypt)
}

// mustEncrypt reports whether mail of kind to list must be encrypted;
// flag, the encryption stored or asked for, may add to it.
func mustEncrypt(kind string, list listRule, flag bool) bool {
	if flag || list.needsEncryption() {
		return true
	}
	_, clear := clearKinds[kind]
	return !clear
}

// lookupList reads what the directory says of list name through q; a list
// that is not there has no kind. An empty name is no list.
func lookupList(ctx context.Context, q querier, name string) (listRule, error) {
	l := listRule{name: name}
	if name == "" {
		return l, nil
	}
	var enc int64
	err := q.QueryRowContext(ctx, `SELECT kind, encrypt FROM dir_list WHERE name = ?`, name).Scan(&l.kind, &enc)
	if errors.Is(err, sql.ErrNoRows) {
		return l, nil
	}
	if err != nil {
		return l, fmt.Errorf("list %q: %w", name, err)
	}
	l.encrypt = enc != 0
	return l, nil
}
