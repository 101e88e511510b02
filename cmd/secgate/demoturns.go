package main

import (
	"sync"
	"time"

	"github.com/secgate/secgate/internal/clock"
)

// demoTurns interleaves the case lifecycles of the demo's projects on their
// one gateway process and simulated clock: both cases are open at once and
// progress together. One lifecycle runs at a time, up to its next step
// (demo.step), and then the next one's turn comes, round the projects; a
// lifecycle that waits for a later time (demo.advance) waits until every
// other one waits for a time too or is done, and the clock then moves to
// the earliest time waited for, so that no project's notice is sent late
// and the clock never goes back. Taking turns keeps the transcript in an
// order that does not depend on timing: each step's lines together, under
// its project's tag.
type demoTurns struct {
	clock *clock.Fake
	kick  func() // after the clock moved: wakes every project's gateway

	turn  []chan struct{} // a lifecycle runs when it receives from its channel
	mu    sync.Mutex
	until []time.Time // what each lifecycle waits for (zero: only its turn)
	done  []bool
}

func newDemoTurns(n int, ck *clock.Fake, kick func()) *demoTurns {
	t := &demoTurns{clock: ck, kick: kick, turn: make([]chan struct{}, n), until: make([]time.Time, n), done: make([]bool, n)}
	for i := range t.turn {
		t.turn[i] = make(chan struct{}, 1)
	}
	return t
}

// run runs f(0) to f(n-1), each in its turns, the first first, and returns
// their errors.
func (t *demoTurns) run(f func(i int) error) []error {
	errs := make([]error, len(t.turn))
	var wg sync.WaitGroup
	for i := range t.turn {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-t.turn[i]
			errs[i] = f(i)
			t.mu.Lock()
			t.done[i] = true
			t.mu.Unlock()
			t.pass(i)
		}()
	}
	t.turn[0] <- struct{}{}
	wg.Wait()
	return errs
}

// yield gives the turn to the next lifecycle and returns when it is i's
// again.
func (t *demoTurns) yield(i int) {
	t.pass(i)
	<-t.turn[i]
}

// wait returns once the clock is at until (or later) and it is i's turn.
func (t *demoTurns) wait(i int, until time.Time) {
	t.mu.Lock()
	t.until[i] = until
	t.mu.Unlock()
	t.yield(i)
}

// pass gives the turn to the first lifecycle after i, round the projects,
// that can run (i itself last), moving the clock when every one left waits
// for a time.
func (t *demoTurns) pass(i int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := len(t.turn)
	for {
		var earliest time.Time
		for k := 1; k <= n; k++ {
			j := (i + k) % n
			switch {
			case t.done[j]:
				continue
			case !t.until[j].After(t.clock.Now()):
				t.until[j] = time.Time{}
				t.turn[j] <- struct{}{}
				return
			case earliest.IsZero() || t.until[j].Before(earliest):
				earliest = t.until[j]
			}
		}
		if earliest.IsZero() {
			return // every lifecycle is done
		}
		t.clock.Set(earliest)
		t.kick()
	}
}
