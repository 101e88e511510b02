package intake

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"

	"github.com/secgate/secgate/internal/imapmem"
	"github.com/secgate/secgate/internal/testwait"
	"github.com/secgate/secgate/store"
)

// plainRest is a test AtRest that only marks the bytes.
type plainRest struct{}

func (plainRest) EncryptAtRest(b []byte) ([]byte, error) {
	return append([]byte("ENC:"), b...), nil
}

func (plainRest) DecryptAtRest(b []byte) ([]byte, error) {
	if !bytes.HasPrefix(b, []byte("ENC:")) {
		return nil, fmt.Errorf("not encrypted")
	}
	return b[4:], nil
}

// recorder is a Handler that marks every message processed (or quarantined
// when its subject says so) and counts calls per Message-ID.
type recorder struct {
	db   *store.DB
	mu   sync.Mutex
	seen map[string]int
	ch   chan string
	fail func(id int64) error
}

func newRecorder(db *store.DB) *recorder {
	return &recorder{db: db, seen: map[string]int{}, ch: make(chan string, 1000)}
}

func (r *recorder) Process(ctx context.Context, id int64) error {
	if r.fail != nil {
		if err := r.fail(id); err != nil {
			return err
		}
	}
	var mid string
	err := r.db.Tx(ctx, func(tx *sql.Tx) error {
		var state string
		if err := tx.QueryRowContext(ctx, `SELECT message_id, state FROM inbound WHERE id = ?`, id).Scan(&mid, &state); err != nil {
			return err
		}
		if state != StateStored {
			mid = ""
			return nil
		}
		next := StateProcessed
		if strings.Contains(mid, "quarantine") {
			next = StateQuarantined
		}
		_, err := tx.ExecContext(ctx, `UPDATE inbound SET state = ? WHERE id = ?`, next, id)
		return err
	})
	if err != nil {
		return err
	}
	if mid != "" {
		r.mu.Lock()
		r.seen[mid]++
		r.mu.Unlock()
		r.ch <- mid
	}
	return nil
}

func (r *recorder) count(mid string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.seen[mid]
}

// checkOnce checks that each of the n messages <prefix0@x>, <prefix1@x>,
// ... was processed exactly once.
func (r *recorder) checkOnce(t testing.TB, prefix string, n int) {
	t.Helper()
	for i := range n {
		if c := r.count(fmt.Sprintf("%s%d@x", prefix, i)); c != 1 {
			t.Errorf("%s%d processed %d times, want once", prefix, i, c)
		}
	}
}

// storedRows returns a poller hook that sends, after each batch is stored,
// the number of inbound rows then, and the channel (buffered for n) it
// sends on.
func storedRows(db *store.DB, n int) (func(string) error, <-chan int) {
	ch := make(chan int, n)
	return func(step string) error {
		if step == "stored" {
			var rows int
			db.Reader().QueryRow(`SELECT count(*) FROM inbound`).Scan(&rows)
			ch <- rows
		}
		return nil
	}, ch
}

// dropListener remembers accepted connections so a test can cut them.
type dropListener struct {
	net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func (l *dropListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.mu.Lock()
		l.conns = append(l.conns, c)
		l.mu.Unlock()
	}
	return c, err
}

func (l *dropListener) dropAll() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.conns {
		c.Close()
	}
	l.conns = nil
}

type memServer struct {
	user *imapmemserver.User
	ln   *dropListener
	addr string
}

func startMem(t testing.TB, caps imap.CapSet) *memServer {
	t.Helper()
	mem := imapmemserver.New()
	u := imapmemserver.NewUser("security@example.test", "pw")
	if err := u.Create("INBOX", nil); err != nil {
		t.Fatal(err)
	}
	mem.AddUser(u)
	if caps == nil {
		caps = imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapIMAP4rev2: {}}
	}
	srv := imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			s, err := imapmem.NewSession(mem)
			return s, nil, err
		},
		Caps:         caps,
		InsecureAuth: true,
		Logger:       nopLogger{},
	})
	ln0, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := &dropListener{Listener: ln0}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return &memServer{user: u, ln: ln, addr: ln0.Addr().String()}
}

type nopLogger struct{}

func (nopLogger) Printf(string, ...any) {}

type literal struct {
	*bytes.Reader
	n int64
}

func (l literal) Size() int64 { return l.n }

