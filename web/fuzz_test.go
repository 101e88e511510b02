package web

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/secgate/secgate/internal/clock"
)

// FuzzRequest: whatever the path and query (the only input a client
// gives the view), the answer is a page or a 4xx with the security
// headers, never a 500 or a panic, and nothing of the request is written
// back unescaped.
func FuzzRequest(f *testing.F) {
	for _, s := range []string{"/", "/?state=closed&project=example&lead=Alice", "/case/example/SEC-2030-0001", "/case/%3Cx%3E/%22",
		"/outbox", "/keys", "/calendar.ics", "/case/example/SEC-2030-0001/../../outbox", "/?lead=%3Cscript%3Ealert(1)%3C/script%3E"} {
		f.Add(s)
	}
	h, err := New(Options{Projects: []Project{newFake().project("example")}, Clock: clock.NewFake(testNow)})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, target string) {
		if !strings.HasPrefix(target, "/") || strings.ContainsAny(target, " \r\n\t#") {
			return
		}
		req, err := http.NewRequest("GET", "http://127.0.0.1:9465"+target, nil)
		if err != nil {
			return
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("GET %q: %d", target, rec.Code)
		}
		if rec.Header().Get("Content-Security-Policy") != ContentSecurityPolicy {
			t.Fatalf("GET %q: no CSP", target)
		}
		if body := rec.Body.String(); strings.Contains(body, "<script") || strings.Contains(body, "<x>") {
			t.Fatalf("GET %q: markup of the request in the answer", target)
		}
	})
}
