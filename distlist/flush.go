package distlist

import (
	"context"
	"errors"
)

// Flush delivers every row that is due now, synchronously over one
// connection, and returns when none is left: Run without the goroutines,
// for `secgate outbox flush` and tests. It fails while Run is active.
func (o *Outbox) Flush(ctx context.Context) error {
	if !o.running.TryLock() {
		return errors.New("distlist: outbox is already running")
	}
	defer o.running.Unlock()
	if err := o.recover(ctx); err != nil {
		return err
	}
	s := &sender{o: o}
	defer s.close()
	for {
		jobs, _, err := o.claim(ctx, 64)
		if err != nil {
			return err
		}
		if len(jobs) == 0 {
			return nil
		}
		for _, j := range jobs {
			batch := []result{{j: j, out: s.safeDeliver(ctx, j)}}
			o.bufs.put(j.raw)
			j.raw = nil
			if err := o.recordBatch(ctx, batch); err != nil {
				return err
			}
			o.recorded(batch)
		}
	}
}
