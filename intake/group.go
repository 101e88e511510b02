package intake

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// errGroupMessage is groupTx's error when a message of a group run
// without savepoints failed: nothing of the group may commit.
var errGroupMessage = errors.New("intake: a message of the group failed")

// groupTx runs the messages of a group in tx. With failed nil it runs
// them as they come, two statements a message fewer than in savepoints,
// and the first that fails fails the transaction (errGroupMessage), for
// runGroup to roll back and run again in savepoints: then each message
// runs in a savepoint of its own, and one that fails is rolled back to it
// (its mail too) and added to failed. The group's mail is sealed in the
// background while the decisions on the next messages go on, and written
// before the commit.
func (p *Processor) groupTx(ctx context.Context, tx *sql.Tx, group []*msgCtx, failed *[]*msgCtx) error {
	var batch MailBatch
	if bm, ok := p.o.Mailer.(BatchMailer); ok {
		batch = bm.Batch()
		defer batch.Close()
	}
	savepoints := failed != nil
	for _, m := range group {
		if savepoints {
			if _, err := tx.ExecContext(ctx, `SAVEPOINT intake_msg`); err != nil {
				return fmt.Errorf("intake: savepoint: %w", err)
			}
		}
		mark := 0
		if batch != nil && savepoints {
			mark = batch.Mark()
		}
		m.tx, m.batch = tx, batch
		err := m.run(ctx)
		m.tx, m.batch = nil, nil
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if !savepoints {
				return fmt.Errorf("%w: inbound %d: %w", errGroupMessage, m.in.ID, err)
			}
			if _, rerr := tx.ExecContext(ctx, `ROLLBACK TO intake_msg`); rerr != nil {
				return fmt.Errorf("intake: rollback to savepoint: %w", rerr)
			}
			if batch != nil {
				batch.Rollback(mark)
			}
			*failed = append(*failed, m)
		}
		if savepoints {
			if _, err := tx.ExecContext(ctx, `RELEASE intake_msg`); err != nil {
				return fmt.Errorf("intake: release savepoint: %w", err)
			}
		}
	}
	if batch != nil {
		return batch.Flush(ctx, tx)
	}
	return nil
}
