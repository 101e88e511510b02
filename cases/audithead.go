package cases

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/secgate/secgate/crypto"
	"github.com/secgate/secgate/store"
	"github.com/secgate/secgate/templates"
)

// ErrAuditUnsigned is returned when audit events are covered by no signed
// head: a database from before signed heads, or events written while the
// team key could not sign. Nothing then shows they were not rewritten.
var ErrAuditUnsigned = errors.New("audit log not signed")

// A Head is a signed audit head. The audit log is every case's chain and
// the gateway log, taken together in the order the events were written;
// Hash folds the hashes of its first Events events, each into the one
// before:
//
//	fold(0) = 64 zeros
//	fold(n) = hex(SHA-256(fold(n-1) || hash of event n))
//
// Each event's hash covers its fields and the previous event of its case,
// so a head covers every event before it: an event rewritten, removed or
// inserted, even with every later hash recomputed, no longer folds to
// Hash, and only the team key can sign a new head. The gateway signs a
// head at every event, in the transaction that writes it, and keeps them
// all (table audit_head). The team key signs Text, a text signature that
// gpg checks too.
type Head struct {
	Events    int64
	Hash      string
	At        time.Time
	Signature string // armored detached signature of Text
}

const headTitle = "secgate audit head"

// Text is what the team key signs: four lines, each ending in a newline.
func (h Head) Text() string {
	return fmt.Sprintf("%s\nevents: %d\nhash: %s\ntime: %s\n", headTitle, h.Events, h.Hash, h.At.UTC().Format(time.RFC3339))
}

// Signed is Text followed by the signature, as the key report mails it and
// as `secgate audit verify -head FILE` reads it back.
func (h Head) Signed() string {
	s := h.Signature
	if !strings.HasSuffix(s, "\n") {
		s += "\n"
	}
	return h.Text() + s
}

// Verify checks that team signed h.
func (h Head) Verify(team *crypto.Key) error {
	if team == nil {
		return errors.New("no team key to check the head with")
	}
	if _, err := team.VerifyDetached([]byte(h.Text()), []byte(h.Signature)); err != nil {
		return err
	}
	return nil
}

// ParseHead reads a signed head from text that holds one, such as the key
// report mail: the line "secgate audit head", its fields, and the armored
// signature after them. Line ends and trailing blanks do not matter: the
// text is made again from the fields.
func ParseHead(b []byte) (Head, error) {
	var (
		h             Head
		in, sig, done bool
		heads         int
		sigLines      []string
		fields        = map[string]bool{}
	)
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == headTitle:
			heads++
			in = !done
		case sig:
			sigLines = append(sigLines, line)
			if line == "-----END PGP SIGNATURE-----" {
				sig, done = false, true
			}
		case !in:
		case line == "-----BEGIN PGP SIGNATURE-----":
			sig, in = true, false
			sigLines = append(sigLines, line)
		case line == "":
		default:
			k, v, ok := strings.Cut(line, ":")
			if !ok {
				return Head{}, fmt.Errorf("cases: audit head: unexpected line %q", line)
			}
			v = strings.TrimSpace(v)
			if fields[k] {
				return Head{}, fmt.Errorf("cases: audit head: field %s given twice", k)
			}
			fields[k] = true
			var err error
			switch k {
			case "events":
				h.Events, err = strconv.ParseInt(v, 10, 64)
				if err == nil && h.Events < 1 {
					err = errors.New("not positive")
				}
			case "hash":
				h.Hash = v
				if b, herr := hex.DecodeString(v); herr != nil || len(b) != sha256.Size || strings.ToLower(v) != v {
					err = errors.New("not 64 lower-case hex digits")
				}
			case "time":
				h.At, err = time.Parse(time.RFC3339, v)
			default:
				err = errors.New("unknown field")
			}
			if err != nil {
				return Head{}, fmt.Errorf("cases: audit head: %s %q: %v", k, v, err)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return Head{}, fmt.Errorf("cases: audit head: %w", err)
	}
	switch {
	case heads == 0:
		return Head{}, fmt.Errorf("cases: audit head: no line %q", headTitle)
	case heads > 1:
		return Head{}, fmt.Errorf("cases: audit head: %d heads, want one", heads)
	case !fields["events"] || !fields["hash"] || !fields["time"]:
		return Head{}, errors.New("cases: audit head: want the fields events, hash and time")
	case !done:
		return Head{}, errors.New("cases: audit head: no complete armored signature after it")
	}
	h.Signature = strings.Join(sigLines, "\n") + "\n"
	return h, nil
}

