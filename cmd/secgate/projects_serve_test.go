package main

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/secgate/secgate/crypto"
	"github.com/secgate/secgate/internal/gpgtest"
	"github.com/secgate/secgate/internal/mailstack"
)

// servedProject is one project of TestServeProjects.
type servedProject struct {
	name, display string // short name, name in texts
	mailbox       string // the stack user reading its reports
	member        string // its one member (stack user), who leads
	pass          string // its team key's passphrase
	team          *crypto.Key
	memberKey     *crypto.Key
	canary        string
	database      string
}

// TestServeProjects runs one secgate serve for two projects on the real
// stack (Postfix, Dovecot): knative reads its reports from its own
// mailbox, kata from another, each with its own team key (unlocked with its
// own passphrase file), database, member and lists. A report to each, each
// encrypted by gpg to that project's key, opens a case in that project's
// database alone; its member gets the team copy signed by that project's
// key (and nothing of the other project); the reporter's acknowledgements
// come from each project's address, each signed by its own key (checked
// with gpg). /metrics labels every secgate series with its project and has
// the Go runtime's once; /healthz and secgate status give each project;
// the CLI lists both projects' cases and takes -project.
func TestServeProjects(t *testing.T) {
	if testing.Short() {
		t.Skip("real mail stack")
	}
	tmp := t.TempDir()
	bin := buildSecgate(t, tmp)
	projects := []*servedProject{
		{name: "knative", display: "Knative", mailbox: "knsec", member: "alice", pass: "knative team passphrase, not secret", canary: "CANARY-KNATIVE-REPORT"},
		{name: "kata", display: "Kata", mailbox: "katasec", member: "bob", pass: "kata team passphrase, not secret", canary: "CANARY-KATA-REPORT"},
	}
	stack := mailstack.Start(t, mailstack.Options{Users: []string{"knsec", "katasec", "alice", "bob", "rita"}})
	d := newServeDir(t)
	metricsAddr := freeLoopbackAddr(t)
	config := d.serveTopConfig(stack, metricsAddr, "", "", "")
	d.servedProjects(stack, projects, true)

	// The reporter's gpg, with both teams' public keys.
	rita := newServedReporter(t, stack.Addr("rita"), projects)
	ritaAddr := rita.addr
	report := func(p *servedProject) []byte { return rita.report(p, stack.Addr(p.mailbox), "report-"+p.name) }

	proc := startCheckedServe(t, bin, config)
	// Both pollers watch their mailboxes.
	deadline := time.Now().Add(time.Minute)
	for {
		b, _ := os.ReadFile(proc.log)
		log := string(b)
		watching := 0
		for _, l := range strings.Split(log, "\n") {
			if strings.Contains(l, "intake: watching mailbox") {
				watching++
			}
		}
		if watching >= 2 {
			for _, p := range projects {
				if !strings.Contains(log, `msg="secgate serving" project=`+p.name+" team="+stack.Addr(p.mailbox)) {
					t.Errorf("the log does not say that project %s serves:\n%s", p.name, proc.tail(20))
				}
			}
			break
		}
		if proc.exited() || time.Now().After(deadline) {
			t.Fatalf("secgate serve does not watch both mailboxes: %v\n%s", proc.err, proc.tail(30))
		}
		time.Sleep(50 * time.Millisecond)
	}

	for _, p := range projects {
		stack.Send(t, ritaAddr, []string{stack.Addr(p.mailbox)}, report(p))
	}

	// Each member gets the team copy of their own project's report, signed
	// by that project's key, from that project's address.
	verifiers := []*crypto.Key{projects[0].team.Public(), projects[1].team.Public()}
	for _, p := range projects {
		var text string
		deadline := time.Now().Add(2 * time.Minute)
		for text == "" {
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
				text = string(o.Entity)
			}
			if proc.exited() || time.Now().After(deadline) {
				t.Fatalf("no team copy of %s's report to %s: %v\n%s", p.name, p.member, proc.err, proc.tail(30))
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	// The reporter's acknowledgements: one from each project's address,
	// encrypted to her and signed by that project's key, as gpg sees them.
	acks := map[string]string{} // project -> signer
	deadline = time.Now().Add(2 * time.Minute)
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

	// Each report made one case, in its project's database alone, and
	// nothing of the other project's mail is stored there.
	for i, p := range projects {
		other := projects[1-i]
		db, err := openRO(p.database)
		if err != nil {
			t.Fatal(err)
		}
		var cases, inbound, theirs int
		db.QueryRow(`SELECT count(*) FROM cases`).Scan(&cases)
		db.QueryRow(`SELECT count(*) FROM inbound`).Scan(&inbound)
		db.QueryRow(`SELECT count(*) FROM inbound WHERE message_id LIKE ?`, "%report-"+other.name+"@%").Scan(&theirs)
		db.Close()
		if cases != 1 || inbound != 1 || theirs != 0 {
			t.Errorf("%s's database: %d cases, %d inbound messages, %d of %s's; want 1, 1, 0", p.name, cases, inbound, theirs, other.name)
		}
		// Nobody got the other project's report.
		for _, raw := range stack.Messages(t, p.member, "INBOX") {
			if o, err := crypto.Open(toCRLF(raw), crypto.OpenOptions{Decrypt: p.memberKey, Verifiers: verifiers}); err == nil && bytes.Contains(o.Entity, []byte(other.canary)) {
				t.Errorf("%s got %s's report", p.member, other.name)
			}
		}
	}

	// /metrics: every secgate series names its project; the Go runtime's
	// series are there once.
	resp, err := http.Get("http://" + metricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	metricsText := string(b)
	for _, want := range []string{`secgate_cases{project="knative",state="new"} 1`, `secgate_cases{project="kata",state="new"} 1`,
		`secgate_imap_connected{project="knative"} 1`, `secgate_imap_connected{project="kata"} 1`,
		`secgate_inbound_messages{class="report",project="kata",state="processed"} 1`} {
		if !strings.Contains(metricsText, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	for _, l := range strings.Split(metricsText, "\n") {
		if strings.HasPrefix(l, "secgate_") && !strings.Contains(l, `project="`) {
			t.Errorf("/metrics: a series without its project: %s", l)
		}
	}
	if n := strings.Count(metricsText, "\ngo_goroutines "); n != 1 {
		t.Errorf("/metrics has go_goroutines %d times, want once", n)
	}

	// /healthz and secgate status: each project and its parts.
	var code int
	var out, stderr string
	deadline = time.Now().Add(time.Minute)
	for {
		code, out, stderr = runCLI(t, nil, "status", "-config", config)
		if code == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if code != 0 || !strings.Contains(out, "secgate ok") || !strings.Contains(out, "  project kata ("+stack.Addr("katasec")+"): ok\n    ok   database") ||
		!strings.Contains(out, "  project knative ("+stack.Addr("knsec")+"): ok\n") || strings.Count(out, "ok   imap       connected") != 2 {
		t.Errorf("status: exit %d, stderr %q, stdout:\n%s", code, stderr, out)
	}
	code, out, stderr = runCLI(t, nil, "status", "-config", config, "-project", "kata")
	if code != 0 || strings.Contains(out, "project") || strings.Count(out, "ok   imap       connected") != 1 {
		t.Errorf("status -project kata: exit %d, stderr %q, stdout:\n%s", code, stderr, out)
	}
	var rep healthReport
	resp, err = http.Get("http://" + metricsAddr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	decodeJSON(t, func() string { b, _ := io.ReadAll(resp.Body); resp.Body.Close(); return string(b) }(), &rep)
	if resp.StatusCode != 200 || rep.Status != "ok" || len(rep.Projects) != 2 || rep.Components != nil ||
		rep.Projects["knative"].Team != stack.Addr("knsec") || !rep.Projects["kata"].Components["smtp"].OK {
		t.Errorf("/healthz: %d %+v", resp.StatusCode, rep)
	}

	// The CLI: both projects' cases; -project one's.
	code, out, stderr = runCLI(t, nil, "case", "list", "-config", config)
	if code != 0 || !strings.Contains(out, "PROJECT") || !strings.Contains(out, "\nkata ") || !strings.Contains(out, "\nknative ") {
		t.Errorf("case list: exit %d, stderr %q:\n%s", code, stderr, out)
	}
	code, out, stderr = runCLI(t, nil, "case", "list", "-config", config, "-project", "knative")
	if code != 0 || strings.Contains(out, "PROJECT") || strings.Count(out, "SEC-") != 1 || !strings.Contains(out, "alice") {
		t.Errorf("case list -project knative: exit %d, stderr %q:\n%s", code, stderr, out)
	}

	if err := proc.stop(30 * time.Second); err != nil {
		t.Fatalf("secgate serve: %v\n%s", err, proc.tail(20))
	}
	logErrors(t, filepath.Dir(proc.log))
}

// gpgSigner decrypts a PGP/MIME message with g, verifies the
// multipart/signed inside with g as a mail client does, and returns the
// fingerprint of the key that signed it ("" when none verifies).
func gpgSigner(t *testing.T, g *gpgtest.GPG, raw []byte) string {
	t.Helper()
	r := gpgOpenMail(t, g, raw)
	if r.Err != nil || !r.Has("DECRYPTION_OKAY") {
		t.Errorf("gpg --decrypt: %v\n%s", r.Err, r.Stderr)
		return ""
	}
	ih, ibody, _ := bytes.Cut(gpgtest.CRLF(r.Stdout), []byte("\r\n\r\n"))
	ct := strings.ReplaceAll(strings.ReplaceAll(string(ih), "\r\n\t", " "), "\r\n ", " ")
	var params map[string]string
	for _, l := range strings.Split(ct, "\r\n") {
		if v, ok := strings.CutPrefix(l, "Content-Type: "); ok {
			mt, p, err := mime.ParseMediaType(v)
			if err != nil || mt != "multipart/signed" {
				t.Errorf("inner content type %q (%v), want multipart/signed", v, err)
				return ""
			}
			params = p
		}
	}
	part, sigPart := gpgtest.SplitTwo(t, ibody, params["boundary"])
	_, sig, _ := bytes.Cut(sigPart, []byte("\r\n\r\n"))
	v := g.Verify(part, sig)
	a := v.Args("VALIDSIG")
	if v.Err != nil || len(a) == 0 {
		t.Errorf("gpg --verify: %v\n%s", v.Err, v.Stderr)
		return ""
	}
	return a[len(a)-1]
}

// servedReporter is Rita as gpg makes her mail: her key, with every
// project's team key imported.
type servedReporter struct {
	gpg       *gpgtest.GPG
	addr, fpr string
}

func newServedReporter(t *testing.T, addr string, projects []*servedProject) *servedReporter {
	r := &servedReporter{gpg: gpgtest.New(t), addr: addr}
	r.fpr = r.gpg.GenKey("Rita Reporter <"+addr+">", "ed25519")
	for _, p := range projects {
		r.gpg.Import([]byte(armorPub(t, p.team)))
	}
	return r
}

// report is Rita's report to project p at address to, signed and
// encrypted by gpg to p's team key, her key attached, carrying p's canary;
// id makes its Message-ID.
func (r *servedReporter) report(p *servedProject, to, id string) []byte {
	inner := "Content-Type: multipart/mixed; boundary=\"in\"\r\n\r\n--in\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" +
		"A report to " + p.display + " alone.\r\n" + p.canary + "\r\n" +
		"\r\n--in\r\nContent-Type: application/pgp-keys\r\nContent-Disposition: attachment; filename=\"rita.asc\"\r\n\r\n" +
		strings.ReplaceAll(string(r.gpg.Export(r.fpr)), "\n", "\r\n") + "\r\n--in--\r\n"
	enc := r.gpg.Encrypt([]byte(inner), p.team.Fingerprint(), r.fpr)
	return toCRLF([]byte(fmt.Sprintf("From: Rita Reporter <%s>\nTo: %s\nSubject: ...\nDate: %s\nMessage-ID: <%s@outside.example>\nMIME-Version: 1.0\n"+
		"Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=\"enc\"\n\n"+
		"--enc\nContent-Type: application/pgp-encrypted\n\nVersion: 1\n\n--enc\nContent-Type: application/octet-stream; name=\"encrypted.asc\"\n\n%s\n--enc--\n",
		r.addr, to, time.Now().Format(time.RFC1123Z), id, enc)))
}

// armorPub is k's public key, armored.
func armorPub(t testing.TB, k *crypto.Key) string {
	t.Helper()
	a, err := k.ArmorPublic()
	if err != nil {
		t.Fatal(err)
	}
	return a
}
