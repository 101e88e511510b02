package schedule

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base32"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/secgate/secgate/cases"
	"github.com/secgate/secgate/distlist"
	"github.com/secgate/secgate/store"
)

// Acknowledgements of notices. The embargo and pre-release notices ask
// each recipient to acknowledge them with a reply in the notice's thread
// signed by their key on file; the notice carries a random code of its
// own, which the signed text must hold (quoting the notice is enough). What
// counts, strictly:
//
//   - the thread (In-Reply-To, References) names the recipient's own copy
//     of a notice of this case: that says which notice, never whether;
//   - the signature verifies with the key the directory holds for that
//     recipient and covers the whole mail;
//   - its signed text holds that notice's code, and no code of a notice of
//     another case;
//   - that signature never counted before.
//
// The code binds the signed words to one notice: a signed reply moved into
// another notice's thread (of another case, or of another project that
// numbers its cases alike) holds the wrong code, and a copy of one that
// counted has a signature seen before. Anything else is kept with the case
// as any reply is, and the team copy says why it did not count.
//
// Silent recipients of a delivered notice are reminded once after the
// policy's ack_reminder (never at or after T0), and the fix lead is told
// who is still silent after ack_escalate, at the latest 24 hours before T0:
// CheckAcks, run by the job loop, records each in the transaction that
// queues its mail, so each is sent once, also across a crash.

// Defaults of the policy keys ack_reminder and ack_escalate.
const (
	DefaultAckReminder = 48 * time.Hour
	DefaultAckEscalate = 96 * time.Hour
	// ackEscalateBefore: the lead hears of silent recipients at the
	// latest this long before T0.
	ackEscalateBefore = 24 * time.Hour
)

// MailAckReminder is the kind of the reminder to a silent recipient.
const MailAckReminder = "ack-reminder"

// ackCodeRE finds acknowledgement codes in a text: "ACK-" and 12 base32
// letters (60 random bits), in either case, ASCII only ((?i) would fold
// the Kelvin sign into a k).
var ackCodeRE = regexp.MustCompile(`\b[Aa][Cc][Kk]-[A-Za-z2-7]{12}\b`)

func newAckCode() string {
	b := make([]byte, 8)
	rand.Read(b)
	return "ACK-" + base32.StdEncoding.EncodeToString(b)[:12]
}

// ackCodes returns the codes text holds, upper-cased, each once.
func ackCodes(text string) []string {
	var out []string
	for _, m := range ackCodeRE.FindAllString(text, 32) {
		if m = strings.ToUpper(m); !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	return out
}

// ackNotice is a notice that asks its recipients to acknowledge it.
type ackNotice struct {
	NoticeID   string
	CaseID     int64
	Kind       string
	Generation int64
	Code       string
	Created    time.Time
}

const ackNoticeCols = `notice_id, case_id, kind, generation, code, created`

func scanAckNotices(ctx context.Context, q querier, where string, args ...any) ([]ackNotice, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+ackNoticeCols+` FROM ack_notice `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("schedule: acknowledged notices: %w", err)
	}
	defer rows.Close()
	var out []ackNotice
	for rows.Next() {
		var n ackNotice
		var created int64
		if err := rows.Scan(&n.NoticeID, &n.CaseID, &n.Kind, &n.Generation, &n.Code, &created); err != nil {
			return nil, fmt.Errorf("schedule: acknowledged notices: %w", err)
		}
		n.Created = store.Time(created)
		out = append(out, n)
	}
	return out, rows.Err()
}

// noticeName is how texts name a notice of kind.
func noticeName(kind string) string {
	if kind == MailPreReleaseNotice {
		return "pre-release notice"
	}
	return "embargo notice"
}

