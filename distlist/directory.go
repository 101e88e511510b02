package distlist

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/secgate/secgate/crypto"
	"github.com/secgate/secgate/internal/clock"
	"github.com/secgate/secgate/store"
)

// List kinds.
const (
	KindTeam    = "team"
	KindEmbargo = "embargo"
	KindPublic  = "public"
)

// Member roles.
const (
	RoleMember = "member"
	RoleLead   = "lead"
)

// Member is a security team member.
type Member struct {
	Name        string
	Address     string
	Fingerprint string
	Role        string // RoleMember or RoleLead
	Rota        int
	Away        bool
	TZ          string
	Key         *crypto.Key // nil when the stored key does not parse
	// KeyErr says why Key cannot be encrypted to now (it is expired,
	// revoked, has no usable encryption subkey, or does not parse), nil
	// when it can. Such a member is kept: they get nothing encrypted, and
	// the outbox reports them as skipped, until a usable key is imported.
	KeyErr error
}

// Recipient is one person or organisation a message goes to. Key is nil on
// public lists.
type Recipient struct {
	Name    string
	Address string
	Key     *crypto.Key
	// KeyErr says why the recipient cannot be encrypted to now, as
	// Member.KeyErr; the directory sets it when it loads an entry.
	KeyErr error
}

// List is a distribution list with its recipients.
type List struct {
	Name       string
	Kind       string // KindTeam, KindEmbargo or KindPublic
	Encrypt    bool
	Recipients []Recipient
	Rules      Rules // an embargo list's own terms, zero when it has none
}

// Directory is the store of members, lists and keys.
type Directory struct {
	db    *store.DB
	clock clock.Clock
	log   *slog.Logger
	keys  *keyCache
	files *keyCache // the keys it checks (Sync's key files, imports): ShareKeyFiles
}

