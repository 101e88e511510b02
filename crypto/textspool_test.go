package crypto

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// memSpool is a Spool in memory, for tests.
type memSpool struct {
	b         bytes.Buffer
	closed    bool
	discarded bool
}

func (s *memSpool) Write(p []byte) (int, error) { return s.b.Write(p) }
func (s *memSpool) Close() error                { s.closed = true; return nil }
func (s *memSpool) Size() int64                 { return int64(s.b.Len()) }
func (s *memSpool) Discard()                    { s.discarded = true }
func (s *memSpool) Open() (io.Reader, error) {
	if !s.closed {
		return nil, errors.New("spool read before it was closed")
	}
	return bytes.NewReader(s.b.Bytes()), nil
}

// spooledEqual reports whether TextBodySpooled's result, its spools read
// back, is TextBody's, and how many attachments were spooled.
func spooledEqual(t *testing.T, entity []byte, above int64) (spooled int) {
	t.Helper()
	text, atts, err := TextBody(entity)
	var made []*memSpool
	stext, satts, serr := textBodyOf(entity, func() (Spool, error) {
		s := &memSpool{}
		made = append(made, s)
		return s, nil
	}, above)
	if (err == nil) != (serr == nil) || err != nil && !errors.Is(serr, ErrTooComplex) == errors.Is(err, ErrTooComplex) {
		t.Fatalf("TextBody: %v; spooled: %v", err, serr)
	}
	if err != nil {
		for _, s := range made {
			if !s.discarded {
				t.Errorf("a spool made before the error %v was kept", serr)
			}
		}
		return 0
	}
	if text != stext {
		t.Errorf("text %q, spooled %q", text, stext)
	}
	for i := range satts {
		if s := satts[i].Spool; s != nil {
			if satts[i].Data != nil || s.Size() <= above {
				t.Errorf("attachment %d: spooled with %d bytes in memory, %d in the spool (above %d)", i, len(satts[i].Data), s.Size(), above)
			}
			r, err := s.Open()
			if err != nil {
				t.Fatal(err)
			}
			satts[i].Data, _ = io.ReadAll(r)
			satts[i].Spool = nil
			spooled++
		}
	}
	if len(atts) == 0 {
		atts = nil
	}
	if len(satts) == 0 {
		satts = nil
	}
	if !reflect.DeepEqual(atts, satts) {
		t.Errorf("attachments differ: %d, spooled %d", len(atts), len(satts))
	}
	return spooled
}

// TestTextBodySpooled: with spools, the text and attachments are
// TextBody's, whatever the shape of the entity, and exactly the
// attachments bigger than the threshold are spooled, never in memory.
func TestTextBodySpooled(t *testing.T) {
	big := strings.Repeat("0123456789abcdef", 1<<10)
	att := func(name, body string) string {
		return "Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=" + name + "\r\n\r\n" + body
	}
	tests := []struct {
		name    string
		entity  string
		spooled int
	}{
		{"text only", "Content-Type: text/plain\r\n\r\nhello\r\n", 0},
		{"small attachment", mixed("Content-Type: text/plain\r\n\r\nhi\r\n", att("a.bin", "short")), 0},
		{"big attachment", mixed("Content-Type: text/plain\r\n\r\nhi\r\n", att("a.bin", big)), 1},
		{"big first, text after", mixed(att("a.bin", big), "Content-Type: text/plain\r\n\r\nafter\r\n"), 1},
		{"nested mixed", mixed("Content-Type: text/plain\r\n\r\nhi\r\n", "Content-Type: multipart/mixed; boundary=in\r\n\r\n--in\r\n"+att("b.bin", big)+"\r\n--in\r\n"+att("c.bin", "x")+"\r\n--in--\r\n"), 1},
		{"alternative kept whole", mixed("Content-Type: multipart/alternative; boundary=alt\r\n\r\n--alt\r\nContent-Type: text/plain\r\n\r\nplain\r\n--alt\r\nContent-Type: text/html\r\n\r\n<p>html</p>\r\n--alt--\r\n", att("d.bin", big)), 1},
		{"key part", mixed("Content-Type: text/plain\r\n\r\nhi\r\n", "Content-Type: application/pgp-keys\r\n\r\n"+big), 0},
		{"html inline", mixed("Content-Type: text/html\r\n\r\n<p>" + big + "</p>\r\n"), 0},
		{"base64", mixed(att("e.bin", "")+"", "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=f\r\n\r\n"+strings.Repeat("QUJD", 2000)+"\r\n"), 1},
		{"truncated", "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b\r\n" + att("g.bin", big), 1},
		{"single part attachment", att("h.bin", big), 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := spooledEqual(t, []byte(tt.entity), 1000); got != tt.spooled {
				t.Errorf("%d attachments spooled, want %d", got, tt.spooled)
			}
		})
	}
}

