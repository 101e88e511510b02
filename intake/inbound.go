package intake

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"

	"github.com/secgate/secgate/store"
)

// AtRest encrypts stored raw messages; *crypto.Key (the team key) satisfies
// it.
type AtRest interface {
	EncryptAtRest(plain []byte) ([]byte, error)
	DecryptAtRest(ct []byte) ([]byte, error)
}

// Processing states of an inbound message.
const (
	StateStored      = "stored"      // durable, not yet classified
	StateProcessed   = "processed"   // handled; moved to the Processed folder
	StateQuarantined = "quarantined" // held; moved to the Quarantine folder
	StateReleased    = "released"    // released from quarantine by an operator, to be processed again
)

// ErrNotFound is returned for an unknown inbound message.
var ErrNotFound = errors.New("intake: no such inbound message")

// Inbound is one stored message (without its raw bytes).
type Inbound struct {
	ID          int64
	Mailbox     string
	UIDValidity uint32
	UID         uint32
	SHA256      [32]byte
	MessageID   string
	Sender      string
	Size        int64
	Received    time.Time
	State       string
	Class       string
	Reason      string
	CaseID      int64
	Processed   time.Time
	Moved       bool
}

// fetched is a message as fetched from the server.
type fetched struct {
	uid  uint32
	size int64
	raw  []byte
	// spool, instead of raw, is a big message streamed into pieces as it
	// was fetched (spool.go).
	spool *spooled
	// partial is set when only the header was fetched because the message
	// exceeds the size limit.
	partial bool
	// held, when set, stores the message quarantined with class and
	// reason, never to be processed (mail no project owns, storeRouted);
	// otherwise it is stored to be processed, and a reason is a note kept
	// beside its outcome's (Processor.finish).
	held          bool
	class, reason string
	// given is set once the message is stored, as a row inserted then,
	// when the processor may take it as stored (handOver).
	given *storedCopy
}

// mailboxState returns the stored UIDVALIDITY and last UID of mailbox.
func mailboxState(ctx context.Context, db *sql.DB, mailbox string) (uidValidity, lastUID uint32, err error) {
	err = db.QueryRowContext(ctx, `SELECT uidvalidity, last_uid FROM inbound_mailbox WHERE mailbox = ?`, mailbox).Scan(&uidValidity, &lastUID)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, fmt.Errorf("intake: read mailbox state: %w", err)
	}
	return uidValidity, lastUID, nil
}

