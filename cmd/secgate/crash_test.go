package main

// The crash suite runs the real secgate binary against a real Postfix and
// Dovecot and kills it with SIGKILL at random points while it takes in
// encrypted reports, applies signed team commands and fans an embargo
// notice out to 24 distributors. By default it kills the gateway 50 times
// (under two minutes with -race). The long run (about ten minutes):
//
//	SECGATE_CRASH_KILLS=300 go test -race -run TestCrashFanOut -timeout 30m -v ./cmd/secgate
//
// SECGATE_CRASH_SEED=N replays the random delays of an earlier run (the
// seed is logged).

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/secgate/secgate/cases/casestest"
	"github.com/secgate/secgate/crypto"
	"github.com/secgate/secgate/intake"
	"github.com/secgate/secgate/internal/mailstack"
)

// chaos starts the gateway, lets it live a random while, kills it with
// SIGKILL and looks at what the database held at that moment; again and
// again until it has killed quota times and the scenario is driven.
type chaos struct {
	e    *crashEnv
	pool *reportPool
	bin  string
	logs string
	rng  *rand.Rand

	mu       sync.Mutex
	focus    int // lives still to spend waiting for SMTP (a fan-out started)
	kills    int
	lives    int
	inflight map[string]int // Message-ID -> kills that found its row in state sending
	landed   map[string]int // where kills landed
	last     *serveProc
}

func (c *chaos) killCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.kills
}

// Kinds of lives: how the chaos loop picks the moment of the kill.
const (
	killAtRandom = iota // after a random delay
	killInIntake        // as soon as intake has stored a message it has not moved yet
	killInSMTP          // as soon as an outbox row is being sent
	killInFanOut        // as soon as an embargo notice is being sent
)

// life is how long the next gateway runs at most, and how its kill is
// chosen: mostly short random lives, so that many kills land during
// start-up, queueing and SMTP; some that wait for intake or SMTP to be
// mid-way; and every fourth one long enough for the scenario to make
// progress.
func (c *chaos) life(n int) (time.Duration, int) {
	c.mu.Lock()
	focus := c.focus > 0
	if focus {
		c.focus--
	}
	c.mu.Unlock()
	if focus && n%4 != 3 {
		return 2 * time.Second, killInFanOut
	}
	if n%4 == 3 {
		return 1500*time.Millisecond + time.Duration(c.rng.Int64N(int64(time.Second))), killAtRandom
	}
	switch c.rng.IntN(4) {
	case 0:
		return 2 * time.Second, killInIntake
	case 1:
		return 2 * time.Second, killInSMTP
	}
	return 20*time.Millisecond + time.Duration(c.rng.Int64N(int64(time.Second))), killAtRandom
}

// watch waits until the database shows the moment kind waits for, or the
// life is over, or the process exited.
func (c *chaos) watch(p *serveProc, life time.Duration, kind int) {
	born := time.Now()
	deadline := time.After(life)
	if kind == killAtRandom {
		select {
		case <-deadline:
		case <-p.done:
		}
		return
	}
	var db *sql.DB
	defer func() {
		if db != nil {
			db.Close()
		}
	}()
	tick := time.NewTicker(3 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-deadline:
			return
		case <-p.done:
			return
		case <-tick.C:
		}
		if db == nil {
			var err error
			if db, err = openRO(c.e.database); err != nil {
				db = nil
				continue
			}
		}
		// Only what this life does: a kill leaves rows in sending and
		// messages unmoved that the next life finds before it starts.
		q := `SELECT count(*) FROM outbox_attempt a JOIN outbox o ON o.id = a.outbox_id
			WHERE a.outcome = 'sending' AND a.started >= ?`
		if kind == killInFanOut {
			q += ` AND o.kind = 'embargo-notice'`
		}
		if kind == killInIntake {
			q = `SELECT count(*) FROM inbound WHERE received >= ? AND (state IN ('stored', 'released') OR moved = 0)`
		}
		var n int
		err := db.QueryRow(q, born.UnixMilli()).Scan(&n)
		if err == nil && n > 0 {
			// A little later, or at once: anywhere in the window.
			time.Sleep(time.Duration(c.rng.Int64N(int64(20 * time.Millisecond))))
			return
		}
	}
}