// NewDirectory returns the directory kept in db.
func NewDirectory(db *store.DB, clk clock.Clock, log *slog.Logger) *Directory {
	if clk == nil {
		clk = clock.Real{}
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Directory{db: db, clock: clk, log: log, keys: newKeyCache(), files: newKeyCache()}
}

// querier is what reads need: the reader pool or a transaction.
type querier interface {
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
}

// reader reads through tx, or the read pool when tx is nil.
func (d *Directory) reader(tx *sql.Tx) querier {
	if tx != nil {
		return tx
	}
	return d.db.Reader()
}

const memberCols = `m.name, m.address, m.fingerprint, m.role, m.rota, m.away, m.tz, k.armored`

func (d *Directory) scanMember(sc interface{ Scan(...any) error }) (Member, error) {
	var m Member
	var away int64
	var armored string
	if err := sc.Scan(&m.Name, &m.Address, &m.Fingerprint, &m.Role, &m.Rota, &away, &m.TZ, &armored); err != nil {
		return m, err
	}
	m.Away = away != 0
	m.Key, m.KeyErr = d.loadKey(armored, m.Address)
	return m, nil
}

// loadKey parses a stored key of holder and checks that it can be
// encrypted to now. Neither a key that cannot be used nor one that no
// longer parses is an error: it costs its holder their mail (the reason
// comes back, the key is nil when it does not parse), never the mail of
// everyone else.
func (d *Directory) loadKey(armored, holder string) (*crypto.Key, error) {
	if armored == "" {
		return nil, nil
	}
	k, err := d.keys.parse([]byte(armored))
	if err != nil {
		return nil, fmt.Errorf("distlist: stored key of %s: %w", holder, err)
	}
	return k, checkUsable(k, d.clock.Now(), time.Time{})
}

// teamQuery reads the members with their keys. CROSS JOIN keeps dir_member
// the outer table: left to itself SQLite scanned dir_key, which holds every
// reporter's and distributor's key too, to find the few members' keys, for
// each report that opened a case.
const teamQuery = `SELECT ` + memberCols + `
	FROM dir_member m CROSS JOIN dir_key k ON k.fingerprint = m.fingerprint ORDER BY m.rota, m.address`

// Team returns the team members in rota order.
func (d *Directory) Team(ctx context.Context) ([]Member, error) {
	rows, err := d.db.Reader().QueryContext(ctx, teamQuery)
	if err != nil {
		return nil, fmt.Errorf("distlist: team: %w", err)
	}
	defer rows.Close()
	var ms []Member
	for rows.Next() {
		m, err := d.scanMember(rows)
		if err != nil {
			return nil, fmt.Errorf("distlist: team: %w", err)
		}
		ms = append(ms, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("distlist: team: %w", err)
	}
	return ms, nil
}

// MemberByFingerprint returns the member whose key has the full fingerprint
// fpr, or ErrNotFound.
func (d *Directory) MemberByFingerprint(ctx context.Context, fpr string) (Member, error) {
	return d.member(ctx, "m.fingerprint = ?", normFpr(fpr))
}

// MemberByAddress returns the member with address addr, or ErrNotFound.
func (d *Directory) MemberByAddress(ctx context.Context, addr string) (Member, error) {
	a, err := CanonicalAddress(addr)
	if err != nil {
		return Member{}, err
	}
	return d.member(ctx, "m.address = ?", a)
}

func (d *Directory) member(ctx context.Context, where string, arg any) (Member, error) {
	m, err := d.scanMember(d.db.Reader().QueryRowContext(ctx, `SELECT `+memberCols+`
		FROM dir_member m JOIN dir_key k USING (fingerprint) WHERE `+where, arg))
	if errors.Is(err, sql.ErrNoRows) {
		return m, fmt.Errorf("distlist: member %v: %w", arg, ErrNotFound)
	}
	if err != nil {
		return m, fmt.Errorf("distlist: member %v: %w", arg, err)
	}
	return m, nil
}

// ListInfo describes a list without its recipients.
type ListInfo struct {
	Name       string
	Kind       string
	Encrypt    bool
	Recipients int
}

// Lists returns every list, by name.
func (d *Directory) Lists(ctx context.Context) ([]ListInfo, error) {
	rows, err := d.db.Reader().QueryContext(ctx, `SELECT l.name, l.kind, l.encrypt,
		(SELECT count(*) FROM dir_recipient r WHERE r.list = l.name) FROM dir_list l ORDER BY l.name`)
	if err != nil {
		return nil, fmt.Errorf("distlist: lists: %w", err)
	}
	defer rows.Close()
	var ls []ListInfo
	for rows.Next() {
		var l ListInfo
		var enc int64
		if err := rows.Scan(&l.Name, &l.Kind, &enc, &l.Recipients); err != nil {
			return nil, fmt.Errorf("distlist: lists: %w", err)
		}
		l.Encrypt = enc != 0
		ls = append(ls, l)
	}
	return ls, rows.Err()
}

// List returns the list called name with its recipients, or ErrNotFound.
// For the team list the recipients are the team members who are not away.
func (d *Directory) List(ctx context.Context, name string) (*List, error) {
	return d.list(ctx, d.db.Reader(), name)
}

func (d *Directory) list(ctx context.Context, q querier, name string) (*List, error) {
	l := &List{Name: name}
	var enc int64
	err := q.QueryRowContext(ctx, `SELECT kind, encrypt FROM dir_list WHERE name = ?`, name).Scan(&l.Kind, &enc)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("distlist: list %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("distlist: list %q: %w", name, err)
	}
	l.Encrypt = enc != 0
	if l.Rules, err = loadRules(ctx, q, name); err != nil {
		return nil, err
	}
	rows, err := q.QueryContext(ctx, `SELECT r.name, r.address, coalesce(k.armored, '')
		FROM dir_recipient r LEFT JOIN dir_key k USING (fingerprint) WHERE r.list = ? ORDER BY r.address`, name)
	if err != nil {
		return nil, fmt.Errorf("distlist: list %q: %w", name, err)
	}
	defer rows.Close()
	for rows.Next() {
		var r Recipient
		var armored string
		if err := rows.Scan(&r.Name, &r.Address, &armored); err != nil {
			return nil, fmt.Errorf("distlist: list %q: %w", name, err)
		}
		r.Key, r.KeyErr = d.loadKey(armored, r.Address)
		if r.Key == nil && r.KeyErr == nil && l.Encrypt {
			r.KeyErr = ErrNoKey
		}
		l.Recipients = append(l.Recipients, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("distlist: list %q: %w", name, err)
	}
	if l.Kind == KindTeam && len(l.Recipients) == 0 {
		// A team list without explicit recipients means the team itself.
		team, err := d.Team(ctx)
		if err != nil {
			return nil, err
		}
		for _, m := range team {
			if !m.Away {
				l.Recipients = append(l.Recipients, Recipient{Name: m.Name, Address: m.Address, Key: m.Key, KeyErr: m.KeyErr})
			}
		}
	}
	return l, nil
}

// CaseExtra is a per-case recipient: the reporter or an invited expert.
type CaseExtra struct {
	Recipient
	Role  string // "reporter" or "expert"
	Added time.Time
}

// CaseExtras returns the per-case recipients of caseID.
func (d *Directory) CaseExtras(ctx context.Context, caseID int64) ([]CaseExtra, error) {
	rows, err := d.db.Reader().QueryContext(ctx, `SELECT e.name, e.address, e.role, e.added, coalesce(k.armored, '')
		FROM dir_case_extra e LEFT JOIN dir_key k USING (fingerprint) WHERE e.case_id = ? ORDER BY e.added, e.address`, caseID)
	if err != nil {
		return nil, fmt.Errorf("distlist: case %d extras: %w", caseID, err)
	}
	defer rows.Close()
	var es []CaseExtra
	for rows.Next() {
		var e CaseExtra
		var added int64
		var armored string
		if err := rows.Scan(&e.Name, &e.Address, &e.Role, &added, &armored); err != nil {
			return nil, fmt.Errorf("distlist: case %d extras: %w", caseID, err)
		}
		e.Added = store.Time(added)
		e.Key, e.KeyErr = d.loadKey(armored, e.Address)
		es = append(es, e)
	}
	return es, rows.Err()
}

func normFpr(f string) string {
	return strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(f), " ", ""))
}
