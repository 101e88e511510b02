package cases

import (
	"bytes"
	"crypto/rand"
	"database/sql"
	"errors"
	"io"
	"testing"
)

// memStored is a Stored in memory that fails as told.
type memStored struct {
	data    []byte
	openErr error
	short   bool
}

func (m memStored) Open() (io.Reader, error) {
	if m.openErr != nil {
		return nil, m.openErr
	}
	if m.short {
		return bytes.NewReader(m.data[:len(m.data)/2]), nil
	}
	return bytes.NewReader(m.data), nil
}

func (m memStored) Size() int64 { return int64(len(m.data)) }

// TestStoredAttachment: an attachment read from where intake stored it is
// sealed at rest straight into pieces of its row and reads back byte for
// byte, beside one in memory; one that cannot be read, or reads short,
// fails the case's transaction rather than storing less.
func TestStoredAttachment(t *testing.T) {
	big := make([]byte, 3<<20+5)
	rand.Read(big)
	for _, tc := range []struct {
		name   string
		stored memStored
		fails  bool
	}{
		{"stored", memStored{data: big}, false},
		{"not opened", memStored{data: big, openErr: errors.New("pieces gone")}, true},
		{"short", memStored{data: big, short: true}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			r := Report{MessageID: "<big@reporter.example>", From: "rita@reporter.example", Subject: "core dump",
				Text: "see the core", Received: e.clock.Now(), Attachments: []Attachment{
					{Filename: "poc.sh", ContentType: "text/x-sh", Data: []byte("echo SECRET-POC")},
					{Filename: "core.bin", ContentType: "application/octet-stream", Stored: tc.stored},
				}}
			var c *Case
			err := e.db.Tx(e.ctx, func(tx *sql.Tx) error {
				var err error
				c, err = e.wf.OpenCase(e.ctx, tx, r)
				return err
			})
			if tc.fails {
				if err == nil {
					t.Fatal("case opened")
				}
				if n := e.count(`SELECT count(*) FROM case_attachments`) + e.count(`SELECT count(*) FROM blob_chunk`); n != 0 {
					t.Errorf("%d rows left of the failed case", n)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			msgs, err := e.wf.Messages(e.ctx, c.ID)
			if err != nil || len(msgs) != 1 || len(msgs[0].Attachments) != 2 {
				t.Fatalf("messages %+v, %v", msgs, err)
			}
			if a := msgs[0].Attachments[1]; a.Filename != "core.bin" || !bytes.Equal(a.Data, big) || a.ContentType != "application/octet-stream" {
				t.Errorf("attachment read back as %q %q, %d bytes", a.Filename, a.ContentType, len(a.Data))
			}
			if n := e.count(`SELECT count(*) FROM case_attachments WHERE length(data_enc) = 0 AND size = ?`, len(big)); n != 1 {
				t.Errorf("%d attachments in pieces of the stored size, want 1", n)
			}
			if n := e.count(`SELECT count(*) FROM blob_chunk WHERE owner = 'case_attachments' AND instr(data, ?) > 0`, big[:64]); n != 0 {
				t.Errorf("the attachment is stored in clear in %d pieces", n)
			}
		})
	}
}
