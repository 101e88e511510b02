package intake

import (
	"context"
	"time"

	"github.com/secgate/secgate/store"
)

// handOverMax bounds the messages the poller hands to the processor as it
// stored them. A bigger one is read back from the database, as one stored
// in pieces is read from its pieces, never held whole between the two.
const handOverMax = 256 << 10

// storedCopy is a message as the poller stored it: its row's values and
// the bytes it sealed at rest, handed to the processor once the row is
// committed, so that the processor neither reads the row and the bytes
// back nor decrypts them again. What the processor decides on is what
// the database holds: the copy is made of the values inserted, and only
// of a row inserted then (not one found stored before, whose state and
// bytes are the database's). After a restart, or when a handed message
// fails, the processor reads the stored copy (holdBroken, processPending).
type storedCopy struct {
	in  Inbound
	raw []byte
}

// handOver returns the copy of m, inserted at now as row id with its
// SHA-256, Message-ID and sender, that the processor may take instead of
// reading it back, or nil when m is stored quarantined (never processed),
// in pieces, or bigger than handOverMax.
func handOver(m *fetched, id int64, mailbox string, uidValidity uint32, sum [32]byte, messageID, sender string, now time.Time) *storedCopy {
	if m.held || m.spool != nil || m.raw == nil || len(m.raw) > handOverMax {
		return nil
	}
	return &storedCopy{raw: m.raw, in: Inbound{
		ID: id, Mailbox: mailbox, UIDValidity: uidValidity, UID: m.uid, SHA256: sum,
		MessageID: messageID, Sender: sender, Size: m.size,
		// As stored: in milliseconds, read back in UTC (store.Time).
		Received: store.Time(store.Millis(now)),
		State:    StateStored, Class: m.class, Reason: m.reason,
	}}
}

// handedOver returns the copies of msgs, stored as ids, by id.
func handedOver(msgs []fetched, ids []int64) map[int64]*storedCopy {
	var given map[int64]*storedCopy
	for i := range msgs {
		if c := msgs[i].given; c != nil && i < len(ids) && c.in.ID == ids[i] {
			if given == nil {
				given = make(map[int64]*storedCopy, len(msgs))
			}
			given[ids[i]] = c
		}
	}
	return given
}

// storedHandler is a BatchHandler that takes the messages the poller
// hands over with their ids (*Processor).
type storedHandler interface {
	processStored(ctx context.Context, ids []int64, given map[int64]*storedCopy) error
}

// processStored processes ids in order as ProcessBatch does, preparing
// those handed over in given from their copies. One message alone is
// processed as Process does, in a transaction of its own.
func (p *Processor) processStored(ctx context.Context, ids []int64, given map[int64]*storedCopy) error {
	if len(ids) == 1 {
		return p.processOne(ctx, ids[0], given[ids[0]])
	}
	return p.processBatch(ctx, ids, given)
}

// inbound returns message id's row: the one handed over, or else the
// database's.
func (p *Processor) inbound(ctx context.Context, id int64, given *storedCopy) (*Inbound, error) {
	if given != nil && given.in.ID == id {
		in := given.in
		return &in, nil
	}
	return getInbound(ctx, p.o.DB.Reader(), id)
}

// loadGiven is load of a message handed over: its bytes are the ones
// stored, whole (handOver takes no message stored in pieces).
func (m *msgCtx) loadGiven(ctx context.Context, given *storedCopy) error {
	if given == nil || given.in.ID != m.in.ID {
		return m.load(ctx)
	}
	m.raw = given.raw
	m.insp, m.limitErr = Inspect(m.raw, m.p.lim)
	return nil
}
