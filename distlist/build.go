package distlist

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"sync"
)

// buildOrdered runs build on every item, on up to one goroutine per CPU,
// and write on each built item in order on the calling goroutine, so that
// sealing the next messages overlaps with writing the last ones. At most
// window items are built ahead of write. The first error of write stops
// the building and is returned once every started build has ended.
func buildOrdered(items []*pending, window int, build func(*pending), write func(*pending) error) error {
	cpus := runtime.GOMAXPROCS(0)
	if cpus <= 1 || len(items) <= 1 {
		for _, p := range items {
			build(p)
			if err := write(p); err != nil {
				return err
			}
		}
		return nil
	}
	ready := make([]chan struct{}, len(items))
	for i := range ready {
		ready[i] = make(chan struct{})
	}
	slots := make(chan struct{}, max(window, 1)) // built or being built, not yet written
	cpu := make(chan struct{}, cpus)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i, p := range items {
			select {
			case slots <- struct{}{}:
			case <-stop:
				return
			}
			cpu <- struct{}{}
			wg.Go(func() {
				build(p)
				<-cpu
				close(ready[i])
			})
		}
	})
	var err error
	for i, p := range items {
		<-ready[i]
		err = write(p)
		<-slots
		if err != nil {
			break
		}
	}
	close(stop)
	wg.Wait()
	return err
}

// batchMax is the largest sealed message a Batch seals in the background;
// bigger ones are sealed and written at once, so that a batch never holds
// much memory.
const batchMax = 64 << 10

// A Batch queues mail like Outbox.Enqueue, for a group of messages that
// share one transaction, but seals it in the background: Enqueue inserts
// the rows and returns, so that what follows in the transaction sees them,
// and Flush waits for the sealed messages and writes them, before the
// commit. Enqueue's checks run at once and its skipped recipients are
// returned at once; a message that then cannot be sealed makes Flush fail,
// and the transaction must be rolled back. Mark and Rollback follow the
// caller's savepoints. A Batch is used by one goroutine; Close ends it.
type Batch struct {
	o    *Outbox
	jobs []*batchJob
	cpu  chan struct{}
	wg   sync.WaitGroup
}

type batchJob struct {
	id      int64
	p       *pending
	done    chan struct{}
	dropped bool
}

// NewBatch returns an empty batch of o.
func (o *Outbox) NewBatch() *Batch {
	return &Batch{o: o, cpu: make(chan struct{}, runtime.GOMAXPROCS(0))}
}

// Enqueue is Outbox.Enqueue with the sealing deferred to Flush.
func (b *Batch) Enqueue(ctx context.Context, tx *sql.Tx, m Mail) ([]Skipped, error) {
	return b.o.enqueue(ctx, tx, m, b)
}

func (b *Batch) add(id int64, p *pending, build func(*pending)) {
	j := &batchJob{id: id, p: p, done: make(chan struct{})}
	b.jobs = append(b.jobs, j)
	b.wg.Go(func() {
		b.cpu <- struct{}{}
		build(p)
		<-b.cpu
		close(j.done)
	})
}

// Mark returns a mark for Rollback: call it where the caller sets a
// savepoint.
func (b *Batch) Mark() int { return len(b.jobs) }

// Rollback forgets the mail queued since mark: call it where the caller
// rolls back to the savepoint that Mark went with.
func (b *Batch) Rollback(mark int) {
	for _, j := range b.jobs[mark:] {
		j.dropped = true
	}
}

// Flush waits for every message queued and writes it to its row, in tx.
func (b *Batch) Flush(ctx context.Context, tx *sql.Tx) error {
	jobs := b.jobs
	b.jobs = nil
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO outbox_message (outbox_id, raw) VALUES (?, ?)`)
	if err != nil {
		b.Close()
		return fmt.Errorf("distlist: batch: %w", err)
	}
	defer stmt.Close()
	var errs []error
	for _, j := range jobs {
		<-j.done
		if j.dropped || len(errs) > 0 {
			continue
		}
		if j.p.err != nil {
			errs = append(errs, fmt.Errorf("distlist: batch: seal for %s: %w", j.p.addr, j.p.err))
			continue
		}
		if err := writeRaw(ctx, tx, stmt, j.id, j.p.raw); err != nil {
			errs = append(errs, fmt.Errorf("distlist: batch: row %d: %w", j.id, err))
		}
		b.o.bufs.put(j.p.raw)
		j.p.raw = nil
	}
	return errors.Join(errs...)
}

// Close waits for the sealing still running and forgets what is queued.
// It is safe to call after Flush, and more than once.
func (b *Batch) Close() {
	b.wg.Wait()
	b.jobs = nil
}