// askAck records notice (of job j) as one its recipients acknowledge and
// returns its code, the same when the notice is sent again.
func (s *Scheduler) askAck(ctx context.Context, tx *sql.Tx, c *cases.Case, j Job, notice, kind string, now time.Time) (string, error) {
	if _, err := tx.ExecContext(ctx, `INSERT INTO ack_notice (`+ackNoticeCols+`) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (notice_id) DO NOTHING`, notice, c.ID, kind, j.Generation, newAckCode(), store.Millis(now)); err != nil {
		return "", fmt.Errorf("schedule: acknowledgement code of %s: %w", notice, err)
	}
	var code string
	if err := tx.QueryRowContext(ctx, `SELECT code FROM ack_notice WHERE notice_id = ?`, notice).Scan(&code); err != nil {
		return "", fmt.Errorf("schedule: acknowledgement code of %s: %w", notice, err)
	}
	return code, nil
}

// AckReply is a distributor's reply on a case, as intake opened it.
type AckReply struct {
	CaseID    int64
	InboundID int64
	MessageID string
	From      string   // the From address: the copy the thread names must be theirs
	Thread    []string // In-Reply-To, then References (Message-IDs)
	KeyOnFile string   // fingerprint of the key the directory holds for them ("" none)
	// Signer is the verified signer ("" when unsigned or not verified);
	// SignedWhole: the signature covers the whole mail; SignatureID the
	// signature's replay key.
	Signer      string
	SignedWhole bool
	SignatureID string
	Text        string // the (signed) text
	Received    time.Time
}

// AckVerdict is what became of a reply as an acknowledgement.
type AckVerdict struct {
	Counted bool   // it acknowledged a notice now
	Notice  string // the notice its thread names ("embargo notice"), "" when none
	// Line says it for the team copy: what it acknowledged, or why it
	// did not count.
	Line string
}

