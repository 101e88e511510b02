package main

import (
	"bytes"
	"context"
	"fmt"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/secgate/secgate/cases/casestest"
	"github.com/secgate/secgate/internal/mailstack"
	"github.com/secgate/secgate/store"
)

// TestCrashShortWindows keeps the timeline's promises under kills with
// windows of seconds (the presets' are weeks, which TestCrashFanOut runs):
// a policy with 20 s of notice and a pre-release notice 15 s before T0.
// The gateway is killed while the embargo notice fans out and again while
// the pre-release notice is being sent, and stays down across T0. Asserted
// from the database: no embargoed notice reached the server after T0; each
// distributor had the embargo notice before the pre-release notice, both
// before T0; a pre-release notice not sent by T0 ends missed and the lead is
// told; no audit event without a cause (no replay).
func TestCrashShortWindows(t *testing.T) {
	if testing.Short() {
		t.Skip("real mail stack and gateway restarts")
	}
	tmp := t.TempDir()
	bin := buildSecgate(t, tmp)
	members := []string{"alice", "bob"}
	var dists []string
	for i := 1; i <= 8; i++ {
		dists = append(dists, fmt.Sprintf("dist%02d", i))
	}
	stack := mailstack.Start(t, mailstack.Options{Users: append(append([]string{"security"}, members...), dists...)})
	e := newCrashEnv(t, stack, "", members, dists)
	cfg, err := os.ReadFile(e.config)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(cfg), "[schedule]\n", "[schedule]\npolicy = \"seconds\"\n", 1) +
		"\n[schedule.policies.seconds]\nbase = \"knative\"\nmin_notice = \"20s\"\npre_release_notice = \"15s\"\n"
	if err := os.WriteFile(e.config, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	logs := filepath.Join(tmp, "logs")
	os.Mkdir(logs, 0o755)
	lives := 0
	var current *serveProc
	start := func() *serveProc {
		t.Helper()
		lives++
		p, err := startServe(bin, e.config, filepath.Join(logs, fmt.Sprintf("life-%d.log", lives)))
		if err != nil {
			t.Fatal(err)
		}
		if err := p.waitServing(time.Minute); err != nil {
			t.Fatal(err)
		}
		current = p
		return p
	}
	query := func(q string, args ...any) int {
		db, err := openRO(e.database)
		if err != nil {
			return 0
		}
		defer db.Close()
		var n int
		db.QueryRow(q, args...).Scan(&n)
		return n
	}
	waitFor := func(what string, timeout time.Duration, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(timeout)
		for !cond() {
			if time.Now().After(deadline) {
				db, oerr := openRO(e.database)
				audit := []string{fmt.Sprint("open: ", oerr), current.tail(30)}
				if db != nil {
					rows, _ := db.Query(`SELECT action || ': ' || detail FROM case_audit ORDER BY id`)
					for rows != nil && rows.Next() {
						var a string
						rows.Scan(&a)
						audit = append(audit, a)
					}
					db.Close()
				}
				t.Fatalf("%s: not after %s; audit:\n%s", what, timeout, strings.Join(audit, "\n"))
			}
			time.Sleep(5 * time.Millisecond)
		}
	}

	p := start()
	canary := "CANARY-window"
	stack.Send(t, e.repAddr, []string{stack.Addr("security")}, e.report("window@outside.example", canary))
	var ref string
	waitFor("alice's copy of the report", time.Minute, func() bool {
		for _, raw := range stack.Messages(t, "alice", "INBOX") {
			if txt := openText(raw, e.members["alice"], e.team); strings.Contains(txt, canary) {
				ref = caseRefPattern.FindString(txt)
				return true
			}
		}
		return false
	})
	// T0 on the next minute at least a minute away: the embargo notice
	// goes now, the pre-release notice 15 s before T0.
	t0 := time.Now().Add(time.Minute).Truncate(time.Minute).Add(time.Minute).UTC()
	raw, _, err := casestest.CommandMail(e.members["alice"], e.team, casestest.Options{
		From: "alice <" + stack.Addr("alice") + ">", To: stack.Addr("security"), Subject: "Re: [" + ref + "] report",
		Body: "/status confirmed\n/impact\nRemote attackers can crash the parser.\n\n/affected <= 1.4.1\n/fixed 1.4.2\n/disclose " + t0.Format("2006-01-02 15:04") + " UTC\n",
	})
	if err != nil {
		t.Fatal(err)
	}
	stack.Submit(t, "alice", stack.Addr("alice"), []string{stack.Addr("security")}, raw)

	// Kill 1: while the embargo notice fans out.
	waitFor("the embargo notice being sent", time.Minute, func() bool {
		return query(`SELECT count(*) FROM outbox WHERE kind = 'embargo-notice' AND state IN ('sending', 'sent')`) > 0
	})
	p.kill()
	p = start()

	// Kill 2: while the pre-release notice is being sent; down until T0
	// has passed.
	waitFor("the pre-release notice being sent", time.Until(t0)+30*time.Second, func() bool {
		return query(`SELECT count(*) FROM outbox WHERE kind = 'prerelease-notice' AND state IN ('sending', 'sent')`) > 0
	})
	p.kill()
	time.Sleep(time.Until(t0) + 3*time.Second)
	p = start()
	waitFor("the announcement job done and every row finished", 2*time.Minute, func() bool {
		return query(`SELECT count(*) FROM schedule_job WHERE kind = 'announcement' AND state = 'done'`) == 1 &&
			query(`SELECT count(*) FROM outbox WHERE state IN ('queued', 'sending', 'deferred')`) == 0
	})
	if err := p.stop(30 * time.Second); err != nil {
		t.Fatal(err)
	}

	db, err := openRO(e.database)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	type notice struct {
		kind, state, reply string
		finished           time.Time
	}
	byDist := map[string]map[string]notice{}
	rows, err := db.QueryContext(ctx, `SELECT recipient, kind, state, last_reply, finished FROM outbox WHERE kind IN ('embargo-notice', 'prerelease-notice')`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var rcpt string
		var n notice
		var fin int64
		if err := rows.Scan(&rcpt, &n.kind, &n.state, &n.reply, &fin); err != nil {
			t.Fatal(err)
		}
		n.finished = store.Time(fin)
		if byDist[rcpt] == nil {
			byDist[rcpt] = map[string]notice{}
		}
		byDist[rcpt][n.kind] = n
	}
	rows.Close()
	missed := 0
	for _, d := range e.dists {
		em, pre := byDist[d]["embargo-notice"], byDist[d]["prerelease-notice"]
		if em.state != "sent" || !em.finished.Before(t0) {
			t.Errorf("%s: embargo notice %s at %s, want sent before T0 %s", d, em.state, em.finished, t0)
		}
		switch {
		case pre.state == "sent":
			if !pre.finished.Before(t0) || !em.finished.Before(pre.finished) {
				t.Errorf("%s: pre-release notice sent at %s, want after the embargo notice (%s) and before T0 %s", d, pre.finished, em.finished, t0)
			}
		case pre.kind == "":
			// Never queued: the gateway was down when it came due.
		default:
			missed++
			if pre.state != "failed" || !strings.HasPrefix(pre.reply, "missed:") {
				t.Errorf("%s: pre-release notice %s %q, want sent before T0 or missed", d, pre.state, pre.reply)
			}
		}
	}
	var events int
	db.QueryRowContext(ctx, `SELECT count(*) FROM outbox_event WHERE kind = 'missed'`).Scan(&events)
	if missed > 0 && events == 0 {
		t.Errorf("%d pre-release notices missed and no event tells the lead", missed)
	}
	var alerts int
	db.QueryRowContext(ctx, `SELECT count(*) FROM outbox WHERE kind = 'alert'`).Scan(&alerts)
	if missed > 0 && alerts == 0 {
		t.Errorf("%d pre-release notices missed and the lead got no alert", missed)
	}
	var replays int
	db.QueryRowContext(ctx, `SELECT count(*) FROM case_audit WHERE action = 'replay'`).Scan(&replays)
	if replays != 0 {
		t.Errorf("%d replay events, but the command mail was sent once", replays)
	}
	// What the distributors hold agrees: no message of a missed row
	// reached a mailbox.
	missedIDs := map[string]bool{}
	rows, err = db.QueryContext(ctx, `SELECT message_id FROM outbox WHERE state = 'failed' AND last_reply LIKE 'missed:%'`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		rows.Scan(&id)
		missedIDs[id] = true
	}
	rows.Close()
	// A row in flight at the kill may have reached the server before T0
	// and be recorded missed after it: what counts is when it arrived.
	for _, d := range e.dists {
		for _, raw := range stack.Messages(t, strings.Split(d, "@")[0], "INBOX") {
			if !missedIDs[messageID(raw)] {
				continue
			}
			if at := receivedAt(raw); at.IsZero() || !at.Before(t0) {
				t.Errorf("%s received the message of a missed row at %s, T0 %s", d, at, t0)
			}
		}
	}
	t.Logf("T0 %s; %d of %d pre-release notices missed across the kill, %d missed events, %d alerts",
		t0.Format(time.TimeOnly), missed, len(e.dists), events, alerts)
}

// receivedAt is when the topmost Received field says the message arrived,
// zero when it cannot be read.
func receivedAt(raw []byte) time.Time {
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return time.Time{}
	}
	r := m.Header.Get("Received")
	i := strings.LastIndexByte(r, ';')
	if i < 0 {
		return time.Time{}
	}
	at, err := mail.ParseDate(strings.TrimSpace(r[i+1:]))
	if err != nil {
		return time.Time{}
	}
	return at
}