func (s *memServer) deliver(t testing.TB, mailbox, msgid, body string) {
	t.Helper()
	raw := []byte("From: Reporter <reporter@example.net>\r\nTo: security@example.test\r\nSubject: test\r\nMessage-ID: <" + msgid + ">\r\n\r\n" + body + "\r\n")
	if _, err := s.user.Append(mailbox, literal{bytes.NewReader(raw), int64(len(raw))}, &imap.AppendOptions{}); err != nil {
		t.Fatal(err)
	}
}

func (s *memServer) count(t testing.TB, mailbox string) uint32 {
	t.Helper()
	sd, err := s.user.Status(mailbox, &imap.StatusOptions{NumMessages: true})
	if err != nil {
		return 0
	}
	return *sd.NumMessages
}

func openDB(t testing.TB) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "secgate.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// testConfig is a poller configuration for the in-process server at addr,
// with a password file.
func testConfig(t testing.TB, addr string) Config {
	return Config{
		Address:      addr,
		PasswordFile: passwordFile(t),
		User:         "security@example.test",
		TLS:          TLSPlainLoopback,
		BackoffMin:   5 * time.Millisecond,
		BackoffMax:   20 * time.Millisecond,
		IdleRefresh:  time.Hour,
	}
}

func passwordFile(t testing.TB) string {
	p := filepath.Join(t.TempDir(), "pw")
	if err := writeFile(p, "pw\n"); err != nil {
		t.Fatal(err)
	}
	return p
}

// memPoller starts the in-process IMAP server (with caps, nil for all) and
// returns it with a database, a recording handler and a configuration.
func memPoller(t testing.TB, caps imap.CapSet) (*memServer, *store.DB, *recorder, Config) {
	t.Helper()
	s := startMem(t, caps)
	db := openDB(t)
	return s, db, newRecorder(db), testConfig(t, s.addr)
}

// runPoller starts a poller and returns a stop function that waits for it.
func runPoller(t testing.TB, cfg Config, db *store.DB, h Handler, hook func(string) error) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := runPollerCtx(t, ctx, cfg, db, h, hook)
	return func() { cancel(); <-done }
}

func runPollerCtx(t testing.TB, ctx context.Context, cfg Config, db *store.DB, h Handler, hook func(string) error) <-chan struct{} {
	t.Helper()
	return runPollerRest(t, ctx, cfg, db, plainRest{}, h, hook)
}

