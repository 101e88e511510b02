package intake

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/secgate/secgate/internal/testwait"
)

func TestPushHandler(t *testing.T) {
	p, err := NewPoller(Config{Address: "127.0.0.1:1", User: "u", PasswordFile: "x", TLS: TLSPlainLoopback}, nil, nil, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := PushHandler(p)
	kicked := func() bool {
		select {
		case <-p.kick:
			return true
		default:
			return false
		}
	}
	tests := []struct {
		method string
		body   string
		code   int
		kick   bool
	}{
		{"PUT", `{"user":"security@example.org","event":"messageNew","subject":"secret","snippet":"secret"}`, http.StatusNoContent, true},
		{"POST", "", http.StatusNoContent, true},
		{"GET", "", http.StatusMethodNotAllowed, false},
		{"PUT", strings.Repeat("x", maxPushBody+1), http.StatusRequestEntityTooLarge, false},
	}
	for _, tt := range tests {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(tt.method, "/push", strings.NewReader(tt.body)))
		if w.Code != tt.code || kicked() != tt.kick {
			t.Errorf("%s %d bytes: %d (kick %v), want %d (kick %v)", tt.method, len(tt.body), w.Code, !tt.kick, tt.code, tt.kick)
		}
		if strings.Contains(w.Body.String(), "secret") {
			t.Errorf("%s: the answer echoes the notification", tt.method)
		}
	}
	// Kicks do not pile up: many pushes while the poller is busy make one
	// more look at the mailbox.
	for range 5 {
		p.Kick()
	}
	if !kicked() || kicked() {
		t.Error("five kicks should leave exactly one pending")
	}
}

// TestRealStackPush: with Dovecot's push_notification plugin posting to the
// gateway, the poller asks for notifications at login (METADATA), each
// delivery posts one, it wakes the poller out of IDLE, and the report
// becomes one case, as under IDLE alone.
func TestRealStackPush(t *testing.T) {
	if testing.Short() {
		t.Skip("real mail stack")
	}
	g := startPushGateway(t)
	p, err := NewPoller(g.cfg, g.db, g.team, g.proc, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	woke := map[string]int{}
	p.woke = func(by string) { mu.Lock(); woke[by]++; mu.Unlock() }
	var connected atomic.Bool
	p.OnConnected = func(up bool) { connected.Store(up) } // after the METADATA request
	pushes := g.servePush(p)
	ctx, cancel := context.WithCancel(g.ctx)
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	testwait.Within(t, 30*time.Second, "the poller watching the mailbox", connected.Load)
	g.send(g.inlineReport(1, "INLINE: pushed report"))
	g.stack.WaitMessages(t, "security", "Processed", 1, time.Minute)
	testwait.Within(t, 10*time.Second, "a push notification and a wake-up by push", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return pushes() >= 1 && woke["push"] >= 1
	})
	g.assertOnce(1)
}
