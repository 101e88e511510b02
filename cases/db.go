package cases

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/secgate/secgate/store"
)

// ErrNotFound is returned for a case that does not exist.
var ErrNotFound = errors.New("case not found")

// querier is a transaction or a connection pool.
type querier interface {
	ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
}

const caseCols = `id, ref, state, class, cvss_vector, cvss_score, severity, cve, advisory,
	affected, fixed, credit, credit_consent, impact_enc, terms_enc, details_enc, reporter_addr, reporter_key,
	lead, rota_lead, lead_offer, lead_released, policy, close_reason, received, created, updated, disclose_at`

func (w *Workflow) scanCase(sc interface{ Scan(...any) error }) (*Case, error) {
	var (
		c                                      Case
		impact, terms, details                 []byte
		released                               int64
		received, created, updated, discloseAt int64
		state                                  string
	)
	err := sc.Scan(&c.ID, &c.Ref, &state, &c.Class, &c.CVSSVector, &c.CVSSScore, &c.Severity, &c.CVE, &c.Advisory,
		&c.Affected, &c.Fixed, &c.Credit, &c.CreditConsent, &impact, &terms, &details, &c.ReporterAddr, &c.ReporterKey,
		&c.Lead, &c.RotaLead, &c.LeadOffer, &released, &c.Policy, &c.CloseReason, &received, &created, &updated, &discloseAt)
	if err != nil {
		return nil, err
	}
	c.State = State(state)
	c.LeadReleased = released != 0
	c.Received, c.Created, c.Updated, c.DiscloseAt = store.Time(received), store.Time(created), store.Time(updated), store.Time(discloseAt)
	if c.Impact, err = w.open(impact); err != nil {
		return nil, fmt.Errorf("impact of %s: %w", c.Ref, err)
	}
	if c.Terms, err = w.open(terms); err != nil {
		return nil, fmt.Errorf("terms of %s: %w", c.Ref, err)
	}
	if c.Details, err = w.openDetails(details); err != nil {
		return nil, fmt.Errorf("details of %s: %w", c.Ref, err)
	}
	return &c, nil
}

func (w *Workflow) loadCase(ctx context.Context, q querier, where string, arg any) (*Case, error) {
	c, err := w.scanCase(q.QueryRowContext(ctx, `SELECT `+caseCols+` FROM cases WHERE `+where, arg))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("cases: %v: %w", arg, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("cases: load %v: %w", arg, err)
	}
	if c.Team, err = w.teamOf(ctx, q, c.ID); err != nil {
		return nil, fmt.Errorf("cases: load %v: %w", arg, err)
	}
	return c, nil
}

// Get returns the case with reference ref ("SEC-2026-0007").
func (w *Workflow) Get(ctx context.Context, ref string) (*Case, error) {
	return w.loadCase(ctx, w.db.Reader(), "ref = ?", ref)
}

// GetByID returns the case with the given ID.
func (w *Workflow) GetByID(ctx context.Context, id int64) (*Case, error) {
	return w.loadCase(ctx, w.db.Reader(), "id = ?", id)
}

// GetTx returns the case with the given ID as seen by tx.
func (w *Workflow) GetTx(ctx context.Context, tx *sql.Tx, id int64) (*Case, error) {
	return w.loadCase(ctx, tx, "id = ?", id)
}

// GetRefTx returns the case with reference ref as seen by tx.
func (w *Workflow) GetRefTx(ctx context.Context, tx *sql.Tx, ref string) (*Case, error) {
	return w.loadCase(ctx, tx, "ref = ?", ref)
}

// ListOptions filter List. The zero value lists every case.
type ListOptions struct {
	States []State // only these states; empty: all
	Open   bool    // only cases that have not ended
	// Sealed leaves the fields kept encrypted at rest (impact, terms,
	// details) empty: for a caller that reads metadata only, so that
	// listing the open cases decrypts nothing. Load a case (GetTx) for
	// them.
	Sealed bool
	// Brief reads only what a table of cases shows (reference, state,
	// severity and score, CVE, lead, received, disclosure) and no team:
	// listing years of cases reads a third of the columns.
	Brief bool
}

// List returns cases, newest first. The states are chosen in SQL and
// the teams read in one query (list.go), so that listing the open cases
// among years of closed ones reads only the open ones.
func (w *Workflow) List(ctx context.Context, opts ListOptions) ([]*Case, error) {
	out, err := w.list(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("cases: list: %w", err)
	}
	return out, nil
}

