package main

import (
	"errors"
	"fmt"
	"sync"
	"testing"
)

// TestEachProject: projects start several at a time, and a failure is
// reported as a start one after another would report it, whichever
// finishes first: the error of the first failing project in order; once
// one has failed no other starts.
func TestEachProject(t *testing.T) {
	tests := []struct {
		name    string
		n, par  int
		fail    []int // the projects that fail
		want    string
		started int // at most this many started (0: all)
	}{
		{"all start", 6, 3, nil, "", 0},
		{"one fails", 6, 3, []int{4}, "project 4", 0},
		{"the first in order is named, though a later one fails first", 6, 6, []int{1, 3}, "project 1", 0},
		{"one at a time: nothing starts after a failure", 6, 1, []int{1}, "project 1", 2},
		{"more at a time than projects", 2, 16, []int{0, 1}, "project 0", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fails := map[int]bool{}
			for _, i := range tt.fail {
				fails[i] = true
			}
			// A failing project returns only once every later failing
			// project (in order) has returned: the later ones fail first.
			var mu sync.Mutex
			started := 0
			done := make([]chan struct{}, tt.n)
			for i := range done {
				done[i] = make(chan struct{})
			}
			err := eachProject(tt.n, tt.par, func(i int) error {
				mu.Lock()
				started++
				mu.Unlock()
				defer close(done[i])
				if !fails[i] {
					return nil
				}
				for j := i + 1; j < tt.n && tt.par >= tt.n; j++ {
					if fails[j] {
						<-done[j]
					}
				}
				return fmt.Errorf("project %d", i)
			})
			if tt.want == "" && err != nil || tt.want != "" && (err == nil || err.Error() != tt.want) {
				t.Errorf("error %v, want %q", err, tt.want)
			}
			if tt.started > 0 && started > tt.started {
				t.Errorf("%d projects started, want at most %d", started, tt.started)
			}
			if tt.started == 0 && len(tt.fail) == 0 && started != tt.n {
				t.Errorf("%d projects started, want %d", started, tt.n)
			}
		})
	}
	if err := eachProject(0, 4, func(int) error { return errors.New("called") }); err != nil {
		t.Errorf("no project: %v", err)
	}
}
