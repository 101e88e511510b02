package intake

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-imap/v2"

	"github.com/secgate/secgate/internal/testwait"
	"github.com/secgate/secgate/store"
)

// deliverRouted appends a message as the MTA would have delivered it to a
// shared mailbox: with Delivered-To (when not "") above the sender's header.
func (s *memServer) deliverRouted(t testing.TB, deliveredTo, to, msgid string) {
	t.Helper()
	var b strings.Builder
	if deliveredTo != "" {
		b.WriteString("Delivered-To: " + deliveredTo + "\r\n")
	}
	b.WriteString("From: Reporter <reporter@example.net>\r\nTo: " + to + "\r\nSubject: test\r\nMessage-ID: <" + msgid + ">\r\n\r\nbody of " + msgid + "\r\n")
	raw := []byte(b.String())
	if _, err := s.user.Append("INBOX", literal{bytes.NewReader(raw), int64(len(raw))}, &imap.AppendOptions{}); err != nil {
		t.Fatal(err)
	}
}

// routedEnv is a shared mailbox and two projects, a and b (the default),
// each with its own database and recording handler.
type routedEnv struct {
	s      *memServer
	cfg    Config
	db     map[string]*store.DB
	rec    map[string]*recorder
	routes Routes
}

func newRoutedEnv(t testing.TB) *routedEnv {
	e := &routedEnv{s: startMem(t, nil), db: map[string]*store.DB{}, rec: map[string]*recorder{}}
	e.cfg = testConfig(t, e.s.addr)
	for _, p := range []string{"a", "b"} {
		e.db[p] = openDB(t)
		e.rec[p] = newRecorder(e.db[p])
		e.routes.Routes = append(e.routes.Routes, Route{Project: p, Addresses: []string{"security+" + p + "@example.test"},
			DB: e.db[p], AtRest: plainRest{}, Handler: e.rec[p]})
	}
	e.routes.Default = "b"
	return e
}

