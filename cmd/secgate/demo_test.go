package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/secgate/secgate/internal/gpgtest"
)

// TestDemo runs the demo for each preset and checks its verdict and the
// steps of its timeline.
func TestDemo(t *testing.T) {
	for _, preset := range []string{"knative", "kata", "kubeedge"} {
		t.Run(preset, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, nil, "demo", "-preset", preset)
			if code != 0 {
				t.Fatalf("demo exit %d\n%s\n%s", code, stdout, stderr)
			}
			for _, want := range []string{
				"ack ", "team-copy", "handoff", "Refused: nothing was changed",
				"embargo-notice    encrypted+signed", "prerelease-notice encrypted+signed",
				"announcement      signed", "+.ics", "checks passed.",
			} {
				if !strings.Contains(stdout, want) {
					t.Errorf("timeline lacks %q", want)
				}
			}
			// Each preset's own steps (Knative's pre-announcement and
			// retrospective, Kata's consent and security note, KubeEdge's
			// out-of-band release and announcement channels).
			for _, want := range map[string][]string{
				"knative": {"pre-announcement  signed", "Retrospective due by", "retrospective drafted from the case's own timeline",
					// The distributors' coordination (issue #18): an
					// application approved, two audiences, the
					// acknowledgements and the reminder.
					"<- security@distro-four.example    /apply embargo", "application       encrypted+signed \"[APP-20",
					"<- alice@demo.test                 /list approve APP-20", "the application's welcome reached distro-four",
					"-> security@distro-four.example    embargo-notice    encrypted+signed",
					"plan list: distros: not told now", "told 14 days before T0 with [vs]",
					"-> security@distro-five.example    embargo-notice    encrypted+signed \"[vs] [SEC-20",
					"distro-one's acknowledgement of its notice counted", "distro-one's acknowledgement of its [vs] notice counted",
					"-> security@distro-two.example     ack-reminder      encrypted+signed", "distro-two's acknowledgement of the reminder counted",
					"distro-two reminded once, then counted",
					"signed by distro-four's key, does not count; the team copy says it is not signed by distro-two's key on file", "RECIPIENT                     LIST     NOTICE"},
				"kata": {"<- rita@reporter.example           /agree ", "class B1", "announcement      signed           \"KCSN-",
					"nothing went to the distributors for the note", "the reporter gets the impact description to review at triage"},
				"kubeedge": {"plan note: CVSS 9.1 is 7.0 or more: the policy gives the fix an out-of-band release",
					"develop the fix by", "tracking issue, titled with the CVE ID", "at least 7 days, at most 28 days"},
			}[preset] {
				if !strings.Contains(stdout, want) {
					t.Errorf("the %s demo lacks %q", preset, want)
				}
			}
			if preset != "knative" && (strings.Contains(stdout, "distro-four") || strings.Contains(stdout, "[vs]")) {
				t.Errorf("the %s demo shows the knative demo's distributors' steps:\n%s", preset, stdout)
			}
			if strings.Contains(stdout, "security@distro-three.example     ") {
				t.Errorf("the distributor with the expired key received mail:\n%s", stdout)
			}
			if strings.Contains(stdout, "FAIL") {
				t.Errorf("a check failed:\n%s", stdout)
			}
		})
	}
}

// TestDemoProjects runs the demo of two projects in one gateway (Knative
// and Kata, side by side, their lifecycles interleaved on one clock) and
// checks each project's verdict and those between them: own key, own
// address, own case prefix, nothing of one project to another's people,
// the shared distributor's notices apart.
func TestDemoProjects(t *testing.T) {
	for _, args := range [][]string{{"demo", "-projects"}, {"demo", "-preset", "kata,knative"}} {
		t.Run(strings.Join(args[1:], " "), func(t *testing.T) {
			code, stdout, stderr := runCLI(t, nil, args...)
			if code != 0 {
				t.Fatalf("demo exit %d\n%s\n%s", code, stdout, stderr)
			}
			for _, want := range []string{
				"[knative] 1. Rita sends a report", "[kata] 1. Rita sends a report", "[kata] 5a. Rita keeps the final say",
				"[knative] the project's own checks", "[kata] the project's own checks",
				"[KN-20", "[KATA-20", "-> announce@lists.knative.demo.test pre-announcement",
				"each project's mail is signed by its own team key", "each project's mail comes from its own address",
				"no member, team or announcement list of one project receives anything of another",
				"gets each project's notice separately, encrypted to it and signed by that project's key",
				"each project's case references carry its own prefix (", "the process's metrics give each project its own series",
				"All 7 checks between the projects passed.",
			} {
				if !strings.Contains(stdout, want) {
					t.Errorf("the demo of two projects lacks %q", want)
				}
			}
			if strings.Contains(stdout, "FAIL") || strings.Count(stdout, "checks passed.") != 2 {
				t.Errorf("a check failed:\n%s", stdout)
			}
			// The lifecycles run interleaved: each step of one project,
			// then the other's, both cases open at once; Kata's short
			// embargo ends while Knative's still runs.
			first, second := "[knative] ", "[kata] "
			if args[len(args)-1] == "kata,knative" {
				first, second = second, first
			}
			order := []string{first + "1. Rita sends", second + "1. Rita sends", first + "2. Positive hand-off", second + "2. Positive hand-off",
				first + "3. The new lead triages", second + "3. The new lead triages", "[kata] 7. Disclosure time", "[knative] 7. Disclosure time"}
			at := -1
			for _, o := range order {
				i := strings.Index(stdout, o)
				if i < at {
					t.Errorf("%q comes before what precedes it in %q, or is missing:\n%s", o, order, stdout)
					break
				}
				at = i
			}
		})
	}
	for _, args := range [][]string{{"demo", "-preset", "kata,kata"}, {"demo", "-projects", "-preset", "kata"}, {"demo", "-projects", "-keep", t.TempDir()}} {
		if code, _, stderr := runCLI(t, nil, args...); code != 1 || stderr == "" {
			t.Errorf("%v: exit %d, %q", args, code, stderr)
		}
	}
}

