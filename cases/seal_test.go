package cases

import (
	"bytes"
	"database/sql"
	"testing"
)

// A report sealed ahead is stored with exactly those ciphertexts; one that
// differs from what was sealed is sealed again, and reads back as stored.
func TestSealMessage(t *testing.T) {
	e := newEnv(t)
	atts := []Attachment{{Filename: "poc.sh", ContentType: "text/x-sh", Data: []byte("echo SECRET-POC")}}
	for _, tc := range []struct {
		name   string
		change func(r *Report)
		reused bool
	}{
		{"same", func(r *Report) {}, true},
		{"other text", func(r *Report) { r.Text = "another text" }, false},
		{"other subject", func(r *Report) { r.Subject = "another subject" }, false},
		{"other attachment", func(r *Report) {
			r.Attachments = []Attachment{{Filename: "poc.sh", ContentType: "text/x-sh", Data: []byte("echo OTHER")}}
		}, false},
		{"no attachment", func(r *Report) { r.Attachments = nil }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sealed, err := e.wf.SealMessage("RCE in the frobnicator", "SECRET-REPORT-TEXT", atts)
			if err != nil {
				t.Fatal(err)
			}
			r := Report{MessageID: "<" + tc.name + "@reporter.example>", From: "rita@reporter.example", Subject: "RCE in the frobnicator",
				Text: "SECRET-REPORT-TEXT", Attachments: atts, Received: e.clock.Now(), Sealed: sealed}
			tc.change(&r)
			var c *Case
			if err := e.db.Tx(e.ctx, func(tx *sql.Tx) error {
				var err error
				c, err = e.wf.OpenCase(e.ctx, tx, r)
				return err
			}); err != nil {
				t.Fatal(err)
			}
			var body []byte
			if err := e.db.Reader().QueryRow(`SELECT body_enc FROM case_messages WHERE case_id = ?`, c.ID).Scan(&body); err != nil {
				t.Fatal(err)
			}
			if reused := bytes.Equal(body, sealed.body); reused != tc.reused {
				t.Errorf("stored the ciphertext sealed ahead: %v, want %v", reused, tc.reused)
			}
			if tc.reused {
				var data []byte
				if err := e.db.Reader().QueryRow(`SELECT data_enc FROM case_attachments a JOIN case_messages m ON m.id = a.message_id
					WHERE m.case_id = ?`, c.ID).Scan(&data); err != nil || !bytes.Equal(data, sealed.data[0]) {
					t.Errorf("attachment not stored as sealed ahead (%v)", err)
				}
			}
			msgs, err := e.wf.Messages(e.ctx, c.ID)
			if err != nil || len(msgs) != 1 {
				t.Fatalf("messages %+v, %v", msgs, err)
			}
			m := msgs[0]
			if m.Subject != r.Subject || m.Text != r.Text || len(m.Attachments) != len(r.Attachments) {
				t.Fatalf("read back %q %q %d attachments, want %q %q %d", m.Subject, m.Text, len(m.Attachments), r.Subject, r.Text, len(r.Attachments))
			}
			for i, a := range m.Attachments {
				if a.Filename != r.Attachments[i].Filename || !bytes.Equal(a.Data, r.Attachments[i].Data) {
					t.Errorf("attachment %d read back as %q %q", i, a.Filename, a.Data)
				}
			}
		})
	}
}