func (w *Workflow) teamOf(ctx context.Context, q querier, id int64) ([]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT fingerprint FROM case_team WHERE case_id = ? ORDER BY added, fingerprint`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var fs []string
	for rows.Next() {
		var f string
		if err := rows.Scan(&f); err != nil {
			return nil, err
		}
		fs = append(fs, f)
	}
	return fs, rows.Err()
}

// saveCase writes every mutable field of c.
func (w *Workflow) saveCase(ctx context.Context, tx *sql.Tx, c *Case) error {
	impact, err := w.seal(c.Impact)
	if err != nil {
		return err
	}
	terms, err := w.seal(c.Terms)
	if err != nil {
		return err
	}
	details, err := w.sealDetails(c.Details)
	if err != nil {
		return err
	}
	released := 0
	if c.LeadReleased {
		released = 1
	}
	_, err = tx.ExecContext(ctx, `UPDATE cases SET state=?, class=?, cvss_vector=?, cvss_score=?, severity=?, cve=?,
		advisory=?, affected=?, fixed=?, credit=?, credit_consent=?, impact_enc=?, terms_enc=?, details_enc=?, reporter_addr=?,
		reporter_key=?, lead=?, rota_lead=?, lead_offer=?, lead_released=?, policy=?, close_reason=?, updated=?, disclose_at=?
		WHERE id=?`,
		string(c.State), c.Class, c.CVSSVector, c.CVSSScore, c.Severity, c.CVE, c.Advisory, c.Affected, c.Fixed,
		c.Credit, c.CreditConsent, impact, terms, details, c.ReporterAddr, c.ReporterKey, c.Lead, c.RotaLead, c.LeadOffer,
		released, c.Policy, c.CloseReason, store.Millis(c.Updated), store.Millis(c.DiscloseAt), c.ID)
	if err != nil {
		return fmt.Errorf("cases: save %s: %w", c.Ref, err)
	}
	have, err := w.teamOf(ctx, tx, c.ID)
	if err != nil {
		return fmt.Errorf("cases: save %s team: %w", c.Ref, err)
	}
	for _, f := range have {
		if !slices.Contains(c.Team, f) {
			if _, err := tx.ExecContext(ctx, `DELETE FROM case_team WHERE case_id = ? AND fingerprint = ?`, c.ID, f); err != nil {
				return fmt.Errorf("cases: save %s team: %w", c.Ref, err)
			}
		}
	}
	return w.addTeam(ctx, tx, c)
}

// addTeam records every member of c.Team as on the case's fix team.
func (w *Workflow) addTeam(ctx context.Context, tx *sql.Tx, c *Case) error {
	for _, f := range c.Team {
		if _, err := tx.ExecContext(ctx, `INSERT INTO case_team (case_id, fingerprint, added) VALUES (?, ?, ?)
			ON CONFLICT (case_id, fingerprint) DO NOTHING`, c.ID, f, store.Millis(c.Updated)); err != nil {
			return fmt.Errorf("cases: save %s team: %w", c.Ref, err)
		}
	}
	return nil
}

// seal encrypts text at rest; the empty string stays NULL.
func (w *Workflow) seal(s string) ([]byte, error) {
	if s == "" {
		return nil, nil
	}
	ct, err := w.atRest.EncryptAtRest([]byte(s))
	if err != nil {
		return nil, fmt.Errorf("cases: encrypt at rest: %w", err)
	}
	return ct, nil
}

func (w *Workflow) open(ct []byte) (string, error) {
	if len(ct) == 0 {
		return "", nil
	}
	pt, err := w.atRest.DecryptAtRest(ct)
	if err != nil {
		return "", fmt.Errorf("cases: decrypt at rest: %w", err)
	}
	return string(pt), nil
}

// storedBody is the plaintext of case_messages.body_enc.
type storedBody struct {
	Subject string `json:"subject,omitempty"`
	Text    string `json:"text"`
}

// insertMessage stores m (encrypted) with its attachments: sealed now, or
// by m.sealed when that sealed exactly m (SealMessage).
func (w *Workflow) insertMessage(ctx context.Context, tx *sql.Tx, caseID int64, m Message) (int64, error) {
	sealed := m.sealed.sealedFor(m)
	var body []byte
	var err error
	if sealed != nil {
		body = sealed.body
	} else if body, err = w.sealBody(m.Subject, m.Text); err != nil {
		return 0, err
	}
	enc := 0
	if m.Encrypted {
		enc = 1
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO case_messages (case_id, kind, author, message_id, encrypted, received, body_enc)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, caseID, m.Kind, m.Author, m.MessageID, enc, store.Millis(m.Received), store.Inline(body))
	if err != nil {
		return 0, fmt.Errorf("cases: store message: %w", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, err
	}
	if err := store.Spill(ctx, tx, "case_messages", id, body); err != nil {
		return 0, fmt.Errorf("cases: store message: %w", err)
	}
	for i, a := range m.Attachments {
		if a.Stored != nil {
			if err := w.insertStored(ctx, tx, id, a); err != nil {
				return 0, err
			}
			continue
		}
		var name, data []byte
		if sealed != nil {
			name, data = sealed.names[i], sealed.data[i]
		}
		if err := w.insertAttachment(ctx, tx, id, a, name, data); err != nil {
			return 0, err
		}
	}
	return id, nil
}

// insertAttachment stores the attachment a of message msgID: its name and
// data sealed already, or sealed now when name is nil.
func (w *Workflow) insertAttachment(ctx context.Context, tx *sql.Tx, msgID int64, a Attachment, name, data []byte) error {
	if name == nil {
		var err error
		if name, data, err = w.sealAttachment(a); err != nil {
			return err
		}
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO case_attachments (message_id, content_type, size, name_enc, data_enc)
		VALUES (?, ?, ?, ?, ?)`, msgID, a.ContentType, len(a.Data), name, store.Inline(data))
	if err != nil {
		return fmt.Errorf("cases: store attachment: %w", err)
	}
	aid, err := res.LastInsertId()
	if err != nil {
		return err
	}
	if err := store.Spill(ctx, tx, "case_attachments", aid, data); err != nil {
		return fmt.Errorf("cases: store attachment: %w", err)
	}
	return nil
}

