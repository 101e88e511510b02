package intake

import (
	"bytes"
	"context"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/secgate/secgate/internal/testwait"
)

// handRecorder is a recorder that takes the messages handed over, and
// keeps the copies it was given.
type handRecorder struct {
	*recorder
	mu    sync.Mutex
	given map[int64]*storedCopy
}

func (h *handRecorder) processStored(ctx context.Context, ids []int64, given map[int64]*storedCopy) error {
	h.mu.Lock()
	for id, c := range given {
		h.given[id] = c
	}
	h.mu.Unlock()
	for _, id := range ids {
		if err := h.Process(ctx, id); err != nil {
			return err
		}
	}
	return nil
}

// TestRoutedHandOver: in a shared mailbox each project's handler is
// handed the messages stored in its project's database, each copy the
// row and the bytes that database holds (with the note of how it was
// routed); a message no project owns, stored quarantined, is handed to
// nobody.
func TestRoutedHandOver(t *testing.T) {
	e := newRoutedEnv(t)
	hands := map[string]*handRecorder{}
	for i, r := range e.routes.Routes {
		h := &handRecorder{recorder: e.rec[r.Project], given: map[int64]*storedCopy{}}
		hands[r.Project] = h
		e.routes.Routes[i].Handler = h
	}
	e.s.deliverRouted(t, "security+a@example.test", "security+a@example.test", "to-a@x")
	e.s.deliverRouted(t, "security+b@example.test", "security+b@example.test", "to-b@x")
	e.s.deliverRouted(t, "", "security+a@example.test", "no-envelope@x")
	e.s.deliverRouted(t, "security+c@example.test", "security+c@example.test", "nobody@x")

	ctx, cancel := context.WithCancel(context.Background())
	done := e.run(t, ctx, nil)
	defer func() { cancel(); <-done }()
	testwait.For(t, "all moved", func() bool { return e.s.count(t, "INBOX") == 0 })
	cancel()
	<-done

	want := map[string][]string{"a": {"to-a@x", "no-envelope@x"}, "b": {"to-b@x"}}
	for project, mids := range want {
		h := hands[project]
		var got []string
		for id, c := range h.given {
			stored, err := getInbound(context.Background(), e.db[project].Reader(), id)
			if err != nil {
				t.Fatalf("%s: handed inbound %d: %v", project, id, err)
			}
			// Handed as stored, before the handler and the move changed
			// its state.
			stored.State, stored.Processed, stored.Moved = StateStored, c.in.Processed, false
			raw, err := rawMessage(context.Background(), e.db[project].Reader(), plainRest{}, id)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(&c.in, stored) || !bytes.Equal(c.raw, raw) {
				t.Errorf("%s: handed inbound %d as\n%+v\nits database holds\n%+v", project, id, c.in, *stored)
			}
			got = append(got, c.in.MessageID)
		}
		slices.Sort(got)
		slices.Sort(mids)
		if !slices.Equal(got, mids) {
			t.Errorf("%s was handed %v, want %v", project, got, mids)
		}
	}
	for _, c := range hands["a"].given {
		if c.in.MessageID == "no-envelope@x" && !strings.Contains(c.in.Reason, "routed by To") {
			t.Errorf("no-envelope@x handed with the note %q, want how it was routed", c.in.Reason)
		}
	}
}