// TestTextBodySpooledLimits: a spooled attachment counts against the
// decoded budget like one in memory, and the spools made are discarded.
func TestTextBodySpooledLimits(t *testing.T) {
	lim := DefaultLimits()
	var made []*memSpool
	w := &textWalker{lim: lim, budget: 5000, above: 100, spools: func() (Spool, error) {
		s := &memSpool{}
		made = append(made, s)
		return s, nil
	}}
	entity := mixed("Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=a\r\n\r\n"+strings.Repeat("x", 3000),
		"Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=b\r\n\r\n"+strings.Repeat("y", 3000))
	_, _, err := textBody(bytes.NewReader([]byte(entity)), w)
	if !errors.Is(err, ErrTooComplex) {
		t.Fatalf("err %v, want ErrTooComplex", err)
	}
	if len(made) != 2 || !made[0].discarded || !made[1].discarded {
		t.Errorf("%d spools made; all discarded: want 2, both", len(made))
	}
}

// FuzzTextBodySpooled: spooling every attachment bigger than 16 bytes
// changes nothing of what TextBody returns.
func FuzzTextBodySpooled(f *testing.F) {
	addMailSeeds(f)
	files, _ := filepath.Glob("testdata/mail/*.eml")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, entity []byte) {
		spooledEqual(t, entity, 16)
	})
}

// failSpool is a Spool whose store fails as it is written.
type failSpool struct{ memSpool }

func (f *failSpool) Write(p []byte) (int, error) { return 0, errors.New("disk full") }

// TestSpoolFails: a spool that cannot be made or written fails the
// decoding with ErrSpool, which says the store failed and not the
// message; OpenFromSpooled then leaves the message to OpenFrom.
func TestSpoolFails(t *testing.T) {
	entity := mixed("Content-Type: text/plain\r\n\r\nhi", "Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=a\r\n\r\n"+strings.Repeat("x", 3000))
	for name, spools := range map[string]func() (Spool, error){
		"not made":    func() (Spool, error) { return nil, errors.New("database gone") },
		"not written": func() (Spool, error) { return &failSpool{}, nil },
	} {
		_, _, err := textBodyOf([]byte(entity), spools, 100)
		if !errors.Is(err, ErrSpool) || errors.Is(err, ErrNotMIME) {
			t.Errorf("%s: %v, want ErrSpool alone", name, err)
		}
		team := testKey(t, "team")
		raw := pgpMIME(mustArmor(t, encryptTo(t, team, nil, []byte(entity))))
		n := 0
		o, handled, err := openFrom(streamOf(raw, &n), OpenOptions{Decrypt: team, Now: t0}, spools, 16)
		if handled && err == nil {
			// openFrom reports the spool's failure; OpenFromSpooled
			// turns it into "not handled".
			t.Errorf("%s: opened %+v", name, o)
		}
		if !errors.Is(err, ErrSpool) {
			t.Errorf("%s: openFrom: %v, want ErrSpool", name, err)
		}
		big := pgpMIME(mustArmor(t, encryptTo(t, team, nil, []byte(mixed("Content-Type: text/plain\r\n\r\n"+strings.Repeat("y\r\n", SpoolAbove/2))))))
		if o, handled, err := OpenFromSpooled(streamOf(big, &n), OpenOptions{Decrypt: team, Now: t0}, spools); handled || o != nil || err != nil {
			t.Errorf("%s: OpenFromSpooled handled %v, %v, %v; want it left to OpenFrom", name, handled, o, err)
		}
	}
}
