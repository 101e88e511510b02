package web

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/secgate/secgate/cases"
	"github.com/secgate/secgate/internal/clock"
)

func newServer(t *testing.T, f *fake) *httptest.Server {
	t.Helper()
	h, err := New(Options{Projects: []Project{f.project("example")}, Clock: clock.NewFake(testNow)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, srv *httptest.Server, method, path string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader("x=1"))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

// TestHeadersAndMethods: every answer, a page, the stylesheet, the
// calendar, a page that is not there or a method that is refused, carries
// the security headers; only GET and HEAD are answered.
func TestHeadersAndMethods(t *testing.T) {
	srv := newServer(t, newFake())
	for _, tc := range []struct {
		method, path string
		status       int
	}{
		{"GET", "/", 200},
		{"HEAD", "/", 200},
		{"GET", "/case/example/SEC-2030-0001", 200},
		{"GET", "/case/example/sec-2030-0001", 200},
		{"GET", "/case/example/SEC-2030-0999", 404},
		{"GET", "/case/other/SEC-2030-0001", 404},
		{"GET", "/outbox", 200},
		{"GET", "/quarantine", 200},
		{"GET", "/keys", 200},
		{"GET", "/calendar.ics", 200},
		{"GET", "/style.css", 200},
		{"GET", "/nothing", 404},
		{"POST", "/", 405},
		{"PUT", "/case/example/SEC-2030-0001", 405},
		{"DELETE", "/outbox", 405},
		{"OPTIONS", "/", 405},
		{"TRACE", "/", 405},
	} {
		resp, _ := get(t, srv, tc.method, tc.path)
		if resp.StatusCode != tc.status {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.path, resp.StatusCode, tc.status)
		}
		for k, v := range Headers {
			if got := resp.Header.Get(k); got != v {
				t.Errorf("%s %s: %s %q, want %q", tc.method, tc.path, k, got, v)
			}
		}
		if tc.status == 405 && resp.Header.Get("Allow") != "GET, HEAD" {
			t.Errorf("%s %s: Allow %q", tc.method, tc.path, resp.Header.Get("Allow"))
		}
	}
	if !strings.Contains(ContentSecurityPolicy, "default-src 'none'") || strings.Contains(ContentSecurityPolicy, "unsafe") ||
		strings.Contains(ContentSecurityPolicy, "script-src") {
		t.Errorf("the CSP allows more than it should: %s", ContentSecurityPolicy)
	}
}

// TestNothingSealedShown: the pages show what is stored in clear, never
// a case's encrypted content (a CaseReader that had decrypted it would
// not get it shown either), and never an address that is neither the
// team's nor a list's: the reporter reads as "reporter", others as
// "other address N".
func TestNothingSealedShown(t *testing.T) {
	f := newFake()
	srv := newServer(t, f)
	for _, path := range []string{"/?state=all", "/case/example/SEC-2030-0001", "/case/example/SEC-2030-0002", "/outbox", "/quarantine", "/keys", "/calendar.ics"} {
		_, body := get(t, srv, "GET", path)
		for _, s := range []string{"TITLE-TEXT", "IMPACT-TEXT", "rita@reporter.example", "someone@else.example", "mallory@evil.example",
			"carol@extra.example"} {
			if strings.Contains(body, s) {
				t.Errorf("%s shows %q", path, s)
			}
		}
	}
	_, body := get(t, srv, "GET", "/case/example/SEC-2030-0001")
	for _, w := range []string{"<th scope=\"row\">reporter</th>", "<th scope=\"row\">dana@distro.example</th>"} {
		if !strings.Contains(body, w) {
			t.Errorf("the matrix lacks %q", w)
		}
	}
	_, body = get(t, srv, "GET", "/quarantine")
	if !strings.Contains(body, "rate limit: more than 30 messages from other address 1 within 1h0m0s") {
		t.Errorf("the quarantine reason does not hide the sender's address:\n%s", body)
	}
	_, body = get(t, srv, "GET", "/outbox")
	if !strings.Contains(body, "other address 1") || !strings.Contains(body, "dana@distro.example") {
		t.Errorf("the outbox does not show a list's address and hide another:\n%s", body)
	}
}

// TestCaseList: the filters (open or closed, project, lead) and the next
// step of each case with when it is due.
func TestCaseList(t *testing.T) {
	f := newFake()
	srv := newServer(t, f)
	for _, tc := range []struct {
		query     string
		want, not []string
	}{
		{"", []string{"SEC-2030-0001", "SEC-2030-0002", "2 of 2 cases."}, nil},
		{"?lead=Bob", []string{"SEC-2030-0002", "evaluate the report", "2030-03-07 09:00 UTC"}, []string{">SEC-2030-0001<"}},
		{"?lead=Alice", []string{"SEC-2030-0001", "announcement (T0)", "2030-03-20 14:00 UTC", "HIGH 8.1"}, []string{">SEC-2030-0002<"}},
		{"?state=closed", []string{"0 of 2 cases.", "No case matches."}, nil},
		{"?project=other", []string{"0 of 2 cases."}, nil},
		{"?state=%3Cscript%3E&lead=%3Cscript%3E", []string{"0 of 2 cases.", `value="open" selected`}, []string{"<script"}},
	} {
		_, body := get(t, srv, "GET", "/"+tc.query)
		for _, w := range tc.want {
			if !strings.Contains(body, w) {
				t.Errorf("/%s lacks %q", tc.query, w)
			}
		}
		for _, n := range tc.not {
			if strings.Contains(body, n) {
				t.Errorf("/%s shows %q", tc.query, n)
			}
		}
	}
}

// TestAcknowledgements: the matrix fills the acknowledgement of a
// recipient's copy from the AckReader.
func TestAcknowledgements(t *testing.T) {
	f := newFake()
	f.acks = []Ack{{NoticeID: "n-1", Recipient: "DANA@distro.example", At: time.Date(2030, 2, 11, 8, 0, 0, 0, time.UTC)}}
	srv := newServer(t, f)
	_, body := get(t, srv, "GET", "/case/example/SEC-2030-0001")
	if !strings.Contains(body, "acknowledged <time datetime=\"2030-02-11T08:00:00Z\">") || !strings.Contains(body, "not acknowledged") {
		t.Errorf("the matrix does not show dana's acknowledgement and the reporter's lack of one:\n%s", body)
	}
}

// TestKeysBeforeT0First: a key that expires before a planned T0 comes
// first and names the case; the keys are checked through the latest T0.
func TestKeysBeforeT0First(t *testing.T) {
	f := newFake()
	f.cases[0].DiscloseAt = time.Date(2030, 6, 1, 0, 0, 0, 0, time.UTC)
	srv := newServer(t, f)
	_, body := get(t, srv, "GET", "/keys")
	i, j := strings.Index(body, "FFFF0002"), strings.Index(body, "FFFF0001")
	if i < 0 || j < 0 || i > j {
		t.Errorf("the key expiring before T0 is not first:\n%s", body)
	}
	if !strings.Contains(body, "expires before the T0 of <a href=\"/case/example/SEC-2030-0001\">SEC-2030-0001</a>") {
		t.Errorf("the key does not name the case:\n%s", body)
	}
	if !f.through.Equal(f.cases[0].DiscloseAt) {
		t.Errorf("keys checked through %s, want the T0 %s", f.through, f.cases[0].DiscloseAt)
	}
}

// TestCalendar: every planned step of the open cases and the evaluation
// deadlines still ahead, each with a stable UID; nothing done.
func TestCalendar(t *testing.T) {
	srv := newServer(t, newFake())
	resp, body := get(t, srv, "GET", "/calendar.ics")
	if ct := resp.Header.Get("Content-Type"); ct != "text/calendar; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	for _, w := range []string{"BEGIN:VCALENDAR\r\n", "UID:example-SEC-2030-0001-job-12@secgate\r\n", "DTSTART:20300320T140000Z\r\n",
		"SUMMARY:SEC-2030-0001: announcement (T0) (announce)\r\n", "UID:example-SEC-2030-0001-job-13@secgate\r\n",
		"SUMMARY:SEC-2030-0002: evaluation deadline\r\n", "DTSTART:20300307T090000Z\r\n", "END:VCALENDAR\r\n"} {
		if !strings.Contains(body, w) {
			t.Errorf("the feed lacks %q:\n%s", w, body)
		}
	}
	if n := strings.Count(body, "BEGIN:VEVENT"); n != 3 {
		t.Errorf("%d events, want 3 (two planned steps, one deadline):\n%s", n, body)
	}
	if strings.Contains(body, "embargo notice") {
		t.Error("the feed has a step that is done")
	}
}

