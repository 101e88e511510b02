package distlist

import (
	"bytes"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-smtp"
	"github.com/secgate/secgate/distlist/smtpsink"
)

// countingConn counts the writes that reach the connection.
type countingConn struct {
	net.Conn
	mu     sync.Mutex
	writes int
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.writes++
	c.mu.Unlock()
	return c.Conn.Write(p)
}

func (c *countingConn) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.writes
}

// TestFlushOnReadWrites sends a message of 12 KB through go-smtp's client
// to the sink, over the bare connection and over flushOnRead, and counts
// the writes of the transaction: go-smtp writes the data in pieces of 4
// KiB and the final dot apart; flushOnRead writes MAIL, RCPT, DATA and the
// data with its dot, one each. The sink must receive the same message.
func TestFlushOnReadWrites(t *testing.T) {
	sink, err := smtpsink.Start(smtpsink.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	body := strings.Repeat("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\r\n", 180)
	msg := []byte("From: a@example.org\r\nTo: b@example.org\r\nSubject: x\r\n\r\n" + body)
	for _, tc := range []struct {
		name   string
		wrap   bool
		writes func(int) bool
		want   string
	}{
		{"bare", false, func(n int) bool { return n > 4 }, "more than 4"},
		{"flushOnRead", true, func(n int) bool { return n == 4 }, "4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sink.Reset()
			raw, err := net.Dial("tcp", sink.Addr)
			if err != nil {
				t.Fatal(err)
			}
			cc := &countingConn{Conn: raw}
			var conn net.Conn = cc
			if tc.wrap {
				conn = newFlushOnRead(cc)
			}
			c := smtp.NewClient(conn)
			defer c.Close()
			if err := c.Hello("localhost"); err != nil {
				t.Fatal(err)
			}
			if err := c.Noop(); err != nil { // EHLO now, not within the count
				t.Fatal(err)
			}
			before := cc.count()
			if err := c.Mail("a@example.org", nil); err != nil {
				t.Fatal(err)
			}
			if err := c.Rcpt("b@example.org", nil); err != nil {
				t.Fatal(err)
			}
			w, err := c.Data()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.Write(msg); err != nil {
				t.Fatal(err)
			}
			if _, err := w.CloseWithResponse(); err != nil {
				t.Fatal(err)
			}
			if n := cc.count() - before; !tc.writes(n) {
				t.Errorf("%d writes for the transaction, want %s", n, tc.want)
			}
			got := sink.Messages()
			if len(got) != 1 || !bytes.Equal(got[0].Data, msg) {
				t.Fatalf("the sink received %d messages, or not the one written", len(got))
			}
		})
	}
}

// failConn fails every write.
type failConn struct{ net.Conn }

var errWriteFailed = errors.New("write failed")

func (failConn) Write([]byte) (int, error) { return 0, errWriteFailed }

// TestFlushOnReadPending shows what flushOnRead does with what it holds:
// a read writes it first, and a failed write is the read's error, not
// lost; more than its buffer goes in full buffers, byte for byte, and no
// buffer is held once it is written; a close drops it unwritten.
func TestFlushOnReadPending(t *testing.T) {
	t.Run("read flushes", func(t *testing.T) {
		a, b := net.Pipe()
		defer b.Close()
		c := newFlushOnRead(a)
		if _, err := c.Write([]byte("MAIL FROM:<a@example.org>\r\n")); err != nil {
			t.Fatal(err)
		}
		got := make(chan string, 1)
		go func() {
			buf := make([]byte, 64)
			n, _ := b.Read(buf)
			got <- string(buf[:n])
			b.Write([]byte("250 ok\r\n"))
		}()
		buf := make([]byte, 64)
		n, err := c.Read(buf)
		if err != nil || string(buf[:n]) != "250 ok\r\n" {
			t.Fatalf("read %q, %v", buf[:n], err)
		}
		if s := <-got; s != "MAIL FROM:<a@example.org>\r\n" {
			t.Fatalf("the peer read %q before the reply", s)
		}
		c.Close()
	})
	t.Run("write error shows at read", func(t *testing.T) {
		a, b := net.Pipe()
		defer b.Close()
		c := newFlushOnRead(failConn{a})
		if _, err := c.Write([]byte("DATA\r\n")); err != nil {
			t.Fatalf("the write failed before the read: %v", err)
		}
		if _, err := c.Read(make([]byte, 8)); !errors.Is(err, errWriteFailed) {
			t.Fatalf("read error %v, want the write's", err)
		}
		c.Close()
	})
	t.Run("big data in full buffers, none held after", func(t *testing.T) {
		a, b := net.Pipe()
		defer b.Close()
		cc := &countingConn{Conn: a}
		c := newFlushOnRead(cc)
		data := bytes.Repeat([]byte("0123456789abcdef"), 100<<10/16) // 100 KiB
		got := make(chan []byte, 1)
		go func() {
			var all []byte
			buf := make([]byte, 8<<10)
			for len(all) < len(data) {
				n, err := b.Read(buf)
				if err != nil {
					break
				}
				all = append(all, buf[:n]...)
			}
			got <- all
			b.Write([]byte("250 ok\r\n"))
		}()
		for p := data; len(p) > 0; p = p[min(len(p), 4096):] { // as go-smtp writes
			if _, err := c.Write(p[:min(len(p), 4096)]); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := c.Read(make([]byte, 64)); err != nil {
			t.Fatal(err)
		}
		if all := <-got; !bytes.Equal(all, data) {
			t.Fatalf("the peer read %d bytes, not the %d written", len(all), len(data))
		}
		if n, want := cc.count(), (len(data)+writeBuffer-1)/writeBuffer; n != want {
			t.Errorf("%d writes, want %d", n, want)
		}
		if c.buf != nil {
			t.Error("the connection holds a buffer while nothing is waiting")
		}
		c.Close()
	})
	t.Run("close drops", func(t *testing.T) {
		a, b := net.Pipe()
		c := newFlushOnRead(a)
		if _, err := c.Write([]byte("partial data")); err != nil {
			t.Fatal(err)
		}
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		n, err := b.Read(make([]byte, 64))
		if n != 0 || err == nil {
			t.Fatalf("the peer read %d bytes (%v) after the close", n, err)
		}
	})
}
