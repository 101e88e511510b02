package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/mail"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/secgate/secgate/crypto"
	"github.com/secgate/secgate/internal/mailstack"
)

// TestServeSharedMailbox runs one secgate serve for two projects sharing
// one Dovecot mailbox (security@) through plus-addressing: knative's team
// address is security+knative@, kata's security+kata@, and the top file's
// [imap] is shared, knative the default project. One poller reads the
// mailbox (one "watching mailbox" in the log). A report to each, encrypted
// by gpg to that project's key, opens a case in that project's database
// alone, its member gets the team copy signed by that project's key, and
// the reporter's acknowledgement comes from that project's address,
// signed by its key (checked with gpg). A report delivered for
// security+nobody@, which no project owns, is quarantined (class route)
// in knative's database, shown by `secgate quarantine list -project
// knative` with its reason, and answered to nobody. /healthz and /metrics
// give the shared poller's state under each project; the top file's
// imap.push_listen serves the shared poller's push notifications.
func TestServeSharedMailbox(t *testing.T) {
	if testing.Short() {
		t.Skip("real mail stack")
	}
	tmp := t.TempDir()
	bin := buildSecgate(t, tmp)
	projects := []*servedProject{
		{name: "knative", display: "Knative", member: "alice", pass: "knative team passphrase, not secret", canary: "CANARY-KNATIVE-SHARED"},
		{name: "kata", display: "Kata", member: "bob", pass: "kata team passphrase, not secret", canary: "CANARY-KATA-SHARED"},
	}
	pushAddr := freeLoopbackAddr(t)
	stack := mailstack.Start(t, mailstack.Options{Users: []string{"security", "alice", "bob", "rita"}, PushURL: "http://" + pushAddr + "/"})
	d := newServeDir(t)
	metricsAddr := freeLoopbackAddr(t)
	config := d.serveTopConfig(stack, metricsAddr,
		fmt.Sprintf("user = %q\nshared = true\ndefault_project = \"knative\"\npush_listen = %q\n", stack.Addr("security"), pushAddr),
		fmt.Sprintf("user = %q\n", stack.Addr("security")), "")
	for _, p := range projects {
		p.mailbox = "security+" + p.name // no [imap] user: the project reads the shared mailbox
	}
	d.servedProjects(stack, projects, false)

	rita := newServedReporter(t, stack.Addr("rita"), projects)
	ritaAddr := rita.addr
	report := func(p *servedProject) []byte { return rita.report(p, stack.Addr(p.mailbox), "shared-report-"+p.name) }

	proc := startCheckedServe(t, bin, config)
	if err := proc.waitServing(time.Minute); err != nil {
		t.Fatal(err)
	}

	for _, p := range projects {
		stack.Send(t, ritaAddr, []string{stack.Addr(p.mailbox)}, report(p))
	}
	nobody := stack.Addr("security+nobody")
	stack.Send(t, ritaAddr, []string{nobody}, toCRLF([]byte(fmt.Sprintf(
		"From: Rita Reporter <%s>\nTo: %s\nSubject: a report for nobody\nDate: %s\nMessage-ID: <shared-nobody@outside.example>\n\nTo an address no project owns.\n",
		ritaAddr, nobody, time.Now().Format(time.RFC1123Z)))))

	// Each member gets the team copy of their own project's report, signed
	// by that project's key, from that project's address.
	verifiers := []*crypto.Key{projects[0].team.Public(), projects[1].team.Public()}
	for _, p := range projects {
		found := false
		deadline := time.Now().Add(2 * time.Minute)
		for !found {
			for _, raw := range stack.Messages(t, p.member, "INBOX") {
				o, err := crypto.Open(toCRLF(raw), crypto.OpenOptions{Decrypt: p.memberKey, Verifiers: verifiers})
				if err != nil || !bytes.Contains(o.Entity, []byte(p.canary)) {
					continue
				}
				if s := o.Signature; s == nil || s.Err != nil || s.Fingerprint != p.team.Fingerprint() {
					t.Errorf("%s's copy is not signed by %s's key: %+v", p.member, p.name, s)
				}
				if m, err := mail.ReadMessage(bytes.NewReader(raw)); err != nil || !strings.Contains(m.Header.Get("From"), stack.Addr(p.mailbox)) {
					t.Errorf("%s's copy is not from %s: %v", p.member, stack.Addr(p.mailbox), err)
				}
				found = true
			}
			if proc.exited() || time.Now().After(deadline) {
				t.Fatalf("no team copy of %s's report to %s: %v\n%s", p.name, p.member, proc.err, proc.tail(30))
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	// The reporter's acknowledgements: one from each project's address,
	// signed by that project's key, as gpg sees them.
	acks := map[string]string{}
	deadline := time.Now().Add(2 * time.Minute)
	for len(acks) < 2 {
		for _, raw := range stack.Messages(t, "rita", "INBOX") {
			m, err := mail.ReadMessage(bytes.NewReader(toCRLF(raw)))
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range projects {
				if strings.Contains(m.Header.Get("From"), stack.Addr(p.mailbox)) {
					acks[p.name] = gpgSigner(t, rita.gpg, raw)
				}
			}
		}
		if proc.exited() || time.Now().After(deadline) {
			t.Fatalf("acknowledgements %v, want one from each project: %v\n%s", acks, proc.err, proc.tail(30))
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, p := range projects {
		if acks[p.name] != p.team.Fingerprint() {
			t.Errorf("the acknowledgement from %s is signed by %q, want its own key %s", p.name, acks[p.name], p.team.Fingerprint())
		}
	}

	// The report for nobody is in knative's (the default project's)
	// quarantine, with its reason.
	deadline = time.Now().Add(time.Minute)
	for {
		code, out, stderr := runCLI(t, nil, "quarantine", "list", "-config", config, "-project", "knative")
		if code != 0 {
			t.Fatalf("quarantine list -project knative: exit %d\n%s%s", code, out, stderr)
		}
		if strings.Contains(out, "no project owns Delivered-To "+nobody) {
			if !strings.Contains(out, ritaAddr) {
				t.Errorf("quarantine list -project knative:\n%s", out)
			}
			// The whole reason, in -json.
			code, out, stderr = runCLI(t, nil, "quarantine", "list", "-config", config, "-project", "knative", "-json")
			if code != 0 || !strings.Contains(out, `"class": "route"`) || !strings.Contains(out, "held in knative's quarantine, answered to nobody") {
				t.Errorf("quarantine list -project knative -json: exit %d\n%s%s", code, out, stderr)
			}
			if code, out, _ := runCLI(t, nil, "quarantine", "list", "-config", config, "-project", "kata"); code != 0 || strings.Contains(out, "nobody") {
				t.Errorf("quarantine list -project kata: exit %d\n%s", code, out)
			}
			break
		}
		if proc.exited() || time.Now().After(deadline) {
			t.Fatalf("the report for nobody is not in knative's quarantine:\n%s\n%s", out, proc.tail(30))
		}
		time.Sleep(200 * time.Millisecond)
	}

	// Each database holds its own report's case and message alone; the
	// quarantined one is knative's, class route.
	for i, p := range projects {
		other := projects[1-i]
		db, err := openRO(p.database)
		if err != nil {
			t.Fatal(err)
		}
		var cases, reports, theirs, routed int
		db.QueryRow(`SELECT count(*) FROM cases`).Scan(&cases)
		db.QueryRow(`SELECT count(*) FROM inbound WHERE message_id LIKE ?`, "%shared-report-"+p.name+"@%").Scan(&reports)
		db.QueryRow(`SELECT count(*) FROM inbound WHERE message_id LIKE ?`, "%shared-report-"+other.name+"@%").Scan(&theirs)
		db.QueryRow(`SELECT count(*) FROM inbound WHERE class = 'route' AND message_id LIKE '%shared-nobody@%'`).Scan(&routed)
		db.Close()
		wantRouted := 0
		if p.name == "knative" {
			wantRouted = 1
		}
		if cases != 1 || reports != 1 || theirs != 0 || routed != wantRouted {
			t.Errorf("%s's database: %d cases, %d of its reports, %d of %s's, %d held for no owner; want 1, 1, 0, %d",
				p.name, cases, reports, theirs, other.name, routed, wantRouted)
		}
		for _, raw := range stack.Messages(t, p.member, "INBOX") {
			if o, err := crypto.Open(toCRLF(raw), crypto.OpenOptions{Decrypt: p.memberKey, Verifiers: verifiers}); err == nil && bytes.Contains(o.Entity, []byte(other.canary)) {
				t.Errorf("%s got %s's report", p.member, other.name)
			}
		}
	}
	// Nobody answered the report for nobody.
	for _, raw := range stack.Messages(t, "rita", "INBOX") {
		if bytes.Contains(raw, []byte("shared-nobody@outside.example")) {
			t.Errorf("the report for nobody was answered:\n%.600s", raw)
		}
	}

	// One poller reads the shared mailbox; its state is each project's.
	b, _ := os.ReadFile(proc.log)
	if n := strings.Count(string(b), "intake: watching mailbox"); n != 1 {
		t.Errorf("%d pollers watch the mailbox, want the shared one:\n%s", n, proc.tail(30))
	}
	if !strings.Contains(string(b), "secgate serving the shared mailbox") {
		t.Errorf("the log does not say that the shared mailbox is served:\n%s", proc.tail(30))
	}
	get := func(path string) string {
		t.Helper()
		resp, err := http.Get("http://" + metricsAddr + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return string(body)
	}
	// The shared mailbox's push listener kicks its poller.
	if resp, err := http.Post("http://"+pushAddr+"/", "application/json", strings.NewReader("{}")); err != nil || resp.StatusCode != http.StatusNoContent {
		t.Errorf("push to the shared mailbox's listener: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	if strings.Contains(string(b), "push requested but") {
		t.Errorf("the shared poller did not get push notifications:\n%s", proc.tail(30))
	}
	metrics := get("/metrics")
	for _, p := range projects {
		if want := `secgate_imap_connected{project="` + p.name + `"} 1`; !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	health := get("/healthz")
	if strings.Count(strings.Join(strings.Fields(health), ""), `"imap":{"ok":true,"state":"connected"`) != 2 {
		t.Errorf("/healthz does not show the shared mailbox connected for both projects:\n%s", health)
	}
	if err := proc.stop(30 * time.Second); err != nil {
		t.Error(err)
	}
}
