package intake

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"
)

// Acknowledger decides whether a distributor's reply acknowledges the
// notice its thread names (the scheduler, which sent the notice and knows
// its code), records it and audits it, inside the transaction that adds
// the reply to its case.
type Acknowledger interface {
	Acknowledge(ctx context.Context, tx *sql.Tx, r AckReply) (AckVerdict, error)
}

// AckReply is a distributor's reply as intake opened it: the facts an
// acknowledgement is judged on. Only the signature and the signed text
// can make it count; the thread says which notice it would be.
type AckReply struct {
	CaseID      int64
	InboundID   int64
	MessageID   string
	From        string
	Thread      []string // In-Reply-To, then References from the newest
	KeyOnFile   string   // fingerprint of the key the directory holds for the distributor
	Signer      string   // verified signer, "" none
	SignedWhole bool
	SignatureID string
	Text        string
	Received    time.Time
}

// AckVerdict is what became of the reply as an acknowledgement: Line
// says it for the team copy ("" when the reply is no answer to a notice
// that asks for one).
type AckVerdict struct {
	Counted bool
	Line    string
}

// distributorAck hands the distributor's reply to the Acknowledger, in tx,
// and keeps its verdict for the team copy and the inbound reason.
func (m *msgCtx) distributorAck(ctx context.Context, tx *sql.Tx, caseID int64, o *outcome) error {
	acks := m.p.o.Acks
	if acks == nil || m.dist == nil {
		return nil
	}
	op := m.opened
	refs := slices.Clone(m.insp.References)
	slices.Reverse(refs)
	r := AckReply{
		CaseID: caseID, InboundID: m.in.ID, MessageID: m.insp.MessageID, From: m.insp.From,
		Thread: append(slices.Clone(m.insp.InReplyTo), refs...), KeyOnFile: m.dist.Fingerprint,
		Signer: op.Signer, SignedWhole: op.SignedWhole, SignatureID: op.SignatureID, Text: op.Text, Received: m.in.Received,
	}
	v, err := acks.Acknowledge(ctx, tx, r)
	if err != nil {
		return fmt.Errorf("intake: acknowledgement of %d: %w", m.in.ID, err)
	}
	m.ackVerdict = v.Line
	if v.Line != "" {
		o.reason += "; acknowledgement " + v.Line
	}
	return nil
}