// runPollerRest is runPollerCtx with messages sealed at rest by rest.
func runPollerRest(t testing.TB, ctx context.Context, cfg Config, db *store.DB, rest AtRest, h Handler, hook func(string) error) <-chan struct{} {
	t.Helper()
	p, err := NewPoller(cfg, db, rest, h, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	p.hook = hook
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	return done
}

func TestPollerIdleWakeUp(t *testing.T) {
	s, db, rec, cfg := memPoller(t, nil)
	s.deliver(t, "INBOX", "one@x", "first")
	stop := runPoller(t, cfg, db, rec, nil)
	defer stop()
	if got := <-rec.ch; got != "one@x" {
		t.Fatalf("first processed = %q", got)
	}
	// The poller is now in IDLE with an hour-long refresh: only the
	// unilateral EXISTS can wake it.
	s.deliver(t, "INBOX", "two@x", "second")
	s.deliver(t, "INBOX", "three-quarantine@x", "third")
	for _, want := range []string{"two@x", "three-quarantine@x"} {
		if got := <-rec.ch; got != want {
			t.Fatalf("processed %q, want %q", got, want)
		}
	}
	testwait.For(t, "moves", func() bool { return s.count(t, "INBOX") == 0 })
	if n := s.count(t, "Processed"); n != 2 {
		t.Errorf("Processed holds %d, want 2", n)
	}
	if n := s.count(t, "Quarantine"); n != 1 {
		t.Errorf("Quarantine holds %d, want 1", n)
	}
}

func TestPollerWithoutIdlePolls(t *testing.T) {
	s, db, rec, cfg := memPoller(t, imap.CapSet{imap.CapIMAP4rev1: {}})
	cfg.PollInterval = 5 * time.Millisecond
	stop := runPoller(t, cfg, db, rec, nil)
	defer stop()
	s.deliver(t, "INBOX", "polled@x", "x")
	if got := <-rec.ch; got != "polled@x" {
		t.Fatalf("processed %q", got)
	}
}

func TestPollerReconnectsAfterDrop(t *testing.T) {
	s, db, rec, cfg := memPoller(t, nil)
	stop := runPoller(t, cfg, db, rec, nil)
	defer stop()
	s.deliver(t, "INBOX", "before@x", "x")
	<-rec.ch
	for i := range 3 {
		s.ln.dropAll()
		mid := fmt.Sprintf("after-%d@x", i)
		s.deliver(t, "INBOX", mid, "x")
		if got := <-rec.ch; got != mid {
			t.Fatalf("processed %q, want %q", got, mid)
		}
	}
	testwait.For(t, "moves", func() bool { return s.count(t, "Processed") == 4 })
	if rec.count("before@x") != 1 {
		t.Errorf("before@x processed %d times", rec.count("before@x"))
	}
}

func TestPollerUIDValidityChange(t *testing.T) {
	s, db, rec, cfg := memPoller(t, nil)
	s.deliver(t, "INBOX", "a@x", "a")
	s.deliver(t, "INBOX", "b@x", "b")
	// A crash after processing, before the move: both stay in INBOX.
	crash := true
	var mu sync.Mutex
	hook := func(step string) error {
		mu.Lock()
		defer mu.Unlock()
		if step == "processed" && crash {
			crash = false
			return fmt.Errorf("simulated crash")
		}
		return nil
	}
	stop := runPoller(t, cfg, db, rec, hook)
	<-rec.ch
	<-rec.ch
	testwait.For(t, "moves", func() bool { return s.count(t, "Processed") == 2 })
	stop()
	uv1, _, _ := mailboxState(context.Background(), db.Reader(), "INBOX")

	// The server loses its UIDs: INBOX is recreated holding a.x again (same
	// bytes, new UID) and a new message.
	if err := s.user.Delete("INBOX"); err != nil {
		t.Fatal(err)
	}
	if err := s.user.Create("INBOX", nil); err != nil {
		t.Fatal(err)
	}
	s.deliver(t, "INBOX", "a@x", "a")
	s.deliver(t, "INBOX", "c@x", "c")
	stop = runPoller(t, cfg, db, rec, nil)
	defer stop()
	if got := <-rec.ch; got != "c@x" {
		t.Fatalf("processed %q, want c@x", got)
	}
	testwait.For(t, "inbox empty", func() bool { return s.count(t, "INBOX") == 0 })
	uv2, last, _ := mailboxState(context.Background(), db.Reader(), "INBOX")
	if uv2 == uv1 || last != 2 {
		t.Errorf("mailbox state uidvalidity %d→%d last %d", uv1, uv2, last)
	}
	for _, mid := range []string{"a@x", "b@x", "c@x"} {
		if n := rec.count(mid); n != 1 {
			t.Errorf("%s processed %d times, want 1", mid, n)
		}
	}
	if n := s.count(t, "Processed"); n != 4 {
		t.Errorf("Processed holds %d, want 4 (a twice: the resynced copy is moved too)", n)
	}
}

func TestPollerRestartNeitherSkipsNorRepeats(t *testing.T) {
	for _, crashAt := range []string{"stored", "processed", "moved-on-server", "moved"} {
		t.Run(crashAt, func(t *testing.T) {
			s, db, rec, cfg := memPoller(t, nil)
			cfg.FetchBatch = 2
			for i := range 5 {
				s.deliver(t, "INBOX", fmt.Sprintf("m%d@x", i), "x")
			}
			// The first process dies right after the step: its context
			// ends inside the hook, so nothing after the step runs.
			ctx, kill := context.WithCancel(context.Background())
			done := runPollerCtx(t, ctx, cfg, db, rec, func(step string) error {
				if step == crashAt {
					kill()
					return fmt.Errorf("crash at %s", step)
				}
				return nil
			})
			<-done
			// Restart: a fresh process on the same database.
			stop2 := runPoller(t, cfg, db, rec, nil)
			defer stop2()
			for i := 5; i < 8; i++ {
				s.deliver(t, "INBOX", fmt.Sprintf("m%d@x", i), "x")
			}
			testwait.For(t, "all moved", func() bool { return s.count(t, "Processed") == 8 && s.count(t, "INBOX") == 0 })
			rec.checkOnce(t, "m", 8)
		})
	}
}

// TestPollerOversize stores only the header of a message over the size
// limit, quarantines it with the reason and leaves the whole message in the
// Quarantine folder.
func TestPollerOversize(t *testing.T) {
	s := startMem(t, nil)
	env := newProcEnv(t)
	cfg := testConfig(t, s.addr)
	cfg.MaxSize = 400
	env.proc.lim.MaxSize = 400
	s.deliver(t, "INBOX", "big@x", strings.Repeat("A very long line of the report. ", 40))
	stop := runPoller(t, cfg, env.db, env.proc, nil)
	defer stop()
	testwait.For(t, "quarantine", func() bool { return s.count(t, "Quarantine") == 1 })
	stop()
	var state, class, reason string
	var size int64
	env.db.Reader().QueryRow(`SELECT state, class, reason, size FROM inbound`).Scan(&state, &class, &reason, &size)
	if state != StateQuarantined || class != ClassLimit || !strings.Contains(reason, "limit is 400") || size < 1000 {
		t.Errorf("inbound %s/%s %q size %d", state, class, reason, size)
	}
	raw, err := rawMessage(context.Background(), env.db.Reader(), plainRest{}, 1)
	if err != nil || bytes.Contains(raw, []byte("very long line")) || !bytes.Contains(raw, []byte("Message-ID: <big@x>")) {
		t.Errorf("stored %q (%v); want the header only", raw, err)
	}
	if kinds := kinds(env.mailer.take()); !slices.Equal(kinds, []string{KindSenderNotice}) {
		t.Errorf("mail %v, want one polite answer", kinds)
	}
}

// TestPollerFetchBytes: with fetch_bytes below one message, the poller
// fetches and stores one message at a time, in UID order, and still takes
// every message once.
func TestPollerFetchBytes(t *testing.T) {
	s, db, rec, cfg := memPoller(t, nil)
	cfg.FetchBytes = 1
	for i := range 4 {
		s.deliver(t, "INBOX", fmt.Sprintf("b%d@x", i), "x")
	}
	hook, stores := storedRows(db, 8)
	stop := runPoller(t, cfg, db, rec, hook)
	defer stop()
	var stored []int
	for i := range 4 {
		if got, want := <-rec.ch, fmt.Sprintf("b%d@x", i); got != want {
			t.Fatalf("processed %q, want %q", got, want)
		}
		stored = append(stored, <-stores) // stored before it was processed
	}
	if !slices.Equal(stored, []int{1, 2, 3, 4}) {
		t.Errorf("rows after each store: %v, want one message a round", stored)
	}
}

// TestPollerOverlap: the next batch is fetched and stored while the one
// before is still being processed, when both fit fetch_bytes; when only one
// fits, a batch is stored only after the one before is done.
func TestPollerOverlap(t *testing.T) {
	for _, tc := range []struct {
		name       string
		fetchBytes int64
		first      int // rows after the first store
		overlap    bool
	}{
		{"room for both", 1 << 20, 2, true},
		{"room for one", 1, 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, db, rec, cfg := memPoller(t, nil)
			cfg.FetchBatch = 2
			cfg.FetchBytes = tc.fetchBytes
			for i := range 4 {
				s.deliver(t, "INBOX", fmt.Sprintf("o%d@x", i), "x")
			}
			gate := make(chan struct{})
			rec.fail = func(int64) error { <-gate; return nil }
			var once sync.Once
			release := func() { once.Do(func() { close(gate) }) }
			defer release()
			hook, stores := storedRows(db, 8)
			stop := runPoller(t, cfg, db, rec, hook)
			defer stop()
			if n := <-stores; n != tc.first {
				t.Fatalf("first store left %d rows, want %d", n, tc.first)
			}
			// Absence is waited for briefly; presence has a generous bound
			// that only limits a failing run.
			wait := 300 * time.Millisecond
			if tc.overlap {
				wait = 30 * time.Second
			}
			select {
			case n := <-stores:
				if !tc.overlap {
					t.Fatalf("a second batch was stored (%d rows) while the first was still being processed", n)
				}
			case <-time.After(wait):
				if tc.overlap {
					t.Fatal("no second batch stored while the first was being processed")
				}
			}
			release()
			for range 4 {
				<-rec.ch
			}
			testwait.For(t, "all moved", func() bool { return s.count(t, "Processed") == 4 })
			rec.checkOnce(t, "o", 4)
		})
	}
}

// TestPollerFirstBatchSmall: with nothing being processed, the poller
// fetches a small batch first, so that the first case of a burst opens
// without waiting for a whole fetch_batch to be stored.
func TestPollerFirstBatchSmall(t *testing.T) {
	s, db, rec, cfg := memPoller(t, nil)
	const n = firstBatch + 8
	for i := range n {
		s.deliver(t, "INBOX", fmt.Sprintf("f%d@x", i), "x")
	}
	hook, stores := storedRows(db, n)
	stop := runPoller(t, cfg, db, rec, hook)
	defer stop()
	if rows := <-stores; rows != firstBatch {
		t.Errorf("first store left %d rows, want %d", rows, firstBatch)
	}
	for range n {
		<-rec.ch
	}
	rec.checkOnce(t, "f", n)
}