// foldHead folds an event's hash into the head hash before it.
func foldHead(prev, eventHash string) string {
	h := sha256.Sum256([]byte(prev + eventHash))
	return hex.EncodeToString(h[:])
}

// headSigner signs the audit heads with the team key. It remembers the
// last head it signed: when that is the newest stored head, its signature
// need not be checked again before it is extended.
type headSigner struct {
	key *crypto.Key // private team key; nil in a read-only view, which signs nothing

	mu   sync.Mutex
	last Head
}

// canSign reports whether s holds the private team key.
func (s *headSigner) canSign() bool { return s.key != nil && s.key.IsPrivate() }

// vouch checks that the team key signed h, the newest stored head.
func (s *headSigner) vouch(h Head) error {
	s.mu.Lock()
	last := s.last
	s.mu.Unlock()
	if h.Events == last.Events && h.Hash == last.Hash && h.At.Equal(last.At) && h.Signature == last.Signature {
		return nil
	}
	return h.Verify(s.key)
}

func (s *headSigner) sign(h Head) (Head, error) {
	sig, err := s.key.SignDetached([]byte(h.Text()), h.At)
	if err != nil {
		return Head{}, err
	}
	h.Signature = sig
	s.mu.Lock()
	s.last = h
	s.mu.Unlock()
	return h, nil
}

// extendHead signs the head after event e, whose row id is id, inside the
// transaction that wrote it. The gateway extends only a head it can vouch
// for: the newest stored head must carry the team key's signature and
// cover every event before e (row ids count the events from 1). Otherwise
// e is written unsigned and the error logged: signing a head over events
// the gateway did not see it hash would sign a rewrite. Verification then
// reports the unsigned events until an operator runs `secgate audit sign`.
func (w *Workflow) extendHead(ctx context.Context, tx *sql.Tx, id int64, e AuditEvent) error {
	if !w.heads.canSign() {
		return nil
	}
	prev, ok, err := newestHead(ctx, tx)
	if err != nil {
		return err
	}
	return w.extendHeadFrom(ctx, tx, id, e, prev, ok)
}

// extendHeadFrom is extendHead after prev, the newest stored head read in
// tx after event e was written (ok false: there is none).
func (w *Workflow) extendHeadFrom(ctx context.Context, tx *sql.Tx, id int64, e AuditEvent, prev Head, ok bool) error {
	if !w.heads.canSign() {
		return nil
	}
	if !ok {
		prev = Head{Hash: genesis}
	} else if err := w.heads.vouch(prev); err != nil {
		w.log.Error("audit event written unsigned: the newest signed head does not verify (see secgate audit verify)",
			"case", e.CaseID, "seq", e.Seq, "head_events", prev.Events, "err", err)
		return nil
	}
	if id != prev.Events+1 {
		w.log.Error("audit event written unsigned: events before it are covered by no signed head (see secgate audit verify; secgate audit sign signs them)",
			"case", e.CaseID, "seq", e.Seq, "head_events", prev.Events, "event", id)
		return nil
	}
	h, err := w.heads.sign(Head{Events: id, Hash: foldHead(prev.Hash, e.Hash), At: e.At})
	if err != nil {
		w.log.Error("audit event written unsigned: the team key cannot sign", "case", e.CaseID, "seq", e.Seq, "err", err)
		return nil
	}
	return insertHead(ctx, tx, h)
}

