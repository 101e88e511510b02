package distlist

import (
	"net"
	"sync"
)

// writeBuffer is how much a submission connection gathers before it
// writes: a message of this size and the end of its data go out in one
// write, not in go-smtp's pieces of 4 KiB.
const writeBuffer = 32 << 10

// writeBuffers are the buffers of flushOnRead, each held by a connection
// only while it has something gathered: an idle connection holds none,
// however many projects and connections a process has.
var writeBuffers = sync.Pool{New: func() any { b := make([]byte, 0, writeBuffer); return &b }}

// flushOnRead is a connection that gathers what is written and writes it
// only when it must: before every read, and when writeBuffer bytes are
// waiting. SMTP is a dialogue, the client reads the server's reply after
// every command and after the data, so nothing waits for long, and a
// message's data and its final dot leave in one system call instead of
// one for every 4 KiB. It changes neither the bytes nor their order. What
// is still gathered when the connection is closed is dropped: the only
// close with data waiting is the drop of a message that was not written
// whole, which must not reach the server anyway. A write error shows at
// the next read; the deadline of that read (go-smtp sets both together)
// bounds the write. Like the connection below it, it is used by one
// goroutine at a time.
type flushOnRead struct {
	net.Conn
	buf *[]byte // what is gathered, from writeBuffers; nil when nothing is
}

func newFlushOnRead(c net.Conn) *flushOnRead { return &flushOnRead{Conn: c} }

func (c *flushOnRead) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		if c.buf == nil {
			c.buf = writeBuffers.Get().(*[]byte)
		}
		if len(*c.buf) == writeBuffer {
			if err := c.flush(); err != nil {
				return n, err
			}
			continue
		}
		k := min(writeBuffer-len(*c.buf), len(p))
		*c.buf = append(*c.buf, p[:k]...)
		p = p[k:]
		n += k
	}
	return n, nil
}

// flush writes what is gathered and gives the buffer back.
func (c *flushOnRead) flush() error {
	if c.buf == nil {
		return nil
	}
	_, err := c.Conn.Write(*c.buf)
	*c.buf = (*c.buf)[:0]
	writeBuffers.Put(c.buf)
	c.buf = nil
	return err
}

func (c *flushOnRead) Read(p []byte) (int, error) {
	if err := c.flush(); err != nil {
		return 0, err
	}
	return c.Conn.Read(p)
}