// run kills until quota is reached and driven is closed. It leaves no
// gateway running.
func (c *chaos) run(quota int, driven <-chan struct{}) error {
	for n := 0; ; n++ {
		done := c.killCount() >= quota
		select {
		case <-driven:
		default:
			done = false
		}
		if done {
			return nil
		}
		p, err := startServe(c.bin, c.e.config, filepath.Join(c.logs, fmt.Sprintf("life-%03d.log", n)))
		if err != nil {
			return err
		}
		c.mu.Lock()
		c.last, c.lives = p, c.lives+1
		c.mu.Unlock()
		life, kind := c.life(n)
		if kind == killInIntake {
			// A report arrives now: the kill lands while intake holds it.
			if _, err := c.pool.send(); err != nil {
				return err
			}
		}
		c.watch(p, life, kind)
		if p.exited() {
			return fmt.Errorf("secgate serve (life %d) exited by itself: %v\n%s", n, p.err, p.tail(30))
		}
		serving := p.serving()
		p.kill()
		snap, err := snapshotAfterKill(c.e.database)
		if err != nil {
			return fmt.Errorf("read the database after kill %d: %w", n, err)
		}
		c.mu.Lock()
		c.kills++
		for _, id := range snap.sending {
			c.inflight[id]++
		}
		// A kill may land in several windows at once.
		hit := false
		count := func(where string, cond bool) {
			if cond {
				c.landed[where]++
				hit = true
			}
		}
		count("start-up", !serving)
		count("mid-SMTP (rows in sending)", len(snap.sending) > 0)
		count("intake between store and MOVE", snap.intakeOpen > 0)
		count("during a fan-out", snap.noticePending > 0)
		if !hit {
			c.landed["idle"]++
		}
		c.mu.Unlock()
	}
}

// preparedReport is an encrypted report ready to send.
type preparedReport struct {
	id, canary string
	raw        []byte
}

// reportPool sends prepared reports and remembers what it sent.
type reportPool struct {
	stack    *mailstack.Stack
	from, to string

	mu       sync.Mutex
	ready    []preparedReport
	sent     []string          // Message-IDs
	canaries map[string]string // canary -> Message-ID
}

func (r *reportPool) send() (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.ready) == 0 {
		return "", errors.New("no prepared report left")
	}
	p := r.ready[0]
	r.ready = r.ready[1:]
	if err := r.stack.TrySend(r.from, []string{r.to}, p.raw); err != nil {
		return "", fmt.Errorf("send report %s: %w", p.id, err)
	}
	r.sent = append(r.sent, p.id)
	r.canaries[p.canary] = p.id
	return p.canary, nil
}

func envInt(t *testing.T, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q: want a positive number", name, v)
	}
	return n
}

