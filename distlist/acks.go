package distlist

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/secgate/secgate/store"
)

// Copy is one recipient's copy of a notice as the outbox holds it: what an
// acknowledgement table shows as sent and delivered, read from the row
// itself rather than kept twice.
type Copy struct {
	NoticeID  string
	Kind      string
	List      string // the directory list it went to
	Recipient string // lower-case address
	MessageID string // without <>
	Queued    time.Time
	State     string    // queued, sending, sent, deferred, failed, bounced
	Delivered time.Time // the SMTP 250; zero until then (and for a row that did not go out)
	Reply     string    // the last reply ("withdrawn: ..." for a row withdrawn before it went out)
}

const copyCols = `notice_id, kind, list, recipient, message_id, created, state, finished, last_reply`

func scanCopies(ctx context.Context, q querier, query string, args ...any) ([]Copy, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+copyCols+` FROM outbox `+query, args...)
	if err != nil {
		return nil, fmt.Errorf("distlist: notice copies: %w", err)
	}
	defer rows.Close()
	var out []Copy
	for rows.Next() {
		var c Copy
		var queued, finished int64
		if err := rows.Scan(&c.NoticeID, &c.Kind, &c.List, &c.Recipient, &c.MessageID, &queued, &c.State, &finished, &c.Reply); err != nil {
			return nil, fmt.Errorf("distlist: notice copies: %w", err)
		}
		c.Queued = store.Time(queued)
		if c.State == StateSent {
			c.Delivered = store.Time(finished)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// NoticeCopies returns every recipient's copy of the notices named, read
// through q (a transaction or the read pool), in the order they were
// queued.
func NoticeCopies(ctx context.Context, q querier, notices []string) ([]Copy, error) {
	if len(notices) == 0 {
		return nil, nil
	}
	js, err := json.Marshal(notices)
	if err != nil {
		return nil, err
	}
	return scanCopies(ctx, q, `WHERE notice_id IN (SELECT value FROM json_each(?)) ORDER BY id`, string(js))
}

// CopiesByMessageID returns the rows whose Message-ID is one of ids (with
// or without <>): the mail a reply's thread names.
func CopiesByMessageID(ctx context.Context, q querier, ids []string) ([]Copy, error) {
	var clean []string
	for _, id := range ids {
		if id = strings.Trim(strings.TrimSpace(id), "<>"); id != "" {
			clean = append(clean, id)
		}
	}
	if len(clean) == 0 {
		return nil, nil
	}
	js, err := json.Marshal(clean)
	if err != nil {
		return nil, err
	}
	return scanCopies(ctx, q, `WHERE message_id IN (SELECT value FROM json_each(?)) ORDER BY id`, string(js))
}
