// Package imapmem serves go-imap's in-memory IMAP server (imapmemserver),
// the demo's, the bench's and the unit tests' mail server, with sessions
// whose IDLE reports every update.
package imapmem

import (
	"errors"
	"time"

	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
)

// idleSlice bounds how long an update can wait in a memSession's IDLE.
const idleSlice = 250 * time.Millisecond

// memSession is a session of go-imap's in-memory server (the demo's and
// the bench's IMAP server) whose IDLE reports every update. go-imap's
// tracker (v2.0.0-beta.8) starts IDLE without looking at the updates
// queued since the last command: mail delivered in that gap is reported
// only with the next update, which may never come. memSession polls before
// IDLE and idles in slices of idleSlice with a poll between them, so such
// mail is reported within idleSlice. The poller then fetches it at once;
// Dovecot, which secgate serve talks to, has no such gap.
type memSession struct {
	imapserver.SessionIMAP4rev2
}

// NewSession returns a new session of mem, for imapserver.Options.NewSession.
func NewSession(mem *imapmemserver.Server) (imapserver.Session, error) {
	s, ok := mem.NewSession().(imapserver.SessionIMAP4rev2)
	if !ok {
		return nil, errors.New("imapmemserver: session lacks the IMAP4rev2 methods")
	}
	return memSession{s}, nil
}

func (s memSession) Idle(w *imapserver.UpdateWriter, stop <-chan struct{}) error {
	for {
		if err := s.Poll(w, true); err != nil {
			return err
		}
		slice := make(chan struct{})
		t := time.AfterFunc(idleSlice, func() { close(slice) })
		ended := make(chan struct{})
		go func() {
			select {
			case <-stop:
				if t.Stop() {
					close(slice)
				}
			case <-ended:
			}
		}()
		err := s.SessionIMAP4rev2.Idle(w, slice)
		close(ended)
		if err != nil {
			return err
		}
		select {
		case <-stop:
			return nil
		case <-slice:
		default:
			return nil // ended on its own (no mailbox selected)
		}
	}
}