func insertHead(ctx context.Context, tx *sql.Tx, h Head) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO audit_head (events, hash, at, signature) VALUES (?, ?, ?, ?)`,
		h.Events, h.Hash, store.Millis(h.At), h.Signature); err != nil {
		return fmt.Errorf("cases: audit head %d: %w", h.Events, err)
	}
	return nil
}

// newestHead returns the stored head that covers the most events.
func newestHead(ctx context.Context, q querier) (Head, bool, error) {
	var h Head
	var at int64
	err := q.QueryRowContext(ctx, `SELECT events, hash, at, signature FROM audit_head ORDER BY events DESC LIMIT 1`).
		Scan(&h.Events, &h.Hash, &at, &h.Signature)
	if errors.Is(err, sql.ErrNoRows) {
		return Head{}, false, nil
	}
	if err != nil {
		return Head{}, false, fmt.Errorf("cases: audit head: %w", err)
	}
	h.At = store.Time(at)
	return h, true, nil
}

// AuditHead returns the newest signed head stored, without checking it;
// ok is false when there is none yet.
func (w *Workflow) AuditHead(ctx context.Context) (h Head, ok bool, err error) {
	return newestHead(ctx, w.db.Reader())
}

// AuditCheck is what VerifyAuditLog found.
type AuditCheck struct {
	Events int64        // events in the whole log
	Chains []ChainCheck // every chain with events, by case ID (the gateway log first)
	// Head is the check of the newest signed head stored; nil when there
	// is none.
	Head *HeadCheck
	// Unsigned counts the events after the newest signed head (all of
	// them without one): no signature covers them.
	Unsigned int64
	Held     []HeadCheck // the heads given to VerifyAuditLog, in order
	// CaseOnly is set by VerifyCaseAudit's short way: one case's chain
	// and the heads at its newest event and at the log's newest were
	// checked, not the rest of the log (Chains holds that case alone).
	CaseOnly bool
}

// ChainCheck is the check of one chain: every event's hash and its link
// to the event before.
type ChainCheck struct {
	CaseID int64
	Ref    string // the case's reference; "" for the gateway log or a case that is gone
	Events int
	Err    error // wraps ErrAuditBroken; nil when the chain holds
}

// HeadCheck is the check of one signed head against the log.
type HeadCheck struct {
	Head
	Err error // nil when the team key signed it and the first Head.Events events fold to Head.Hash
}

// Err joins every failure: a broken chain, a head that does not verify or
// does not match, events no signed head covers. It is nil when every
// chain holds and the newest signed head covers the whole log (or the log
// is empty).
func (c *AuditCheck) Err() error { return errors.Join(c.Errs()...) }

// Errs lists the failures Err joins, each on its own.
func (c *AuditCheck) Errs() []error {
	var errs []error
	for _, ch := range c.Chains {
		if ch.Err != nil {
			errs = append(errs, ch.Err)
		}
	}
	if c.Head != nil && c.Head.Err != nil {
		errs = append(errs, c.Head.Err)
	}
	if c.Unsigned > 0 {
		switch {
		case c.Head == nil && c.Unsigned == 1:
			errs = append(errs, fmt.Errorf("%w: no signed head: the log's one event is not covered by the team key's signature", ErrAuditUnsigned))
		case c.Head == nil:
			errs = append(errs, fmt.Errorf("%w: no signed head: none of the %d events is covered by the team key's signature", ErrAuditUnsigned, c.Unsigned))
		case c.Unsigned == 1:
			errs = append(errs, fmt.Errorf("%w: the last of the %d events comes after the newest signed head and is covered by no signature", ErrAuditUnsigned, c.Events))
		default:
			errs = append(errs, fmt.Errorf("%w: the last %d of %d events come after the newest signed head and are covered by no signature", ErrAuditUnsigned, c.Unsigned, c.Events))
		}
	}
	for _, h := range c.Held {
		if h.Err != nil {
			errs = append(errs, h.Err)
		}
	}
	return errs
}

// Chain returns the check of caseID's chain (zero events when it has none).
func (c *AuditCheck) Chain(caseID int64) ChainCheck {
	for _, ch := range c.Chains {
		if ch.CaseID == caseID {
			return ch
		}
	}
	return ChainCheck{CaseID: caseID}
}

// VerifyAuditLog checks the whole audit log: every chain (each event's
// hash, each link to the event before, sequence numbers without gaps), the
// newest signed head stored (signed by team, the public team key; the
// log's first events fold to it; no event after it) and each of held,
// heads members kept (signed by team; the log's first events fold to it).
// The error is for a log that cannot be read; what the log holds is in
// the AuditCheck.
func (w *Workflow) VerifyAuditLog(ctx context.Context, team *crypto.Key, held ...Head) (*AuditCheck, error) {
	if team == nil {
		return nil, errors.New("cases: verify audit log: no team key")
	}
	tx, err := w.db.Reader().BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("cases: verify audit log: %w", err)
	}
	defer tx.Rollback()
	l, err := readLog(ctx, tx)
	if err != nil {
		return nil, err
	}
	return l.check(team, held), nil
}

// auditLogAll is the whole audit log read in one transaction.
type auditLogAll struct {
	events []AuditEvent // in the order written
	refs   map[int64]string
	heads  []Head // stored heads by events, without signatures but the newest's
}

func readLog(ctx context.Context, q querier) (*auditLogAll, error) {
	l := &auditLogAll{refs: map[int64]string{}}
	rows, err := q.QueryContext(ctx, `SELECT case_id, seq, at, actor, action, detail, source, prev_hash, hash FROM case_audit ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("cases: audit log: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var e AuditEvent
		var at int64
		if err := rows.Scan(&e.CaseID, &e.Seq, &at, &e.Actor, &e.Action, &e.Detail, &e.Source, &e.PrevHash, &e.Hash); err != nil {
			return nil, fmt.Errorf("cases: audit log: %w", err)
		}
		e.At = store.Time(at)
		l.events = append(l.events, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cases: audit log: %w", err)
	}
	rows, err = q.QueryContext(ctx, `SELECT id, ref FROM cases UNION ALL SELECT id, ref FROM archived_case`)
	if err != nil {
		return nil, fmt.Errorf("cases: audit log: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var ref string
		if err := rows.Scan(&id, &ref); err != nil {
			return nil, fmt.Errorf("cases: audit log: %w", err)
		}
		l.refs[id] = ref
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cases: audit log: %w", err)
	}
	rows, err = q.QueryContext(ctx, `SELECT events, hash, at FROM audit_head ORDER BY events`)
	if err != nil {
		return nil, fmt.Errorf("cases: audit heads: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var h Head
		var at int64
		if err := rows.Scan(&h.Events, &h.Hash, &at); err != nil {
			return nil, fmt.Errorf("cases: audit heads: %w", err)
		}
		h.At = store.Time(at)
		l.heads = append(l.heads, h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cases: audit heads: %w", err)
	}
	if len(l.heads) > 0 {
		newest, _, err := newestHead(ctx, q)
		if err != nil {
			return nil, err
		}
		l.heads[len(l.heads)-1] = newest
	}
	return l, nil
}

// name names event n (1-based, in the order written) for messages.
func (l *auditLogAll) name(n int64) string {
	e := l.events[n-1]
	if e.CaseID == GatewayLog {
		return fmt.Sprintf("event %d (gateway log #%d)", n, e.Seq)
	}
	if ref := l.refs[e.CaseID]; ref != "" {
		return fmt.Sprintf("event %d (%s #%d)", n, ref, e.Seq)
	}
	return fmt.Sprintf("event %d (case %d #%d)", n, e.CaseID, e.Seq)
}

func (l *auditLogAll) check(team *crypto.Key, held []Head) *AuditCheck {
	c := &AuditCheck{Events: int64(len(l.events))}
	byCase := map[int64][]AuditEvent{}
	var ids []int64
	for _, e := range l.events {
		if _, ok := byCase[e.CaseID]; !ok {
			ids = append(ids, e.CaseID)
		}
		byCase[e.CaseID] = append(byCase[e.CaseID], e)
	}
	slices.Sort(ids)
	for _, id := range ids {
		evs := byCase[id]
		slices.SortStableFunc(evs, func(a, b AuditEvent) int { return cmp.Compare(a.Seq, b.Seq) })
		_, err := verifyChain(evs)
		c.Chains = append(c.Chains, ChainCheck{CaseID: id, Ref: l.refs[id], Events: len(evs), Err: err})
	}
	fold := make([]string, len(l.events)+1)
	fold[0] = genesis
	for i, e := range l.events {
		fold[i+1] = foldHead(fold[i], e.Hash)
	}
	c.Unsigned = c.Events
	if n := len(l.heads); n > 0 {
		newest := l.heads[n-1]
		hc := l.checkHead(team, fold, newest, "the newest signed head")
		if hc.Err != nil && newest.Events <= c.Events {
			hc.Err = fmt.Errorf("%w%s", hc.Err, l.firstMismatch(fold, newest.Events))
		}
		c.Head = &hc
		c.Unsigned = max(0, c.Events-newest.Events)
	}
	for _, h := range held {
		c.Held = append(c.Held, l.checkHead(team, fold, h, "the held head"))
	}
	return c
}

// checkHead checks h's signature and that the log's first h.Events events
// fold to h.Hash.
func (l *auditLogAll) checkHead(team *crypto.Key, fold []string, h Head, what string) HeadCheck {
	hc := HeadCheck{Head: h}
	desc := fmt.Sprintf("%s of %s (%s)", what, h.At.UTC().Format(time.RFC3339), templates.Count(int(h.Events), "event"))
	total := int64(len(fold) - 1)
	if err := h.Verify(team); err != nil {
		hc.Err = fmt.Errorf("%w: %s is not signed by the team key: %v", ErrAuditBroken, desc, err)
		return hc
	}
	switch {
	case h.Events > total:
		hc.Err = fmt.Errorf("%w: %s covers more events than the log holds (%d): events were removed", ErrAuditBroken, desc, total)
	case h.Events < 1:
		hc.Err = fmt.Errorf("%w: %s covers no events", ErrAuditBroken, desc)
	case fold[h.Events] != h.Hash:
		first := fmt.Sprintf("first %d events do", h.Events)
		if h.Events == 1 {
			first = "first event does"
		}
		hc.Err = fmt.Errorf("%w: the log's %s not hash to %s: an event was changed, removed or inserted", ErrAuditBroken, first, desc)
	}
	return hc
}

// firstMismatch says where the stored heads, one per event, first stop
// matching the log, up to the head covering upto events. The older heads'
// signatures are not checked: this says where to look, the newest head
// says whether the log holds.
func (l *auditLogAll) firstMismatch(fold []string, upto int64) string {
	for _, h := range l.heads {
		if h.Events > upto || h.Events < 1 {
			break
		}
		if fold[h.Events] != h.Hash {
			return fmt.Sprintf("; the stored heads first disagree at %s", l.name(h.Events))
		}
	}
	return ""
}

// SignAuditHead signs a head over the whole log as it is now: for a
// database from before signed heads, or after events were written
// unsigned (the team key could not sign). Every chain must hold and the
// newest signed head, if there is one, must verify: the events after it
// (all of them without one) are taken on trust, and their number is
// returned. A log the newest head covers already is left as it is.
func (w *Workflow) SignAuditHead(ctx context.Context) (h Head, trusted int64, err error) {
	if !w.heads.canSign() {
		return Head{}, 0, errors.New("cases: sign audit head: the private team key is not loaded")
	}
	err = w.db.Tx(ctx, func(tx *sql.Tx) error {
		l, err := readLog(ctx, tx)
		if err != nil {
			return err
		}
		c := l.check(w.heads.key, nil)
		var errs []error
		for _, ch := range c.Chains {
			errs = append(errs, ch.Err)
		}
		if c.Head != nil {
			errs = append(errs, c.Head.Err)
		}
		if err := errors.Join(errs...); err != nil {
			return fmt.Errorf("cases: sign audit head: the log does not verify, nothing signed: %w", err)
		}
		if c.Events == 0 {
			return errors.New("cases: sign audit head: the audit log is empty")
		}
		if c.Unsigned == 0 {
			h = c.Head.Head
			return nil
		}
		fold := genesis
		for _, e := range l.events {
			fold = foldHead(fold, e.Hash)
		}
		if h, err = w.heads.sign(Head{Events: c.Events, Hash: fold, At: w.now()}); err != nil {
			return fmt.Errorf("cases: sign audit head: %w", err)
		}
		trusted = c.Unsigned
		return insertHead(ctx, tx, h)
	})
	return h, trusted, err
}