func TestCrashFanOut(t *testing.T) {
	if testing.Short() {
		t.Skip("real mail stack and many gateway restarts")
	}
	began := time.Now()
	quota := envInt(t, "SECGATE_CRASH_KILLS", 50)
	seed := uint64(envInt(t, "SECGATE_CRASH_SEED", int(time.Now().UnixNano()%1e9)))
	t.Logf("kills %d, seed %d (SECGATE_CRASH_SEED=%d replays the delays)", quota, seed, seed)
	nCases := max(3, quota/50) // each one fans an embargo notice out

	tmp := t.TempDir()
	bin := buildSecgate(t, tmp)
	members := []string{"alice", "bob"}
	var dists []string
	for i := 1; i <= 24; i++ {
		dists = append(dists, fmt.Sprintf("dist%02d", i))
	}
	// Dovecot posts a push notification to the gateway on each delivery
	// (while it is down, the posts fail and IDLE finds the mail later).
	pushAddr := freeLoopbackAddr(t)
	stack := mailstack.Start(t, mailstack.Options{Users: append(append([]string{"security"}, members...), dists...),
		PushURL: "http://" + pushAddr + "/push"})
	e := newCrashEnv(t, stack, pushAddr, members, dists)
	logs := filepath.Join(tmp, "logs")
	if err := os.Mkdir(logs, 0o755); err != nil {
		t.Fatal(err)
	}
	c := &chaos{e: e, bin: bin, logs: logs, rng: rand.New(rand.NewPCG(seed, 1)),
		inflight: map[string]int{}, landed: map[string]int{}}
	driven := make(chan struct{})
	chaosErr := make(chan error, 1)
	defer func() {
		select {
		case <-driven:
		default:
			close(driven)
		}
	}()
	fail := func(format string, args ...any) {
		t.Helper()
		c.mu.Lock()
		last := c.last
		c.mu.Unlock()
		if last != nil {
			t.Logf("log of the last gateway:\n%s", last.tail(40))
		}
		t.Fatalf(format, args...)
	}

	// The scenario, driven through the mailboxes while the chaos loop
	// kills and restarts the gateway.
	// Reports are encrypted before the run (gpg is slow and may only
	// fail the test from this goroutine); the scenario and the chaos loop
	// send them.
	pool := &reportPool{stack: stack, from: e.repAddr, to: stack.Addr("security"), canaries: map[string]string{}}
	for n := 1; n <= nCases*3+quota/2+8; n++ {
		id := fmt.Sprintf("report-%d-%d@outside.example", n, seed)
		canary := fmt.Sprintf("CANARY-%d-%016x", n, rand.Uint64())
		pool.ready = append(pool.ready, preparedReport{id: id, canary: canary, raw: e.report(id, canary)})
	}
	c.pool = pool
	var commands []string // Message-IDs
	sendReport := func() string {
		t.Helper()
		canary, err := pool.send()
		if err != nil {
			t.Fatal(err)
		}
		return canary
	}
	go func() { chaosErr <- c.run(quota, driven) }()
	alice := e.members["alice"]
	opened := map[string]string{} // Message-ID of alice's mail -> its text
	// teamCopy returns the Message-ID of alice's copy of the report with
	// canary, and its case.
	teamCopy := func(canary string) (string, string) {
		t.Helper()
		deadline := time.Now().Add(3 * time.Minute)
		for {
			select {
			case err := <-chaosErr:
				fail("chaos: %v", err)
			default:
			}
			for _, raw := range stack.Messages(t, "alice", "INBOX") {
				id := messageID(raw)
				if _, ok := opened[id]; !ok {
					opened[id] = openText(raw, alice, e.team)
				}
				if strings.Contains(opened[id], canary) {
					return id, caseRefPattern.FindString(opened[id])
				}
			}
			if time.Now().After(deadline) {
				fail("no team copy of the report with %s reached alice", canary)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	waitKills := func(n int) {
		for c.killCount() < n {
			select {
			case err := <-chaosErr:
				fail("chaos: %v", err)
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	t0 := time.Now().Add(24 * 24 * time.Hour).UTC().Truncate(time.Minute)
	for i := range nCases {
		waitKills(i * quota / (nCases + 1))
		canary := sendReport()
		copyID, ref := teamCopy(canary)
		body := fmt.Sprintf("/status confirmed\n/impact\nRemote attackers can crash the token parser (case %d).\n\n"+
			"/affected <= 1.4.%d\n/fixed 1.4.%d\n/disclose %s\n", i+1, i, i+1, t0.Format("2006-01-02 15:04 MST"))
		raw, cmdID, err := casestest.CommandMail(alice, e.team, casestest.Options{
			From: "alice <" + stack.Addr("alice") + ">", To: stack.Addr("security"), Subject: "Re: [" + ref + "] report",
			Body: body, InReplyTo: "<" + copyID + ">",
		})
		if err != nil {
			t.Fatal(err)
		}
		// The lives after the current one wait for the fan-out to be
		// mid-SMTP; the command goes out once they have begun.
		c.mu.Lock()
		c.focus += 8
		c.mu.Unlock()
		waitKills(c.killCount() + 1)
		stack.Submit(t, "alice", stack.Addr("alice"), []string{stack.Addr("security")}, raw)
		commands = append(commands, strings.Trim(cmdID, "<>"))
		// More reports arrive while the notice fans out.
		sendReport()
		sendReport()
	}
	for k := c.killCount(); k < quota; k = c.killCount() {
		waitKills(k + 3)
		sendReport()
	}
	close(driven)
	if err := <-chaosErr; err != nil {
		fail("chaos: %v", err)
	}
	chaosTime := time.Since(began)
	reports, canaries := pool.sent, pool.canaries

	// A last gateway, never killed, finishes the work.
	final, err := startServe(bin, e.config, filepath.Join(logs, "final.log"))
	if err != nil {
		t.Fatal(err)
	}
	c.last = final
	if err := final.waitServing(time.Minute); err != nil {
		fail("%v", err)
	}
	wantNotices := nCases * len(dists)
	if err := waitQuiet(e.database, len(reports)+len(commands), wantNotices, final, 3*time.Minute); err != nil {
		final.stop(30 * time.Second)
		fail("the gateway did not finish after the last restart: %v", err)
	}
	if err := final.stop(30 * time.Second); err != nil {
		fail("secgate serve did not stop cleanly on SIGTERM: %v\n%s", err, final.tail(20))
	}

	// Everything below reads the mailboxes and the database read-only.
	db, err := openRO(e.database)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()

	// Outbox rows: Message-ID -> row.
	type row struct {
		id              int64
		kind, recipient string
		caseID          int64
		state           string
		raw             []byte
		interrupted     bool
	}
	rows := map[string]*row{}
	rs, err := db.QueryContext(ctx, `SELECT o.id, o.message_id, o.kind, o.recipient, o.case_id, o.state, m.raw,
		EXISTS (SELECT 1 FROM outbox_attempt a WHERE a.outbox_id = o.id AND a.outcome = 'interrupted')
		FROM outbox o JOIN outbox_message m ON m.outbox_id = o.id`)
	if err != nil {
		t.Fatal(err)
	}
	for rs.Next() {
		var r row
		var mid string
		if err := rs.Scan(&r.id, &mid, &r.kind, &r.recipient, &r.caseID, &r.state, &r.raw, &r.interrupted); err != nil {
			t.Fatal(err)
		}
		rows[mid] = &r
	}
	rs.Close()
	notices := map[string]map[int64]string{} // recipient -> case -> Message-ID
	for mid, r := range rows {
		if r.kind != "embargo-notice" {
			continue
		}
		if notices[r.recipient] == nil {
			notices[r.recipient] = map[int64]string{}
		}
		notices[r.recipient][r.caseID] = mid
		if r.state != "sent" {
			t.Errorf("embargo notice %s to %s is %s, want sent", mid, r.recipient, r.state)
		}
	}

	// Every distributor holds every case's notice; a second copy only of a
	// row that was being sent at a kill, byte-identical to the first and to
	// the stored message.
	duplicates := 0
	checkMailbox := func(user string, onlyNotices bool) {
		t.Helper()
		byID := map[string][][]byte{}
		for _, raw := range stack.Messages(t, user, "INBOX") {
			id := messageID(raw)
			byID[id] = append(byID[id], stripTrace(raw))
		}
		for id, copies := range byID {
			r := rows[id]
			if r == nil {
				t.Errorf("%s holds %q, which is no outbox row", user, id)
				continue
			}
			if !strings.EqualFold(r.recipient, stack.Addr(user)) && user != "sink" {
				t.Errorf("%s holds %s addressed to %s", user, id, r.recipient)
			}
			if onlyNotices && r.kind != "embargo-notice" {
				t.Errorf("distributor %s got a %s (%s)", user, r.kind, id)
			}
			if !bytes.Equal(copies[0], toCRLF(r.raw)) {
				t.Errorf("%s: %s differs from the stored message", user, id)
			}
			if len(copies) == 1 {
				continue
			}
			duplicates += len(copies) - 1
			if c.inflight[id] == 0 && !r.interrupted {
				t.Errorf("%s got %d copies of %s (%s), which was not in flight at any kill", user, len(copies), id, r.kind)
			}
			for _, cp := range copies[1:] {
				if !bytes.Equal(cp, copies[0]) {
					t.Errorf("%s: the copies of %s differ", user, id)
				}
			}
		}
		if onlyNotices {
			addr := stack.Addr(user)
			if len(notices[addr]) != nCases {
				t.Errorf("%s has %d embargo-notice rows, want %d", addr, len(notices[addr]), nCases)
			}
			for caseID, id := range notices[addr] {
				if len(byID[id]) == 0 {
					t.Errorf("%s never got the embargo notice of case %d (%s)", addr, caseID, id)
				}
			}
		}
	}
	for _, d := range dists {
		waitIDs(t, stack, d, func() []string {
			var ids []string
			for _, id := range notices[stack.Addr(d)] {
				ids = append(ids, id)
			}
			return ids
		}())
		checkMailbox(d, true)
	}
	for _, u := range []string{"sink", "alice", "bob"} {
		checkMailbox(u, false)
	}

	// No report lost or opened twice.
	var nCasesDB int
	db.QueryRowContext(ctx, `SELECT count(*) FROM cases`).Scan(&nCasesDB)
	if nCasesDB != len(reports) {
		t.Errorf("%d cases for %d reports", nCasesDB, len(reports))
	}
	caseOf := map[int64]string{}
	check := func(ids []string, class string) {
		for _, id := range ids {
			var n int
			var state, cls string
			var caseID int64
			db.QueryRowContext(ctx, `SELECT count(*), max(state), max(class), coalesce(max(case_id), 0) FROM inbound WHERE message_id = ?`, id).
				Scan(&n, &state, &cls, &caseID)
			if n != 1 || state != intake.StateProcessed || cls != class {
				t.Errorf("inbound %s: %d rows, state %q, class %q; want one %s row processed", id, n, state, cls, class)
			}
			if class == intake.ClassReport {
				if prev, ok := caseOf[caseID]; ok {
					t.Errorf("reports %s and %s share case %d", prev, id, caseID)
				}
				caseOf[caseID] = id
			}
		}
	}
	check(reports, intake.ClassReport)
	check(commands, intake.ClassCommand)
	processed := map[string]int{}
	for _, raw := range stack.Messages(t, "security", "Processed") {
		processed[messageID(raw)]++
	}
	for _, id := range slices.Concat(reports, commands) {
		if processed[id] != 1 {
			t.Errorf("Processed holds %d copies of %s, want 1", processed[id], id)
		}
	}
	if n := len(stack.Messages(t, "security", "INBOX")); n != 0 {
		t.Errorf("INBOX still holds %d messages", n)
	}
	if n := len(stack.Messages(t, "security", "Quarantine")); n != 0 {
		t.Errorf("Quarantine holds %d messages", n)
	}

	// No canary in clear outside the team: distributors, the sink (the
	// reporter's acknowledgements), and the database file itself.
	var outside [][]byte
	for _, u := range append([]string{"sink"}, dists...) {
		outside = append(outside, stack.Messages(t, u, "INBOX")...)
	}
	for _, suffix := range []string{"", "-wal"} {
		if b, err := os.ReadFile(e.database + suffix); err == nil {
			outside = append(outside, b)
		}
	}
	for canary, id := range canaries {
		for _, raw := range outside {
			if bytes.Contains(raw, []byte(canary)) {
				t.Errorf("the canary of %s appears in clear (%.60q...)", id, raw)
				break
			}
		}
	}

	// The audit chain of every case verifies, checked by the workflow on a
	// copy of the database.
	cfg, err := loadConfig(e.config)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Gateway.Database = copyDB(t, e.database, t.TempDir())
	key, err := loadTeamKey(cfg, os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	g, err := openGateway(ctx, cfg, gatewayOptions{TeamKey: key})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	for caseID := range caseOf {
		if err := g.workflow.VerifyAudit(ctx, caseID); err != nil {
			t.Errorf("audit of case %d: %v", caseID, err)
		}
	}
	// The whole log, against the head the team key signed last: a kill
	// never leaves an event without its signed head.
	if ac, err := g.workflow.VerifyAuditLog(ctx, key.Public()); err != nil || ac.Err() != nil || ac.Head == nil {
		t.Errorf("the audit log does not verify after the kills: %v %v", err, ac.Err())
	}
	// No audit event without a cause: each command mail was sent once, so
	// no signature may be recorded as replayed (a stored mail handled
	// again after a kill is itself, not a replay).
	var replays int
	db.QueryRowContext(ctx, `SELECT count(*) FROM case_audit WHERE action = 'replay'`).Scan(&replays)
	if replays != 0 {
		t.Errorf("%d replay events in the audit log, but no command mail was sent twice", replays)
	}
	var states []string
	for caseID := range caseOf {
		if cs, err := g.workflow.GetByID(ctx, caseID); err == nil && !cs.DiscloseAt.IsZero() {
			states = append(states, cs.Ref+" "+string(cs.State))
		}
	}
	if len(states) != nCases {
		t.Errorf("%d cases have a disclosure planned, want %d: %v", len(states), nCases, states)
	}

	inflightRows := 0
	for range c.inflight {
		inflightRows++
	}
	t.Logf("crash run: %d kills in %d lives, %s under kills, %s in all; %d reports -> %d cases, %d command mails, "+
		"%d embargo notices to %d distributors; %d rows were in flight at a kill, %d duplicate deliveries (all byte-identical)",
		c.kills, c.lives, chaosTime.Round(time.Second), time.Since(began).Round(time.Second), len(reports), nCasesDB,
		len(commands), wantNotices, len(dists), inflightRows, duplicates)
	logErrors(t, logs)
	var where []string
	for k, v := range c.landed {
		where = append(where, fmt.Sprintf("%s: %d", k, v))
	}
	slices.Sort(where)
	t.Logf("kills landed: %s", strings.Join(where, ", "))
}

// logErrors fails the test on a panic in any life of the gateway and logs
// the distinct error messages the lives logged, with their counts.
func logErrors(t *testing.T, dir string) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.log"))
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			if strings.Contains(line, "panic") || strings.Contains(line, "internal error") {
				t.Errorf("%s: %s", filepath.Base(f), line)
			}
			if !strings.Contains(line, "level=ERROR") {
				continue
			}
			// The message without time and values.
			_, msg, _ := strings.Cut(line, "msg=")
			if i := strings.Index(msg, "\" "); i >= 0 && strings.HasPrefix(msg, "\"") {
				msg = msg[:i+1]
			} else if i := strings.Index(msg, " "); i >= 0 {
				msg = msg[:i]
			}
			counts[msg]++
		}
	}
	var lines []string
	for msg, n := range counts {
		lines = append(lines, fmt.Sprintf("%dx %s", n, msg))
	}
	slices.Sort(lines)
	t.Logf("errors logged by the gateway over all lives: %d distinct\n%s", len(lines), strings.Join(lines, "\n"))
}

// openText decrypts one of a member's mails and returns its text and
// attachments, or "" when it cannot be opened.
func openText(raw []byte, member, team *crypto.Key) string {
	o, err := crypto.Open(toCRLF(raw), crypto.OpenOptions{Decrypt: member, Verifiers: []*crypto.Key{team.Public()}})
	if err != nil {
		return ""
	}
	text, atts, err := crypto.TextBody(o.Entity)
	if err != nil {
		return string(o.Entity)
	}
	for _, a := range atts {
		text += "\n" + string(a.Data)
	}
	return text
}

// waitQuiet polls the database (read-only) until every inbound message is
// handled and moved and the outbox has nothing left to send.
// caseRefPattern finds a case reference in a text.
var caseRefPattern = regexp.MustCompile(`SEC-[0-9]{4}-[0-9]{4,}`)

func waitQuiet(path string, inbound, notices int, p *serveProc, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last string
	for {
		if p.exited() {
			return fmt.Errorf("the gateway exited: %v\n%s", p.err, p.tail(30))
		}
		db, err := openRO(path)
		if err == nil {
			var in, open, nt, pending int
			db.QueryRow(`SELECT count(*) FROM inbound`).Scan(&in)
			db.QueryRow(`SELECT count(*) FROM inbound WHERE state IN ('stored', 'released') OR moved = 0`).Scan(&open)
			db.QueryRow(`SELECT count(*) FROM outbox WHERE kind = 'embargo-notice'`).Scan(&nt)
			db.QueryRow(`SELECT count(*) FROM outbox WHERE state IN ('queued', 'sending', 'deferred')`).Scan(&pending)
			db.Close()
			last = fmt.Sprintf("inbound %d of %d, %d open; %d of %d notices; %d outbox rows pending", in, inbound, open, nt, notices, pending)
			if in >= inbound && open == 0 && nt >= notices && pending == 0 {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after %s: %s\n%s", timeout, last, p.tail(30))
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// waitIDs waits until user's INBOX holds a message with each of ids.
func waitIDs(t *testing.T, stack *mailstack.Stack, user string, ids []string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		have := map[string]bool{}
		for _, raw := range stack.Messages(t, user, "INBOX") {
			have[messageID(raw)] = true
		}
		missing := 0
		for _, id := range ids {
			if !have[id] {
				missing++
			}
		}
		if missing == 0 || time.Now().After(deadline) {
			return // the assertions name what is missing
		}
		time.Sleep(200 * time.Millisecond)
	}
}
