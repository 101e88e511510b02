package distlist

import (
	"fmt"
	"sync"
	"testing"
)

// TestGuardReadersShared runs the guard on many goroutines at once over
// messages it passes and messages it refuses, through the readers it
// shares: each verdict is the message's own, as when run alone.
func TestGuardReadersShared(t *testing.T) {
	const addr = "rita@reporter.example"
	good, kid := answer(t, addr)
	other := testKey(t, "bob@distro-b.example", "x25519", false)
	rita := testKey(t, addr, "x25519", false)
	bad := twoRecipients(t, rita, other, addr)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 64 {
		wg.Go(func() {
			raw, refused := good, false
			if i%2 == 1 {
				raw, refused = bad, true
			}
			j := &job{kind: "ack", caseID: 7, encrypt: true, recipient: addr, raw: raw}
			if err := guard(memMessage(raw), j, kid); (err != nil) != refused {
				errs <- fmt.Errorf("message %d (refused alone: %v): %v", i, refused, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
