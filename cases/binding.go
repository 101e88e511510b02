package cases

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/secgate/secgate/crypto"
	"github.com/secgate/secgate/distlist"
	"github.com/secgate/secgate/store"
)

// A signature proves who wrote a text, not to whom nor about what. These
// checks bind a signed command mail to this gateway and to one case, from
// the signed content alone: the outer headers (To, Subject, In-Reply-To)
// are the attacker's to choose when they re-send a copy.

// signedTag is the case tagged in the protected (signed) Subject, "" when
// the signed part carries no Subject or no tag of this workflow's.
func (w *Workflow) signedTag(o *crypto.Opened) string {
	ps, ok := protectedSubject(o)
	if !ok {
		return ""
	}
	return w.refs.Tag(ps)
}

// meantForUs reports whether the signed content shows the mail was meant
// for the gateway: a signed To or Cc (checkProtected refused one that does
// not name the team address), an Intended Recipient subpacket naming the
// team key, or, for clients that sign neither, the gateway alone as the
// outer recipient (then the signed part must name the case when the mail
// acts on one, which handle requires of every mail).
func (s *session) meantForUs(sig *crypto.Signature) bool {
	if h := protectedHeader(s.mail.Opened); h != nil {
		if _, ok := h["To"]; ok {
			return true
		}
		if _, ok := h["Cc"]; ok {
			return true
		}
	}
	if sig.IntendedForUs {
		return true
	}
	if len(s.mail.Recipients) == 0 {
		return false
	}
	for _, r := range s.mail.Recipients {
		if !s.w.isTeamAddress(r) {
			return false
		}
	}
	return true
}

// unsignedCase is the case the unsigned parts of the mail point to: the
// outer Subject's tag (ignored when the signed part has a Subject, RFC
// 9788) and the thread. how says which.
func (s *session) unsignedCase(ctx context.Context) (id int64, how string) {
	if _, ok := protectedSubject(s.mail.Opened); !ok {
		if ref := s.w.refs.Tag(s.mail.Subject); ref != "" {
			if c, err := s.w.loadCase(ctx, s.tx, "ref = ?", ref); err == nil {
				return c.ID, "Subject"
			}
		}
	}
	if id, ok := s.threadCase(ctx); ok {
		return id, "thread (In-Reply-To, References)"
	}
	return 0, ""
}

// replayed handles a mail whose signature was consumed before. The same
// stored message handled again (the gateway stopped after applying it and
// before marking it handled) is itself, not a replay: nothing happens. Any
// other copy is ignored and audited, and the signer is told once what
// became of the first copy: a member's command is never dropped without
// an answer, even when a copy someone else delivered first took its
// signature.
func (s *session) replayed(ctx context.Context, sig *crypto.Signature, fpr string) error {
	var first struct {
		inbound, seen  int64
		msgID, outcome string
		answered       int
	}
	err := s.tx.QueryRowContext(ctx, `SELECT inbound_id, seen, message_id, outcome, replay_answered FROM case_signatures WHERE sig_id = ?`, sig.ID).
		Scan(&first.inbound, &first.seen, &first.msgID, &first.outcome, &first.answered)
	if err != nil {
		return fmt.Errorf("replayed signature %s: %w", sig.ID, err)
	}
	if s.mail.InboundID != 0 && first.inbound == s.mail.InboundID {
		return nil
	}
	caseID := s.guessCase(ctx)
	s.w.log.WarnContext(ctx, "replayed command signature", "signer", fpr, "message_id", s.mail.MessageID)
	if err := s.w.Audit(ctx, s.tx, caseID, fpr, ActionReplay, "signature "+sig.ID+" was seen before (first in "+first.msgID+"); this copy was ignored", s.mail.MessageID); err != nil {
		return err
	}
	if err := s.countRefusal(ctx, "replay"); err != nil {
		return err
	}
	member, ok := memberByFpr(s.team, fpr)
	if !ok || first.answered != 0 {
		return nil
	}
	if _, err := s.tx.ExecContext(ctx, `UPDATE case_signatures SET replay_answered = 1 WHERE sig_id = ?`, sig.ID); err != nil {
		return fmt.Errorf("replayed signature %s: %w", sig.ID, err)
	}
	outcome := first.outcome
	if outcome == "" {
		outcome = "handled"
	}
	reason := fmt.Sprintf("a copy of a mail you signed at %s arrived again (Message-ID %s, From %q) and was ignored: each signed mail counts once. "+
		"The first copy (Message-ID %s, received %s) was %s. If you sent this mail only once, someone else re-sent it; nothing more will be said of further copies.",
		sig.Created.UTC().Format(time.RFC3339), s.mail.MessageID, short(s.mail.From), first.msgID, store.Time(first.seen).UTC().Format(time.RFC3339), outcome)
	return s.answerRefused(ctx, caseID, reason, member)
}

// refusalAnswerGap is how often a member is answered about mail that
// carries their address but not their valid signature: anyone can send
// such mail, and each answer is a signed mail to the member.
const refusalAnswerGap = time.Hour

// mayAnswerUnauthenticated reports whether member may be answered about an
// unauthenticated mail now, and records the answer if so.
func (s *session) mayAnswerUnauthenticated(ctx context.Context, member distlist.Member) (bool, error) {
	var at int64
	err := s.tx.QueryRowContext(ctx, `SELECT at FROM case_refusal_answer WHERE address = ?`, member.Address).Scan(&at)
	if err == nil && s.now.Sub(store.Time(at)) < refusalAnswerGap {
		return false, nil
	}
	if err != nil && err != sql.ErrNoRows {
		return false, fmt.Errorf("refusal answer lookup: %w", err)
	}
	_, err = s.tx.ExecContext(ctx, `INSERT INTO case_refusal_answer (address, at) VALUES (?, ?)
		ON CONFLICT (address) DO UPDATE SET at = excluded.at`, member.Address, store.Millis(s.now))
	if err != nil {
		return false, fmt.Errorf("record refusal answer: %w", err)
	}
	return true, nil
}

// countRefusal counts a refusal by its kind, for the metrics.
func (s *session) countRefusal(ctx context.Context, code string) error {
	if code == "" {
		code = "other"
	}
	_, err := s.tx.ExecContext(ctx, `INSERT INTO case_refusal (code, n) VALUES (?, 1) ON CONFLICT (code) DO UPDATE SET n = n + 1`, code)
	if err != nil {
		return fmt.Errorf("count refusal: %w", err)
	}
	return nil
}
