package distlist

import (
	"bufio"
	"net"
)

// writeBuffer is how much a submission connection gathers before it
// writes: a message of this size and the end of its data go out in one
// write, not in go-smtp's pieces of 4 KiB.
const writeBuffer = 32 << 10

// flushOnRead is a connection that gathers what is written and writes it
// only when it must: before every read, and when the buffer is full. SMTP
// is a dialogue, the client reads the server's reply after every command
// and after the data, so nothing waits in the buffer for long, and a
// message's data and its final dot leave in one system call instead of
// one for every 4 KiB. It changes neither the bytes nor their order. What
// is still gathered when the connection is closed is dropped: the only
// close with data pending is the drop of a message that was not written
// whole, which must not reach the server anyway. A write error shows at
// the next read; the deadline of that read (go-smtp sets both together)
// bounds the write.
type flushOnRead struct {
	net.Conn
	w *bufio.Writer
}

func newFlushOnRead(c net.Conn) *flushOnRead {
	return &flushOnRead{Conn: c, w: bufio.NewWriterSize(c, writeBuffer)}
}

func (c *flushOnRead) Write(p []byte) (int, error) { return c.w.Write(p) }

func (c *flushOnRead) Read(p []byte) (int, error) {
	if c.w.Buffered() > 0 {
		if err := c.w.Flush(); err != nil {
			return 0, err
		}
	}
	return c.Conn.Read(p)
}
