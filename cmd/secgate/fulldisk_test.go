package main

import (
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/secgate/secgate/internal/mailstack"
)

// TestFullDisk: a disk that fills up is a routine event. While SQLite
// cannot write, mail stays on the IMAP server, health says 503 naming the
// database and the log says why; when space returns the gateway resumes by
// itself, with nothing lost and nothing sent twice. The database lives on a
// size-limited tmpfs under the real Postfix and Dovecot.
func TestFullDisk(t *testing.T) {
	if testing.Short() {
		t.Skip("real mail stack")
	}
	stack := mailstack.Start(t, mailstack.Options{Users: []string{"security", "alice", "bob"}})
	e := newCrashEnv(t, stack, "", []string{"alice", "bob"}, []string{"dist1"})
	data := filepath.Join(e.dir, "data")
	key, err := os.ReadFile(filepath.Join(data, "team-key.asc"))
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", data).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs (needs root, as CI has): %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", data).Run() })
	if err := os.WriteFile(filepath.Join(data, "team-key.asc"), key, 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	metricsAddr := ln.Addr().String()
	ln.Close()
	cfg, err := os.ReadFile(e.config)
	if err != nil {
		t.Fatal(err)
	}
	cfg = regexp.MustCompile(`(?m)^listen = ""$`).ReplaceAll(cfg, []byte(`listen = "`+metricsAddr+`"`))
	if err := os.WriteFile(e.config, cfg, 0o644); err != nil {
		t.Fatal(err)
	}

	bin := buildSecgate(t, t.TempDir())
	p, err := startServe(bin, e.config, filepath.Join(t.TempDir(), "serve.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer p.stop(10 * time.Second)
	if err := p.waitServing(60 * time.Second); err != nil {
		t.Fatal(err)
	}
	health := func() (int, healthReport) {
		resp, err := http.Get("http://" + metricsAddr + "/healthz")
		if err != nil {
			return 0, healthReport{}
		}
		defer resp.Body.Close()
		var r healthReport
		json.NewDecoder(resp.Body).Decode(&r)
		return resp.StatusCode, r
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not after 60 s\n%s", what, p.tail(30))
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	send := func(id string) {
		stack.Send(t, e.repAddr, []string{stack.Addr("security")}, e.report(id, "CANARY-"+id))
	}

	send("before@outside.example")
	waitFor("the first report processed", func() bool { return len(stack.Messages(t, "security", "Processed")) == 1 })
	waitFor("health ok", func() bool { code, _ := health(); return code == http.StatusOK })

	// The disk fills up.
	filler := filepath.Join(data, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64<<10)
	for {
		if _, err := f.Write(buf); err != nil {
			break
		}
	}
	f.Close()
	send("during@outside.example")
	waitFor("health 503 naming the database", func() bool {
		code, r := health()
		return code == http.StatusServiceUnavailable && !r.Components["database"].OK
	})
	time.Sleep(3 * time.Second) // the poller tries, and tries again
	if n := len(stack.Messages(t, "security", "INBOX")); n != 1 {
		t.Errorf("INBOX holds %d messages while the disk is full, want the new report, unmoved", n)
	}
	if p.exited() {
		t.Fatalf("serve exited on a full disk: %v\n%s", p.err, p.tail(30))
	}
	if log, _ := os.ReadFile(p.log); !strings.Contains(string(log), "full") {
		t.Errorf("the log does not say the disk is full:\n%s", p.tail(30))
	}

	// Space returns: the gateway resumes by itself.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	stack.WaitMessages(t, "security", "Processed", 2, 60*time.Second)
	waitFor("health ok again", func() bool { code, _ := health(); return code == http.StatusOK })
	acks := stack.WaitMessages(t, "sink", "INBOX", 2, 60*time.Second)
	time.Sleep(2 * time.Second)
	acks = stack.Messages(t, "sink", "INBOX")
	ids := map[string]int{}
	for _, raw := range acks {
		ids[messageID(raw)]++
	}
	if len(acks) != 2 || len(ids) != 2 {
		t.Errorf("the reporter got %d acknowledgements (%d distinct), want 2: %v", len(acks), len(ids), ids)
	}
	db, err := openRO(e.database)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var cases int
	db.QueryRow(`SELECT count(*) FROM cases`).Scan(&cases)
	if cases != 2 {
		t.Errorf("%d cases, want 2", cases)
	}
}