// TestAuditBroken: a chain that does not verify is said on the case page.
func TestAuditBroken(t *testing.T) {
	f := newFake()
	f.audit.Chains = append(f.audit.Chains, cases.ChainCheck{CaseID: 1, Ref: "SEC-2030-0001", Events: 3,
		Err: fmt.Errorf("event 2: %w", cases.ErrAuditBroken)})
	srv := newServer(t, f)
	_, body := get(t, srv, "GET", "/case/example/SEC-2030-0001")
	if !strings.Contains(body, `id="audit" class="bad"`) || !strings.Contains(body, "BROKEN: ") {
		t.Errorf("a broken chain is not shown:\n%s", body)
	}
}

// TestSeveralProjects: the view lists every project's cases, each named
// by its project, and a case's page is its own project's even where two
// projects have the same reference.
func TestSeveralProjects(t *testing.T) {
	a, b := newFake(), newFake()
	b.cases[0].Severity, b.cases[0].CVSSScore = "LOW", 2.0
	h, err := New(Options{Projects: []Project{a.project("alpha"), b.project("beta")}, Clock: clock.NewFake(testNow)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	_, body := get(t, srv, "GET", "/")
	if !strings.Contains(body, "4 of 4 cases.") || !strings.Contains(body, `href="/case/alpha/SEC-2030-0001"`) ||
		!strings.Contains(body, `href="/case/beta/SEC-2030-0001"`) {
		t.Errorf("the list is not every project's:\n%s", body)
	}
	_, body = get(t, srv, "GET", "/?project=beta")
	if !strings.Contains(body, "2 of 4 cases.") || strings.Contains(body, "/case/alpha/") {
		t.Errorf("the project filter:\n%s", body)
	}
	_, body = get(t, srv, "GET", "/case/beta/SEC-2030-0001")
	if !strings.Contains(body, "LOW 2.0") || strings.Contains(body, "HIGH 8.1") {
		t.Errorf("the case page is not beta's:\n%s", body)
	}
	if _, err := New(Options{Projects: []Project{a.project("alpha"), b.project("alpha")}}); err == nil {
		t.Error("two projects of one name accepted")
	}
}

// TestDNSRebinding is the attack on a view on loopback: a web page a
// member opens points its own name at 127.0.0.1, and its script reads the
// view as that name's origin. Served without TLS, the view answers only
// requests for a loopback name (the Host a rebinding browser sends is
// the attacker's).
func TestDNSRebinding(t *testing.T) {
	srv := newServer(t, newFake())
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	for _, tc := range []struct {
		host string
		ok   bool
	}{
		{fmt.Sprintf("127.0.0.1:%d", port), true},
		{fmt.Sprintf("localhost:%d", port), true},
		{fmt.Sprintf("[::1]:%d", port), true},
		{fmt.Sprintf("evil.example:%d", port), false},
		{"evil.example", false},
		{fmt.Sprintf("127.0.0.1.evil.example:%d", port), false},
		{fmt.Sprintf("localhost.evil.example:%d", port), false},
	} {
		req, err := http.NewRequest("GET", srv.URL+"/", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = tc.host
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if got := resp.StatusCode == 200; got != tc.ok {
			t.Errorf("Host %s: %d, want ok %v", tc.host, resp.StatusCode, tc.ok)
		}
		if !tc.ok && strings.Contains(string(body), "SEC-2030-") {
			t.Errorf("Host %s: the page shows the cases", tc.host)
		}
	}
}

// TestAuditCaseOnly: when the signed heads vouch for the case alone (the
// short check of cases.Workflow.VerifyCaseAudit), the page says so and
// does not claim the whole log was verified.
func TestAuditCaseOnly(t *testing.T) {
	f := newFake()
	f.audit.CaseOnly = true
	f.audit.Head = &cases.HeadCheck{Head: cases.Head{At: testNow, Events: 42}}
	f.audit.Chains = append(f.audit.Chains, cases.ChainCheck{CaseID: 1, Ref: "SEC-2030-0001", Events: 3})
	srv := newServer(t, f)
	_, body := get(t, srv, "GET", "/case/example/SEC-2030-0001")
	if !strings.Contains(body, `id="audit" class="ok"`) || !strings.Contains(body, "held by the signed head of") ||
		!strings.Contains(body, "(42 events)") || strings.Contains(body, "The whole log: verified") {
		t.Errorf("the one-case check is not said as such:\n%s", body)
	}
	f.audit.CaseOnly = false
	_, body = get(t, srv, "GET", "/case/example/SEC-2030-0001")
	if !strings.Contains(body, "The whole log: verified against the signed head of") {
		t.Errorf("the whole log's check is not said as such:\n%s", body)
	}
}
