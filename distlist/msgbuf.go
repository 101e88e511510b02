package distlist

import "sync"

// Message buffers. Every message the outbox queues is built in a buffer
// that lives until its row is written, and every message it sends is
// copied out of its row into one that lives until the message is sent:
// tens of kilobytes a report that the collector would otherwise have to
// find again. They are taken from pools of a few sizes and given back
// where the message is no longer used, which is in exactly these places:
// once a built message is written to its row (Batch.Flush, the ordered
// writes of Enqueue, a streamed message's header), and once a claimed
// message has been sent (the delivery workers). A buffer given back is
// never read or written again by the code that gave it back. Buffers
// bigger than the biggest size are not pooled.

// bufferSizes are the capacities of the pooled buffers, smallest first.
var bufferSizes = [...]int{16 << 10, 32 << 10, 64 << 10}

// messageBuffers are the pools of the outbox's message buffers, one for
// each of bufferSizes.
type messageBuffers struct {
	pools [len(bufferSizes)]sync.Pool
}

// get returns an empty buffer with room for at least n bytes.
func (m *messageBuffers) get(n int) []byte {
	for i, size := range bufferSizes {
		if n <= size {
			if v, ok := m.pools[i].Get().(*[]byte); ok {
				return (*v)[:0]
			}
			return make([]byte, 0, size)
		}
	}
	return make([]byte, 0, n)
}

// put gives b back: the caller must not use it, or any slice of it, again.
// A buffer whose capacity is none of bufferSizes (a message that outgrew
// its buffer, or one that was not taken from get) is left to the
// collector.
func (m *messageBuffers) put(b []byte) {
	for i, size := range bufferSizes {
		if cap(b) == size {
			b = b[:0]
			m.pools[i].Put(&b)
			return
		}
	}
}
