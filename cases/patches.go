package cases

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
)

// A file attached to a command mail becomes a patch of the case when the
// mail says "/patch NAME" with its file name: it is stored (encrypted at
// rest) as a message of kind KindPatch, its name kept in Details.PatchFiles,
// and the embargo and pre-release notices carry it (PatchFiles).

// attachPatch records the attachment of the session's mail named name as a
// patch of the case, or else the file of that name the reporter sent
// (KubeEdge: a proof of concept may go to the distributors); ok is false
// when neither has one.
func (s *session) attachPatch(ctx context.Context, name string) (ok bool, err error) {
	atts := s.atts
	if !slices.ContainsFunc(atts, func(a Attachment) bool { return strings.EqualFold(a.Filename, name) }) {
		if atts, err = s.w.reporterFiles(ctx, s.tx, s.c, name); err != nil {
			return false, internalErr(err)
		}
	}
	for _, a := range atts {
		if !strings.EqualFold(a.Filename, name) {
			continue
		}
		if _, err := s.w.insertMessage(ctx, s.tx, s.c.ID, Message{Kind: KindPatch, Author: s.actor, MessageID: s.mail.MessageID,
			Text: "patch " + a.Filename, Attachments: []Attachment{a}, Encrypted: s.mail.Opened.Encrypted, Received: s.now}); err != nil {
			return false, internalErr(err)
		}
		for _, f := range s.c.PatchFiles {
			if f == a.Filename {
				return true, nil // a new version of the same file
			}
		}
		s.c.PatchFiles = append(s.c.PatchFiles, a.Filename)
		return true, nil
	}
	return false, nil
}

// PatchFiles returns the patch files of c (the latest stored version of
// each name in c.PatchFiles), decrypted, read inside tx: what the notices
// to the distributors carry.
func (w *Workflow) PatchFiles(ctx context.Context, tx *sql.Tx, c *Case) ([]Attachment, error) {
	if len(c.PatchFiles) == 0 {
		return nil, nil
	}
	rows, err := tx.QueryContext(ctx, `SELECT id FROM case_messages WHERE case_id = ? AND kind = ? ORDER BY id DESC`, c.ID, KindPatch)
	if err != nil {
		return nil, fmt.Errorf("cases: patches of %s: %w", c.Ref, err)
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, fmt.Errorf("cases: patches of %s: %w", c.Ref, err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	latest := map[string]Attachment{}
	for _, id := range ids {
		m := Message{ID: id}
		if err := w.loadAttachments(ctx, tx, &m); err != nil {
			return nil, err
		}
		for _, a := range m.Attachments {
			if _, seen := latest[a.Filename]; !seen {
				latest[a.Filename] = a
			}
		}
	}
	var out []Attachment
	for _, name := range c.PatchFiles {
		a, ok := latest[name]
		if !ok {
			return nil, fmt.Errorf("cases: patch %q of %s is not stored", name, c.Ref)
		}
		out = append(out, a)
	}
	return out, nil
}

// reporterFiles returns the latest file named name the reporter sent with
// the report or a follow-up of c (none when the name cannot be a file
// name: a URL or a sentence is not looked for).
func (w *Workflow) reporterFiles(ctx context.Context, tx *sql.Tx, c *Case, name string) ([]Attachment, error) {
	if name == "" || strings.ContainsAny(name, "/\\ \t") {
		return nil, nil
	}
	rows, err := tx.QueryContext(ctx, `SELECT id FROM case_messages WHERE case_id = ? AND kind IN (?, ?) ORDER BY id DESC`, c.ID, KindReport, KindFollowUp)
	if err != nil {
		return nil, fmt.Errorf("cases: files of %s: %w", c.Ref, err)
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, fmt.Errorf("cases: files of %s: %w", c.Ref, err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cases: files of %s: %w", c.Ref, err)
	}
	for _, id := range ids {
		m := Message{ID: id}
		if err := w.loadAttachments(ctx, tx, &m); err != nil {
			return nil, err
		}
		for _, a := range m.Attachments {
			if strings.EqualFold(a.Filename, name) {
				return []Attachment{a}, nil
			}
		}
	}
	return nil, nil
}