func (e *routedEnv) run(t testing.TB, ctx context.Context, hook func(string) error) <-chan struct{} {
	t.Helper()
	p, err := NewRoutedPoller(e.cfg, e.routes, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	p.hook = hook
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	return done
}

// row reads the inbound row of Message-ID mid in project p's database.
func (e *routedEnv) row(t testing.TB, p, mid string) (state, class, reason, mailbox string, ok bool) {
	t.Helper()
	err := e.db[p].Reader().QueryRow(`SELECT state, class, reason, mailbox FROM inbound WHERE message_id = ?`, mid).Scan(&state, &class, &reason, &mailbox)
	return state, class, reason, mailbox, err == nil
}

func (e *routedEnv) rows(t testing.TB, p string) int {
	t.Helper()
	var n int
	if err := e.db[p].Reader().QueryRow(`SELECT count(*) FROM inbound`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestRoutedPoller: each message is stored in its project's database and
// processed by its project's handler alone; mail no project or both own is
// stored quarantined (class route) and processed by nobody; everything
// leaves the inbox; the mailbox's state is in the default project's
// database alone.
func TestRoutedPoller(t *testing.T) {
	e := newRoutedEnv(t)
	e.s.deliverRouted(t, "security+a@example.test", "security+a@example.test", "to-a@x")
	e.s.deliverRouted(t, "security+b@example.test", "Team <security+b@example.test>", "to-b@x")
	e.s.deliverRouted(t, "security+a+detail@example.test", "security+b@example.test", "env-a-hdr-b@x")
	e.s.deliverRouted(t, "security+a@example.test", "security+a@example.test, security+b@example.test", "both@x")
	e.s.deliverRouted(t, "security+c@example.test", "security+c@example.test", "nobody@x")
	e.s.deliverRouted(t, "", "security+a@example.test", "no-envelope@x")

	ctx, cancel := context.WithCancel(context.Background())
	done := e.run(t, ctx, nil)
	defer func() { cancel(); <-done }()
	testwait.For(t, "all moved", func() bool { return e.s.count(t, "INBOX") == 0 })

	want := map[string]struct {
		project, state, class string
		reason                []string
	}{
		"to-a@x":        {"a", StateProcessed, "", nil},
		"to-b@x":        {"b", StateProcessed, "", nil},
		"env-a-hdr-b@x": {"a", StateProcessed, "", []string{"route: delivered for security+a+detail@example.test (Delivered-To); the header named To security+b@example.test (project b)"}},
		"both@x":        {"a", StateQuarantined, ClassRoute, []string{"sent to several projects at once", "held in a's quarantine", "release it to handle it as a's mail"}},
		"nobody@x":      {"b", StateQuarantined, ClassRoute, []string{"no project owns Delivered-To security+c@example.test, To security+c@example.test", "held in b's quarantine"}},
		"no-envelope@x": {"a", StateProcessed, "", []string{"route: routed by To security+a@example.test"}},
	}
	for mid, w := range want {
		state, class, reason, mailbox, ok := e.row(t, w.project, mid)
		if !ok {
			t.Errorf("%s: not in %s's database", mid, w.project)
			continue
		}
		if state != w.state || class != w.class {
			t.Errorf("%s: %s/%s %q, want %s/%s", mid, state, class, reason, w.state, w.class)
		}
		for _, s := range w.reason {
			if !strings.Contains(reason, s) {
				t.Errorf("%s: reason %q, want %q in it", mid, reason, s)
			}
		}
		if mailbox != "security@example.test/INBOX" {
			t.Errorf("%s: stored as of mailbox %q", mid, mailbox)
		}
		other := map[string]string{"a": "b", "b": "a"}[w.project]
		if _, _, _, _, ok := e.row(t, other, mid); ok {
			t.Errorf("%s: also in %s's database", mid, other)
		}
		handled := e.rec[w.project].count(mid) + e.rec[other].count(mid)
		if w.state == StateProcessed && (e.rec[w.project].count(mid) != 1 || handled != 1) {
			t.Errorf("%s: handled %d times by %s, %d in all", mid, e.rec[w.project].count(mid), w.project, handled)
		}
		if w.state == StateQuarantined && handled != 0 {
			t.Errorf("%s: held, yet handled %d times", mid, handled)
		}
	}
	if n := e.s.count(t, "Processed"); n != 4 {
		t.Errorf("Processed holds %d, want 4", n)
	}
	if n := e.s.count(t, "Quarantine"); n != 2 {
		t.Errorf("Quarantine holds %d, want 2", n)
	}
	var states int
	e.db["a"].Reader().QueryRow(`SELECT count(*) FROM inbound_mailbox`).Scan(&states)
	if states != 0 {
		t.Errorf("project a's database holds %d mailbox states: the default project's holds the shared mailbox's", states)
	}
	e.db["b"].Reader().QueryRow(`SELECT count(*) FROM inbound_mailbox WHERE mailbox = 'security@example.test/INBOX' AND last_uid = 6`).Scan(&states)
	if states != 1 {
		t.Error("the default project's database does not hold the shared mailbox's state")
	}
	q, err := NewQuarantine(e.db["b"], plainRest{}).List(context.Background())
	if err != nil || len(q) != 1 || q[0].MessageID != "nobody@x" || q[0].Class != ClassRoute {
		t.Errorf("b's quarantine: %+v %v", q, err)
	}

	// Later mail is routed as it arrives (IDLE).
	e.s.deliverRouted(t, "security+b@example.test", "security+b@example.test", "later-b@x")
	if got := <-e.rec["b"].ch; got != "to-b@x" {
		t.Fatalf("b handled %q first", got)
	}
	testwait.For(t, "later-b handled", func() bool { return e.rec["b"].count("later-b@x") == 1 })
}

// TestRoutedPollerCrashBetweenProjects: the poller dies after storing a
// batch's messages in project a's database, before the default project's
// transaction stores its own and advances the last UID. After the restart
// the batch is fetched again; nothing is stored twice or lost, and each
// message is handled once, by its own project.
func TestRoutedPollerCrashBetweenProjects(t *testing.T) {
	e := newRoutedEnv(t)
	e.cfg.FetchBatch = 4
	const n = 10
	for i := range n {
		p := []string{"a", "b"}[i%2]
		e.s.deliverRouted(t, "security+"+p+"@example.test", "security@example.test", fmt.Sprintf("%s%d@x", p, i))
	}
	e.s.deliverRouted(t, "", "nobody@example.test", "nobody@x")
	ctx, kill := context.WithCancel(context.Background())
	var once sync.Once
	<-e.run(t, ctx, func(step string) error {
		if step == "stored-in-project" {
			once.Do(kill)
			return errors.New("crash")
		}
		return nil
	})
	if a, b := e.rows(t, "a"), e.rows(t, "b"); a == 0 || b != 0 {
		t.Fatalf("before the crash: %d rows in a, %d in b; want a's first batch alone", a, b)
	}

	ctx2, cancel := context.WithCancel(context.Background())
	done := e.run(t, ctx2, nil)
	defer func() { cancel(); <-done }()
	testwait.For(t, "all moved", func() bool { return e.s.count(t, "INBOX") == 0 })
	for i := range n {
		p, o := []string{"a", "b"}[i%2], []string{"b", "a"}[i%2]
		mid := fmt.Sprintf("%s%d@x", p, i)
		if c := e.rec[p].count(mid); c != 1 || e.rec[o].count(mid) != 0 {
			t.Errorf("%s handled %d times by %s, %d by %s", mid, c, p, e.rec[o].count(mid), o)
		}
	}
	if a, b := e.rows(t, "a"), e.rows(t, "b"); a != n/2 || b != n/2+1 {
		t.Errorf("rows: %d in a, %d in b; want %d and %d", a, b, n/2, n/2+1)
	}
	if got := e.s.count(t, "Processed") + e.s.count(t, "Quarantine"); got != n+1 {
		t.Errorf("%d moved, want %d", got, n+1)
	}
}

// TestRoutedPollerReleased: mail no project owns, released by the
// default project's operator, is handled by that project.
func TestRoutedPollerReleased(t *testing.T) {
	e := newRoutedEnv(t)
	e.s.deliverRouted(t, "", "someone@example.test", "lost@x")
	ctx, cancel := context.WithCancel(context.Background())
	done := e.run(t, ctx, nil)
	testwait.For(t, "held", func() bool { return e.s.count(t, "Quarantine") == 1 })
	cancel()
	<-done
	q := NewQuarantine(e.db["b"], plainRest{})
	held, err := q.List(context.Background())
	if err != nil || len(held) != 1 {
		t.Fatalf("quarantine %+v %v", held, err)
	}
	if !strings.Contains(held[0].Reason, "no project owns To someone@example.test") {
		t.Errorf("reason %q", held[0].Reason)
	}
	if err := q.Release(context.Background(), held[0].ID); err != nil {
		t.Fatal(err)
	}
	released := 0
	e.rec["b"].fail = func(id int64) error {
		var state string
		e.db["b"].Reader().QueryRow(`SELECT state FROM inbound WHERE id = ?`, id).Scan(&state)
		if state == StateReleased {
			released++
			_, err := e.db["b"].Writer().Exec(`UPDATE inbound SET state = 'processed' WHERE id = ?`, id)
			return err
		}
		return nil
	}
	ctx, cancel = context.WithCancel(context.Background())
	done = e.run(t, ctx, nil)
	defer func() { cancel(); <-done }()
	testwait.For(t, "released and handled", func() bool {
		var state string
		e.db["b"].Reader().QueryRow(`SELECT state FROM inbound WHERE message_id = 'lost@x'`).Scan(&state)
		return state == StateProcessed
	})
	if released != 1 {
		t.Errorf("the default project's handler saw the released message %d times", released)
	}
}

func TestNewRoutedPollerRefuses(t *testing.T) {
	cfg := Config{Address: "127.0.0.1:1", User: "u", PasswordFile: "x", TLS: TLSPlainLoopback}
	db1, db2 := openDB(t), openDB(t)
	r := func(p string, db *store.DB, addrs ...string) Route {
		return Route{Project: p, Addresses: addrs, DB: db, AtRest: plainRest{}, Handler: newRecorder(db)}
	}
	for name, rs := range map[string]Routes{
		"no route":          {},
		"no default":        {Routes: []Route{r("a", db1, "a@x.test"), r("b", db2, "b@x.test")}},
		"unknown default":   {Routes: []Route{r("a", db1, "a@x.test"), r("b", db2, "b@x.test")}, Default: "c"},
		"a shared database": {Routes: []Route{r("a", db1, "a@x.test"), r("b", db1, "b@x.test")}, Default: "a"},
		"a shared address":  {Routes: []Route{r("a", db1, "s@x.test"), r("b", db2, "s@X.TEST")}, Default: "a"},
		"no handler":        {Routes: []Route{{Project: "a", Addresses: []string{"a@x.test"}, DB: db1, AtRest: plainRest{}}}},
	} {
		if _, err := NewRoutedPoller(cfg, rs, nil, nil); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := NewRoutedPoller(cfg, Routes{Routes: []Route{r("a", db1, "a@x.test")}}, nil, nil); err != nil {
		t.Errorf("one route, no default named: %v", err)
	}
}