func TestDemoKeep(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "kept")
	code, stdout, stderr := runCLI(t, nil, "demo", "-keep", dir)
	if code != 0 {
		t.Fatalf("demo exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, p := range []string{"secgate.toml", "secgate.db", "keys/team.asc", "mail/rita@reporter.example/*.eml",
		"mail/security@distro-one.example/*.eml", "artifacts/CVE-2026-41234.json"} {
		if m, _ := filepath.Glob(filepath.Join(dir, p)); len(m) == 0 {
			t.Errorf("%s not kept", p)
		}
	}
	// The kept configuration is a valid one.
	if _, err := LoadConfig(filepath.Join(dir, "secgate.toml")); err != nil {
		t.Errorf("kept configuration: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "mail", "security@distro-three.example")); err == nil {
		t.Error("the distributor with the expired key has mail")
	}
	// Every kept message opens with gpg as the demo prints it: each
	// participant's secret key is kept.
	if !strings.Contains(stdout, "gpg --pinentry-mode loopback --passphrase") {
		t.Errorf("the demo does not say how to open a kept message:\n%s", stdout)
	}
	for _, who := range []string{"alice@demo.test", "security@distro-one.example", "rita@reporter.example"} {
		g := gpgtest.New(t)
		if r := g.Run(nil, "--pinentry-mode", "loopback", "--passphrase", demoKeyPassphrase, "--import",
			filepath.Join(dir, "demo-secret-keys", strings.ReplaceAll(who, "@", "_at_")+".asc")); r.Err != nil {
			t.Fatalf("import %s's secret key: %v\n%s", who, r.Err, r.Stderr)
		}
		kept, _ := filepath.Glob(filepath.Join(dir, "mail", who, "*.eml"))
		opened := 0
		for _, f := range kept {
			raw, _ := os.ReadFile(f)
			if !bytes.Contains(raw, []byte("multipart/encrypted")) {
				continue
			}
			if r := g.Run(raw, "--pinentry-mode", "loopback", "--passphrase", demoKeyPassphrase, "--decrypt"); r.Err == nil && r.Has("DECRYPTION_OKAY") {
				opened++
			} else {
				t.Errorf("gpg does not open %s as %s: %v\n%s", f, who, r.Err, r.Stderr)
			}
		}
		if opened == 0 {
			t.Errorf("no encrypted message kept for %s", who)
		}
	}
}

func TestDemoBadPreset(t *testing.T) {
	code, _, stderr := runCLI(t, nil, "demo", "-preset", "nope")
	if code != 1 || !strings.Contains(stderr, "-preset") {
		t.Fatalf("demo -preset nope: exit %d, %q", code, stderr)
	}
}

// lockedBuffer is a bytes.Buffer safe for a writer and a reader goroutine.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestDemoServe: with -serve the demo leaves its IMAP server up, and a mail
// client logs in with the printed password and lists the mailboxes.
func TestDemoServe(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out lockedBuffer
	a := &app{stdin: strings.NewReader(""), stdout: &out, stderr: io.Discard, getenv: func(string) string { return "" }}
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"demo", "-serve"}, a) }()
	re := regexp.MustCompile(`IMAP server on (127\.0\.0\.1:\d+)`)
	var addr string
	for deadline := time.Now().Add(60 * time.Second); addr == "" && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			addr = m[1]
		}
		select {
		case code := <-done:
			t.Fatalf("demo ended with %d before serving:\n%s", code, out.String())
		default:
		}
	}
	if addr == "" {
		t.Fatalf("no IMAP address printed:\n%s", out.String())
	}
	c, err := imapclient.DialInsecure(addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login("security@distro-one.example", demoPassword).Wait(); err != nil {
		t.Fatalf("login: %v", err)
	}
	boxes, err := c.List("", "*", nil).Collect()
	if err != nil || len(boxes) == 0 {
		t.Fatalf("list: %v %v", boxes, err)
	}
	st, err := c.Status("INBOX", &imap.StatusOptions{NumMessages: true}).Wait()
	if err != nil || st.NumMessages == nil || *st.NumMessages < 2 {
		t.Fatalf("INBOX of a distributor: %+v %v (want the embargo and pre-release notices)", st, err)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("demo -serve exit %d:\n%s", code, out.String())
	}
}