// Messages returns the decrypted messages of a case, oldest first.
func (w *Workflow) Messages(ctx context.Context, caseID int64) ([]Message, error) {
	q := w.db.Reader()
	rows, err := q.QueryContext(ctx, `SELECT id, kind, author, message_id, encrypted, received, body_enc
		FROM case_messages WHERE case_id = ? ORDER BY id`, caseID)
	if err != nil {
		return nil, fmt.Errorf("cases: messages of %d: %w", caseID, err)
	}
	var out []Message
	for rows.Next() {
		var m Message
		var enc, received int64
		var body []byte
		if err := rows.Scan(&m.ID, &m.Kind, &m.Author, &m.MessageID, &enc, &received, &body); err != nil {
			rows.Close()
			return nil, fmt.Errorf("cases: messages of %d: %w", caseID, err)
		}
		m.Encrypted, m.Received = enc != 0, store.Time(received)
		if body, err = store.Unspill(ctx, q, "case_messages", m.ID, body); err != nil {
			rows.Close()
			return nil, fmt.Errorf("cases: message %d: %w", m.ID, err)
		}
		plain, err := w.atRest.DecryptAtRest(body)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("cases: message %d: %w", m.ID, err)
		}
		var sb storedBody
		if err := json.Unmarshal(plain, &sb); err != nil {
			rows.Close()
			return nil, fmt.Errorf("cases: message %d: %w", m.ID, err)
		}
		m.Subject, m.Text = sb.Subject, sb.Text
		out = append(out, m)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i := range out {
		if err := w.loadAttachments(ctx, q, &out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (w *Workflow) loadAttachments(ctx context.Context, q querier, m *Message) error {
	rows, err := q.QueryContext(ctx, `SELECT id, content_type, name_enc, data_enc FROM case_attachments WHERE message_id = ? ORDER BY id`, m.ID)
	if err != nil {
		return fmt.Errorf("cases: attachments of %d: %w", m.ID, err)
	}
	defer rows.Close()
	for rows.Next() {
		var a Attachment
		var id int64
		var name, data []byte
		if err := rows.Scan(&id, &a.ContentType, &name, &data); err != nil {
			return err
		}
		if data, err = store.Unspill(ctx, q, "case_attachments", id, data); err != nil {
			return fmt.Errorf("cases: attachment of %d: %w", m.ID, err)
		}
		n, err := w.atRest.DecryptAtRest(name)
		if err != nil {
			return fmt.Errorf("cases: attachment of %d: %w", m.ID, err)
		}
		if a.Data, err = w.atRest.DecryptAtRest(data); err != nil {
			return fmt.Errorf("cases: attachment of %d: %w", m.ID, err)
		}
		a.Filename = string(n)
		m.Attachments = append(m.Attachments, a)
	}
	return rows.Err()
}

// now is the workflow clock in UTC, at millisecond precision (what the store keeps).
func (w *Workflow) now() time.Time { return w.clock.Now().UTC().Truncate(time.Millisecond) }
