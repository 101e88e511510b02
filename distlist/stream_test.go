package distlist

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/secgate/secgate/distlist/smtpsink"
	"github.com/secgate/secgate/store"
)

// storedMessage stores raw in pieces as row id's message and returns the
// message as send reads it.
func storedMessage(t *testing.T, e *env, id int64, raw []byte) *outMessage {
	t.Helper()
	ctx := context.Background()
	err := e.db.Tx(ctx, func(tx *sql.Tx) error {
		w := store.NewBlobWriter(ctx, tx, "outbox", id)
		if _, err := w.Write(raw); err != nil {
			return err
		}
		return w.Close()
	})
	if err != nil {
		t.Fatal(err)
	}
	j := &job{id: id}
	if err := j.openBlob(ctx, e.db.Reader()); err != nil {
		t.Fatal(err)
	}
	return j.message(ctx)
}

// bigClearMessage is a public message of more than two pieces to addr.
func bigClearMessage(addr string) []byte {
	body := strings.Repeat("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef01234567\r\n", 2*store.ChunkSize/74+9)
	return []byte("From: security@project.example\r\nTo: " + addr + "\r\nSubject: big\r\n\r\n" + body)
}

// TestOutMessageStream: a message stored in pieces is guarded and
// written as a stream, byte for byte; if its pieces change after the guard
// read them, or one goes missing, WriteTo fails before the end and never
// writes the changed bytes whole; a message never guarded is not written.
func TestOutMessageStream(t *testing.T) {
	const a = "alice@distro-a.example"
	raw := bigClearMessage(a)
	tests := []struct {
		name   string
		change string // SQL run between the guard and WriteTo
		ok     bool
	}{
		{"unchanged", "", true},
		{"a byte changed", `UPDATE blob_chunk SET data = CAST(replace(CAST(data AS TEXT), '0123', '0124') AS BLOB) WHERE owner = 'outbox' AND id = 1 AND seq = 1`, false},
		{"a piece gone", `DELETE FROM blob_chunk WHERE owner = 'outbox' AND id = 1 AND seq = 2`, false},
		{"the last piece shorter", `UPDATE blob_chunk SET data = substr(data, 1, 10) WHERE owner = 'outbox' AND id = 1 AND seq = 2`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, smtpsink.Options{}, nil)
			msg := storedMessage(t, e, 1, raw)
			if err := guard(msg, testRow(a, false), 0); err != nil {
				t.Fatalf("guard: %v", err)
			}
			if tt.change != "" {
				if _, err := e.db.Writer().Exec(tt.change); err != nil {
					t.Fatal(err)
				}
			}
			var out bytes.Buffer
			_, err := msg.WriteTo(&out)
			if (err == nil) != tt.ok {
				t.Fatalf("WriteTo = %v, want ok=%v", err, tt.ok)
			}
			if tt.ok && !bytes.Equal(out.Bytes(), raw) {
				t.Fatalf("wrote %d bytes, want the %d stored", out.Len(), len(raw))
			}
		})
	}
	t.Run("not guarded", func(t *testing.T) {
		e := newEnv(t, smtpsink.Options{}, nil)
		msg := storedMessage(t, e, 1, raw)
		var out bytes.Buffer
		if _, err := msg.WriteTo(&out); err == nil || out.Len() != 0 {
			t.Fatalf("WriteTo of a message never guarded: %v, %d bytes", err, out.Len())
		}
	})
}

// TestGuardStreamReadError: a message whose pieces cannot be read is not
// refused as if the guard had found it wrong (that would fail the row as a
// bug): it is a read error, and the row is tried again.
func TestGuardStreamReadError(t *testing.T) {
	const a = "alice@distro-a.example"
	e := newEnv(t, smtpsink.Options{}, nil)
	msg := storedMessage(t, e, 1, bigClearMessage(a))
	if _, err := e.db.Writer().Exec(`DELETE FROM blob_chunk WHERE owner = 'outbox' AND id = 1 AND seq = 1`); err != nil {
		t.Fatal(err)
	}
	err := guard(msg, testRow(a, false), 0)
	var re *readError
	if !errors.As(err, &re) || errors.Is(err, ErrGuard) {
		t.Fatalf("guard = %v, want a read error and no refusal", err)
	}
	// A reader failing at once, the same.
	err = guardStream(iotest.ErrReader(errors.New("disk")), testRow(a, false), 0)
	if !errors.As(err, &re) {
		t.Fatalf("guardStream = %v, want a read error", err)
	}
}

// TestLineCheck: the line ends are checked across the reads a stream is
// cut into, as over the whole message: the first fault found, at its
// offset in the message.
func TestLineCheck(t *testing.T) {
	tests := []struct {
		in   string
		want string // "" for none
	}{
		{"a\r\nb\r\n", ""},
		{"", ""},
		{"a\nb", "bare LF at offset 1"},
		{"\n", "bare LF at offset 0"},
		{"a\rb\r\n", "bare CR at offset 1"},
		{"a\r\nb\r", "bare CR at offset 4"},
		{"a\r\n\x00", "message contains NUL"},
		{"a\r\r\n", "bare CR at offset 1"},
	}
	for _, tt := range tests {
		for _, r := range []func(string) *lineCheck{
			func(s string) *lineCheck { return &lineCheck{r: strings.NewReader(s)} },
			func(s string) *lineCheck { return &lineCheck{r: iotest.OneByteReader(strings.NewReader(s))} },
		} {
			c := r(tt.in)
			if _, err := bytes.NewBuffer(nil).ReadFrom(c); err != nil {
				t.Fatal(err)
			}
			got := ""
			if c.err != nil {
				got = strings.TrimPrefix(c.err.Error(), "guard: ")
			}
			if got != tt.want {
				t.Errorf("%q: %q, want %q", tt.in, got, tt.want)
			}
		}
	}
}

// FuzzLineCheck: the stream's line check finds a fault exactly when the
// whole message has one, however the stream is cut.
func FuzzLineCheck(f *testing.F) {
	f.Add([]byte("a\r\nb\r\n"), uint8(1))
	f.Add([]byte("a\nb\r"), uint8(3))
	f.Fuzz(func(t *testing.T, data []byte, cut uint8) {
		c := &lineCheck{r: &cutReader{data: data, n: int(cut)%7 + 1}}
		if _, err := bytes.NewBuffer(nil).ReadFrom(c); err != nil {
			t.Fatal(err)
		}
		bad := bytes.IndexByte(data, 0) >= 0
		for i, b := range data {
			if b == '\n' && (i == 0 || data[i-1] != '\r') || b == '\r' && (i+1 == len(data) || data[i+1] != '\n') {
				bad = true
			}
		}
		if (c.err != nil) != bad {
			t.Fatalf("%q: line check %v, want fault %v", data, c.err, bad)
		}
	})
}

// cutReader returns data n bytes at a time.
type cutReader struct {
	data []byte
	n    int
}

func (r *cutReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	k := copy(p[:min(len(p), r.n)], r.data)
	r.data = r.data[k:]
	return k, nil
}
