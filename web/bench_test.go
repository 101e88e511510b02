package web

import (
	"fmt"
	"net/http/httptest"
	"testing"

	"github.com/secgate/secgate/internal/clock"
)

// BenchmarkCasesPage renders the list of 1000 cases (readers in memory:
// what the view itself costs, not the database).
func BenchmarkCasesPage(b *testing.B) {
	f := newFake()
	for i := 3; i <= 1000; i++ {
		c := *f.cases[i%2]
		c.ID, c.Ref = int64(i), fmt.Sprintf("SEC-2030-%04d", i)
		f.steps[c.ID] = f.steps[1]
		f.cases = append(f.cases, &c)
	}
	h, err := New(Options{Projects: []Project{f.project("example")}, Clock: clock.NewFake(testNow)})
	if err != nil {
		b.Fatal(err)
	}
	req := httptest.NewRequest("GET", "/?state=all", nil)
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatal(rec.Code)
		}
	}
}