// resetMailbox records a new UIDVALIDITY; the last UID starts again at 0, so
// the whole mailbox is read again and deduplicated by content hash.
func resetMailbox(ctx context.Context, db *store.DB, mailbox string, uidValidity uint32) error {
	return db.Tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO inbound_mailbox (mailbox, uidvalidity, last_uid) VALUES (?, ?, 0)
			ON CONFLICT (mailbox) DO UPDATE SET uidvalidity = excluded.uidvalidity, last_uid = 0`, mailbox, uidValidity)
		if err != nil {
			return fmt.Errorf("intake: reset mailbox state: %w", err)
		}
		return nil
	})
}

// storeBatch stores the fetched messages and advances the last UID in one
// transaction. A message already stored under the same (mailbox,
// uidvalidity, uid) or with the same content hash is not stored again: after
// a UIDVALIDITY change the existing row takes the new UID so that it can be
// moved. It returns the ids of the rows involved, in order.
func storeBatch(ctx context.Context, db *store.DB, rest AtRest, mailbox string, uidValidity uint32, msgs []fetched, now time.Time) ([]int64, error) {
	var last uint32
	for _, m := range msgs {
		last = max(last, m.uid)
	}
	return storeMessages(ctx, db, rest, mailbox, uidValidity, msgs, now, last)
}

// storeMessages is storeBatch advancing the last UID to last, or leaving
// it when last is 0.
func storeMessages(ctx context.Context, db *store.DB, rest AtRest, mailbox string, uidValidity uint32, msgs []fetched, now time.Time, last uint32) ([]int64, error) {
	type prepared struct {
		sum       [32]byte
		ct        []byte
		mid, from string
	}
	prep := make([]prepared, len(msgs))
	errs := make([]error, len(msgs))
	// Hashing and encryption at rest in parallel, outside the transaction.
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(msgs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				m := msgs[i]
				if m.spool != nil {
					prep[i] = prepared{sum: m.spool.sum}
					prep[i].mid, prep[i].from = headerIdentity(m.spool.head)
					continue
				}
				p := prepared{sum: sha256.Sum256(m.raw)}
				p.mid, p.from = headerIdentity(m.raw)
				ct, err := rest.EncryptAtRest(m.raw)
				if err != nil {
					errs[i] = fmt.Errorf("intake: encrypt uid %d at rest: %w", m.uid, err)
				}
				p.ct = ct
				prep[i] = p
			}
		}()
	}
	for i := range msgs {
		next <- i
	}
	close(next)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	ids := make([]int64, len(msgs))
	inserted := make([]bool, len(msgs))
	err := db.Tx(ctx, func(tx *sql.Tx) error {
		clear(inserted)
		for i, m := range msgs {
			p := prep[i]
			state, processed := StateStored, int64(0)
			if m.held {
				state, processed = StateQuarantined, store.Millis(now)
			}
			// A new message, the common case, takes the insert alone; one
			// whose UID or bytes are stored already inserts nothing, and
			// is then looked up (seen, or moved).
			err := tx.QueryRowContext(ctx, `INSERT INTO inbound (mailbox, uidvalidity, uid, sha256, message_id, sender, size, received, state, class, reason, processed)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id`,
				mailbox, uidValidity, m.uid, p.sum[:], p.mid, p.from, m.size, store.Millis(now), state, m.class, m.reason, processed).Scan(&ids[i])
			if errors.Is(err, sql.ErrNoRows) {
				if ids[i], err = storedBefore(ctx, tx, mailbox, uidValidity, m.uid, p.sum); err != nil {
					return err
				}
				if err := m.dropSpool(ctx, tx); err != nil {
					return err
				}
				continue
			}
			if err != nil {
				return fmt.Errorf("intake: store uid %d: %w", m.uid, err)
			}
			inserted[i] = true
			col := store.Inline(p.ct)
			if m.spool != nil {
				col = []byte{} // in pieces: claimSpool
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO inbound_raw (inbound_id, raw) VALUES (?, ?)`, ids[i], col); err != nil {
				return fmt.Errorf("intake: store uid %d: %w", m.uid, err)
			}
			if err := store.Spill(ctx, tx, "inbound", ids[i], p.ct); err != nil {
				return fmt.Errorf("intake: store uid %d: %w", m.uid, err)
			}
			if m.spool != nil {
				if err := claimSpool(ctx, tx, m.spool, ids[i]); err != nil {
					return fmt.Errorf("intake: store uid %d: %w", m.uid, err)
				}
			}
		}
		if last == 0 {
			return nil
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO inbound_mailbox (mailbox, uidvalidity, last_uid) VALUES (?, ?, ?)
			ON CONFLICT (mailbox) DO UPDATE SET uidvalidity = excluded.uidvalidity, last_uid = max(last_uid, excluded.last_uid)`,
			mailbox, uidValidity, last)
		if err != nil {
			return fmt.Errorf("intake: advance last uid: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for i, p := range prep {
		if inserted[i] {
			msgs[i].given = handOver(&msgs[i], ids[i], mailbox, uidValidity, p.sum, p.mid, p.from, now)
		}
	}
	return ids, nil
}

// storedBefore returns the inbound row of a message whose insert did
// nothing: the one with its UID, or the one with its bytes (a UIDVALIDITY
// change, or the very same message delivered again), which then follows
// it to its new place.
func storedBefore(ctx context.Context, tx *sql.Tx, mailbox string, uidValidity, uid uint32, sum [32]byte) (int64, error) {
	var id int64
	err := tx.QueryRowContext(ctx, `SELECT id FROM inbound WHERE mailbox = ? AND uidvalidity = ? AND uid = ?`,
		mailbox, uidValidity, uid).Scan(&id)
	if err == nil {
		return id, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("intake: look up uid %d: %w", uid, err)
	}
	if err := tx.QueryRowContext(ctx, `SELECT id FROM inbound WHERE sha256 = ?`, sum[:]).Scan(&id); err != nil {
		return 0, fmt.Errorf("intake: look up hash of uid %d: %w", uid, err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE inbound SET mailbox = ?, uidvalidity = ?, uid = ?, moved = 0 WHERE id = ?`,
		mailbox, uidValidity, uid, id); err != nil {
		return 0, fmt.Errorf("intake: relocate inbound %d: %w", id, err)
	}
	return id, nil
}

// pending returns the ids of stored messages that still await processing.
func pending(ctx context.Context, db *sql.DB) ([]int64, error) {
	return queryIDs(ctx, db, `SELECT id FROM inbound WHERE state IN ('stored', 'released') ORDER BY id`)
}

func queryIDs(ctx context.Context, db *sql.DB, q string, args ...any) ([]int64, error) {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("intake: query: %w", err)
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("intake: query: %w", err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("intake: query: %w", err)
	}
	return ids, nil
}

// move is a set of messages to move on the server to one folder.
type move struct {
	ids  []int64
	uids []uint32
}