// Acknowledge decides, inside tx, whether reply r acknowledges the notice
// its thread names, records it when it does and audits it either way.
func (s *Scheduler) Acknowledge(ctx context.Context, tx *sql.Tx, r AckReply) (AckVerdict, error) {
	cs, err := s.casesOrErr()
	if err != nil {
		return AckVerdict{}, err
	}
	v, n, addr, err := s.judgeAck(ctx, tx, r)
	if err != nil {
		return AckVerdict{}, err
	}
	actor := "distributor:" + strings.ToLower(r.From)
	if !v.Counted {
		if v.Notice == "" {
			return v, nil // not a reply to a notice that asks for one
		}
		return v, cs.Audit(ctx, tx, r.CaseID, actor, "ack-not-counted", v.Line, r.MessageID)
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO ack_reply (notice_id, recipient, signer, signature_id, inbound_id, message_id, at)
		VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (notice_id, recipient) DO NOTHING`,
		n.NoticeID, addr, r.Signer, r.SignatureID, r.InboundID, r.MessageID, store.Millis(r.Received))
	if err != nil {
		return AckVerdict{}, fmt.Errorf("schedule: record acknowledgement of %s: %w", n.NoticeID, err)
	}
	if k, _ := res.RowsAffected(); k == 0 {
		v.Counted, v.Line = false, "not counted again: "+addr+" acknowledged the "+v.Notice+" before"
		return v, nil
	}
	return v, cs.Audit(ctx, tx, r.CaseID, actor, "ack", v.Line, r.MessageID)
}

// judgeAck is Acknowledge's decision: the verdict, the notice and the
// recipient's canonical address.
func (s *Scheduler) judgeAck(ctx context.Context, tx *sql.Tx, r AckReply) (AckVerdict, ackNotice, string, error) {
	addr, err := distlist.CanonicalAddress(r.From)
	if err != nil {
		return AckVerdict{Line: "none: the From does not parse"}, ackNotice{}, "", nil
	}
	copies, err := distlist.CopiesByMessageID(ctx, tx, r.Thread)
	if err != nil {
		return AckVerdict{}, ackNotice{}, "", err
	}
	var ids []string
	for _, c := range copies {
		ids = append(ids, c.NoticeID)
	}
	notices, err := s.ackNoticesByID(ctx, tx, ids)
	if err != nil {
		return AckVerdict{}, ackNotice{}, "", err
	}
	// The thread's first copy (In-Reply-To first) of a notice of this
	// case that asks for an acknowledgement, and of this recipient.
	var n ackNotice
	other := false
	for _, id := range r.Thread {
		id = strings.Trim(strings.TrimSpace(id), "<>")
		for _, c := range copies {
			an, ok := notices[c.NoticeID]
			if c.MessageID != id || !ok || an.CaseID != r.CaseID {
				continue
			}
			if c.Recipient != addr {
				other = true
				continue
			}
			if n.NoticeID == "" {
				n = an
			}
		}
	}
	if n.NoticeID == "" {
		line := "none: its thread names no notice of this case sent to " + addr
		if other {
			line = "NOT counted: its thread is another recipient's copy of the notice, not " + addr + "'s"
			return AckVerdict{Notice: "notice", Line: line}, n, addr, nil
		}
		return AckVerdict{Line: line}, n, addr, nil
	}
	v := AckVerdict{Notice: noticeName(n.Kind)}
	no := func(why string) (AckVerdict, ackNotice, string, error) {
		v.Line = "NOT counted for the " + v.Notice + ": " + why
		return v, n, addr, nil
	}
	switch {
	case r.KeyOnFile == "":
		return no("no key of " + addr + " is on file")
	case r.Signer == "":
		return no("it is not signed by their key on file " + r.KeyOnFile + " (unsigned, or a signature that does not verify)")
	case !strings.EqualFold(r.Signer, r.KeyOnFile):
		return no(fmt.Sprintf("it is signed by another key %s, not by their key on file %s", r.Signer, r.KeyOnFile))
	case !r.SignedWhole:
		return no("the signature covers only part of the mail")
	case r.SignatureID == "":
		return no("its signature has no identity to check for replays")
	}
	codes := ackCodes(r.Text)
	named, err := s.ackNoticesByCode(ctx, tx, codes)
	if err != nil {
		return AckVerdict{}, n, addr, err
	}
	for _, an := range named {
		if an.CaseID != r.CaseID {
			ref := "another case"
			if cs, err := s.casesOrErr(); err == nil {
				if c, err := cs.GetTx(ctx, tx, an.CaseID); err == nil {
					ref = "another case, " + c.Ref
				}
			}
			return no(fmt.Sprintf("its signed text holds the acknowledgement code of a notice of %s (a reply moved from that thread?)", ref))
		}
	}
	if !slices.Contains(codes, n.Code) {
		for _, an := range named {
			if an.NoticeID != n.NoticeID {
				return no("its signed text holds the code of another notice of this case (the " + noticeName(an.Kind) + "), not this one's")
			}
		}
		if len(codes) > 0 {
			return no("its signed text holds an acknowledgement code that is no notice's of this gateway (another project's, or mistyped)")
		}
		return no("its signed text does not hold the notice's acknowledgement code " + n.Code + " (a reply quoting the notice holds it)")
	}
	var seen string
	err = tx.QueryRowContext(ctx, `SELECT notice_id FROM ack_reply WHERE signature_id = ?`, r.SignatureID).Scan(&seen)
	switch {
	case err == nil:
		return no("the same signed text was counted before (" + seen + "): a copy never counts again")
	case !errors.Is(err, sql.ErrNoRows):
		return AckVerdict{}, n, addr, fmt.Errorf("schedule: acknowledgement replay check: %w", err)
	}
	v.Counted = true
	v.Line = fmt.Sprintf("counted: %s acknowledged the %s (%s), signed by their key on file %s", addr, v.Notice, n.NoticeID, r.Signer)
	return v, n, addr, nil
}

func (s *Scheduler) ackNoticesByID(ctx context.Context, q querier, ids []string) (map[string]ackNotice, error) {
	out := map[string]ackNotice{}
	for _, id := range ids {
		if _, ok := out[id]; ok {
			continue
		}
		ns, err := scanAckNotices(ctx, q, `WHERE notice_id = ?`, id)
		if err != nil {
			return nil, err
		}
		for _, n := range ns {
			out[n.NoticeID] = n
		}
	}
	return out, nil
}

func (s *Scheduler) ackNoticesByCode(ctx context.Context, q querier, codes []string) ([]ackNotice, error) {
	var out []ackNotice
	for _, code := range codes {
		ns, err := scanAckNotices(ctx, q, `WHERE code = ?`, code)
		if err != nil {
			return nil, err
		}
		out = append(out, ns...)
	}
	return out, nil
}
