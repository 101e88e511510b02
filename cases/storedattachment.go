package cases

import (
	"context"
	"database/sql"
	"fmt"
	"io"

	"github.com/secgate/secgate/store"
)

// Stored is an attachment's content held out of memory (the message's
// big attachments, decoded into sealed pieces as intake read them): read
// from its start as often as wanted.
type Stored interface {
	Open() (io.Reader, error)
	Size() int64
}

// streamSealer is an AtRest that seals as a stream (*crypto.Key).
type streamSealer interface {
	SealAtRest(w io.Writer) (io.WriteCloser, error)
}

// insertStored stores the attachment a whose content a.Stored holds: read
// and sealed at rest straight into the pieces of its row, in tx, so that
// it is never whole in memory, neither in clear nor sealed. An AtRest
// that cannot seal as a stream seals it whole.
func (w *Workflow) insertStored(ctx context.Context, tx *sql.Tx, msgID int64, a Attachment) error {
	ss, ok := w.atRest.(streamSealer)
	if !ok {
		r, err := a.Stored.Open()
		if err != nil {
			return fmt.Errorf("cases: store attachment: %w", err)
		}
		if a.Data, err = io.ReadAll(r); err != nil {
			return fmt.Errorf("cases: store attachment: %w", err)
		}
		a.Stored = nil
		return w.insertAttachment(ctx, tx, msgID, a, nil, nil)
	}
	name, err := w.atRest.EncryptAtRest([]byte(a.Filename))
	if err != nil {
		return fmt.Errorf("cases: encrypt attachment: %w", err)
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO case_attachments (message_id, content_type, size, name_enc, data_enc)
		VALUES (?, ?, ?, ?, ?)`, msgID, a.ContentType, a.Stored.Size(), name, []byte{})
	if err != nil {
		return fmt.Errorf("cases: store attachment: %w", err)
	}
	aid, err := res.LastInsertId()
	if err != nil {
		return err
	}
	r, err := a.Stored.Open()
	if err != nil {
		return fmt.Errorf("cases: store attachment: %w", err)
	}
	bw := store.NewBlobWriter(ctx, tx, "case_attachments", aid)
	seal, err := ss.SealAtRest(bw)
	if err != nil {
		return fmt.Errorf("cases: encrypt attachment: %w", err)
	}
	n, err := io.Copy(seal, r)
	if err == nil && n != a.Stored.Size() {
		err = fmt.Errorf("read %d of its %d bytes", n, a.Stored.Size())
	}
	if err == nil {
		err = seal.Close()
	}
	if err == nil {
		err = bw.Close()
	}
	if err != nil {
		return fmt.Errorf("cases: store attachment: %w", err)
	}
	return nil
}