// pendingMovesQuery finds the handled messages still in a mailbox. It
// searches the index on (state, moved), which holds few rows not moved;
// "+mailbox" and "+uidvalidity" keep SQLite from the index on (mailbox,
// uidvalidity, uid), which would read every message the mailbox ever held
// under its UIDVALIDITY (years of them: a mailbox keeps its UIDVALIDITY)
// at every poll.
const pendingMovesQuery = `SELECT id, uid, state FROM inbound
	WHERE moved = 0 AND state IN ('processed', 'quarantined') AND +mailbox = ? AND +uidvalidity = ? ORDER BY uid`

// pendingMoves returns, per destination state, the handled messages of the
// current UIDVALIDITY that are still in the watched mailbox.
func pendingMoves(ctx context.Context, db *sql.DB, mailbox string, uidValidity uint32) (map[string]*move, error) {
	rows, err := db.QueryContext(ctx, pendingMovesQuery, mailbox, uidValidity)
	if err != nil {
		return nil, fmt.Errorf("intake: pending moves: %w", err)
	}
	defer rows.Close()
	out := map[string]*move{}
	for rows.Next() {
		var id int64
		var uid uint32
		var state string
		if err := rows.Scan(&id, &uid, &state); err != nil {
			return nil, fmt.Errorf("intake: pending moves: %w", err)
		}
		mv := out[state]
		if mv == nil {
			mv = &move{}
			out[state] = mv
		}
		mv.ids = append(mv.ids, id)
		mv.uids = append(mv.uids, uid)
	}
	return out, rows.Err()
}

// markMoved records that the messages ids were moved, in one statement
// whatever their number.
func markMoved(ctx context.Context, db *store.DB, ids []int64) error {
	js, err := json.Marshal(ids)
	if err != nil {
		return fmt.Errorf("intake: mark moved: %w", err)
	}
	return db.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE inbound SET moved = 1 WHERE id IN (SELECT value FROM json_each(?))`, string(js)); err != nil {
			return fmt.Errorf("intake: mark %d messages moved: %w", len(ids), err)
		}
		return nil
	})
}

// getInbound reads the row of one inbound message.
func getInbound(ctx context.Context, q queryer, id int64) (*Inbound, error) {
	var in Inbound
	var sum []byte
	var received, processed int64
	var caseID sql.NullInt64
	err := q.QueryRowContext(ctx, `SELECT id, mailbox, uidvalidity, uid, sha256, message_id, sender, size, received, state, class, reason, case_id, processed, moved
		FROM inbound WHERE id = ?`, id).Scan(&in.ID, &in.Mailbox, &in.UIDValidity, &in.UID, &sum, &in.MessageID, &in.Sender, &in.Size,
		&received, &in.State, &in.Class, &in.Reason, &caseID, &processed, &in.Moved)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: %d", ErrNotFound, id)
	}
	if err != nil {
		return nil, fmt.Errorf("intake: read inbound %d: %w", id, err)
	}
	copy(in.SHA256[:], sum)
	in.Received = store.Time(received)
	in.Processed = store.Time(processed)
	in.CaseID = caseID.Int64
	return &in, nil
}

// rawMessage reads and decrypts the raw bytes of one inbound message.
func rawMessage(ctx context.Context, q queryer, rest AtRest, id int64) ([]byte, error) {
	var ct []byte
	err := q.QueryRowContext(ctx, `SELECT raw FROM inbound_raw WHERE inbound_id = ?`, id).Scan(&ct)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: %d", ErrNotFound, id)
	}
	if err != nil {
		return nil, fmt.Errorf("intake: read inbound %d: %w", id, err)
	}
	if len(ct) == 0 {
		return openSpilled(ctx, q, rest, id)
	}
	if ct, err = store.Unspill(ctx, q, "inbound", id, ct); err != nil {
		return nil, fmt.Errorf("intake: read inbound %d: %w", id, err)
	}
	raw, err := rest.DecryptAtRest(ct)
	if err != nil {
		return nil, fmt.Errorf("intake: decrypt inbound %d: %w", id, err)
	}
	return raw, nil
}

type queryer interface {
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
}

// headerIdentity extracts the Message-ID and the From address of a raw
// message, best effort: a broken header gives empty strings.
func headerIdentity(raw []byte) (messageID, from string) {
	h, err := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(raw)))
	if err != nil && h.Len() == 0 {
		return "", ""
	}
	mh := mail.Header{Header: message.Header{Header: h}}
	messageID, _ = mh.MessageID()
	if list, err := mh.AddressList("From"); err == nil && len(list) > 0 {
		from = strings.ToLower(list[0].Address)
	}
	return messageID, from
}
