package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/secgate/secgate/cases"
	"github.com/secgate/secgate/crypto"
	"github.com/secgate/secgate/internal/clock"
	"github.com/secgate/secgate/schedule"
)

// runDemo runs one case through the whole process on an accelerated clock,
// with in-process IMAP and SMTP servers and generated keys, through the same
// gateway that `secgate serve` runs.
func runDemo(ctx context.Context, a *app, c *command, args []string) error {
	fs := c.flagSet(a)
	preset := fs.String("preset", "knative", "policy preset: knative, kata or kubeedge; several, comma-separated (knative,kata): a project each, in one gateway")
	projects := fs.Bool("projects", false, "two projects in one gateway, side by side: -preset knative,kata")
	keep := fs.String("keep", "", "keep the database, the keys and every delivered message (.eml) in this directory")
	serve := fs.Bool("serve", false, "leave the IMAP server up on 127.0.0.1 afterwards, for a mail client")
	verbose := fs.Bool("v", false, "print the gateway's logs")
	if _, err := c.parse(a, fs, args, 0); err != nil {
		return err
	}
	presets := strings.Split(*preset, ",")
	if *projects && *preset == "knative" {
		presets = demoProjectPresets
	}
	for _, p := range presets {
		if _, err := schedule.Preset(p); err != nil {
			return fmt.Errorf("-preset: %w", err)
		}
		if strings.Count(","+*preset+",", ","+p+",") > 1 {
			return fmt.Errorf("-preset: %s twice: each project has a preset of its own", p)
		}
	}
	if *projects && len(presets) < 2 {
		return fmt.Errorf("-projects: name two presets or more (-preset knative,kata), or none")
	}
	several := len(presets) > 1
	if several && (*keep != "" || *serve) {
		return fmt.Errorf("-keep and -serve take one project; not with several presets")
	}
	dir := *keep
	if dir == "" {
		tmp, err := os.MkdirTemp("", "secgate-demo-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	} else if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	log := slog.New(slog.DiscardHandler)
	if *verbose {
		log = a.newLogger("debug")
	}
	if several {
		return runDemoProjects(ctx, a.stdout, dir, presets, log)
	}
	d := &demo{out: a.stdout, dir: dir, preset: *preset, log: log}
	err := d.run(ctx)
	if d.mail != nil && *keep != "" {
		if kerr := d.keepMail(); kerr != nil {
			err = errors.Join(err, kerr)
		}
		if kerr := d.keepSecretKeys(); kerr != nil {
			err = errors.Join(err, kerr)
		}
		fmt.Fprintf(a.stdout, "\nKept in %s: secgate.toml, secgate.db, keys/, mail/<address>/*.eml,\n"+
			"and every participant's secret key in demo-secret-keys/ (made for this demo, locked with %q).\n"+
			"To read a kept message as its recipient would, with gpg (Alice's, say):\n\n"+
			"  export GNUPGHOME=$(mktemp -d)\n"+
			"  gpg --batch --pinentry-mode loopback --passphrase %q --import %s\n"+
			"  gpg --import %s\n"+
			"  gpg --pinentry-mode loopback --passphrase %q --decrypt %s\n",
			dir, demoKeyPassphrase, demoKeyPassphrase, filepath.Join(dir, "demo-secret-keys", "alice_at_demo.test.asc"),
			filepath.Join(dir, "keys", "team.pub.asc"), demoKeyPassphrase, filepath.Join(dir, "mail", "alice@demo.test", "NNN.eml"))
	}
	if d.mail != nil {
		if *serve && err == nil {
			fmt.Fprintf(a.stdout, "\nIMAP server on %s (no TLS). Log in as any address above with password %q,\n"+
				"for example security@demo.test. Press Ctrl-C to stop.\n", d.mail.IMAPAddr, demoPassword)
			<-ctx.Done()
		}
		d.mail.Close()
	}
	return err
}

// demo is one run of the demonstration.
type demo struct {
	out    io.Writer
	dir    string
	preset string
	log    *slog.Logger

	clock  *clock.Fake
	mail   *demoMail
	g      *gateway
	keys   map[string]*crypto.Key // private keys by address
	team   *crypto.Key
	canary string

	// The project's identity: one project (secgate demo) is the Demo
	// project at demo.test; with -projects each is its own (demoproj.go).
	project string                 // [project] name
	domain  string                 // the team's and the members' domain
	tag     string                 // printed before each step ("" with one project)
	prefix  string                 // [project] case_prefix ("": the default)
	paths   string                 // prefix of the paths in the configuration
	cfgFile string                 // where setup writes the configuration ("": DIR/secgate.toml)
	peers   []*demo                // every project of the run (nil: this one alone)
	people  map[string]*crypto.Key // keys of the participants every project shares
	// turns interleaves the projects' lifecycles (demoturns.go; nil: this
	// one alone), index is this project's among them.
	turns *demoTurns
	index int

	printed int // deliveries already printed
	checks  []demoCheck
}

type demoCheck struct {
	what string
	err  error
}

const (
	demoTeam     = "security@demo.test"
	demoReporter = "rita@reporter.example"
	demoAnnounce = "announce@lists.demo.test"
	demoRelease  = "https://git.demo.test/demo/releases/tag/v1.14.2"
)

// demoPerson is a participant of the demo: role is member, reporter,
// distributor (on the embargo list), expired (a distributor whose key has
// expired), and in the knative demo (demo_coord.go) applicant (on no list
// yet) or distros (on the distros list alone).
type demoPerson struct{ name, addr, role string }

var demoPeople = []demoPerson{
	{"Alice", "alice@demo.test", "member"},
	{"Bob", "bob@demo.test", "member"},
	{"Rita Reporter", demoReporter, "reporter"},
	{"Distro One", "security@distro-one.example", "distributor"},
	{"Distro Two", "security@distro-two.example", "distributor"},
	{"Distro Three", "security@distro-three.example", "expired"},
}

func (d *demo) run(ctx context.Context) error {
	start := time.Now().UTC().Truncate(time.Minute)
	d.clock = clock.NewFake(start)
	var err error
	if d.mail, err = startDemoMail(d.clock); err != nil {
		return err
	}
	d.defaults()
	d.mail.user(d.teamAddr()) // the security mailbox exists before the poller logs in
	what := "one report"
	if d.preset == "kata" {
		what = "two reports (an advisory, then a security note)"
	}
	fmt.Fprintf(d.out, "secgate demo: %s through the %s process, simulated time from %s\n\n", what, d.preset, start.Format("2006-01-02 15:04 MST"))

	d.step(d.setupLine())
	cfgPath, err := d.setup(start)
	if err != nil {
		return err
	}
	cfg, err := loadConfig(cfgPath)
	if err != nil {
		return err
	}
	stop, err := d.startGateway(ctx, cfg, nil)
	if err != nil {
		return err
	}
	defer stop()
	c, lead, tl, err := d.lifecycle(ctx, start)
	if err != nil {
		return err
	}
	d.flush()
	return d.summary(ctx, c.Ref, lead, tl)
}

// startGateway opens the project's gateway (its metrics joining reg, when
// set) and runs it; stop stops and closes it.
func (d *demo) startGateway(ctx context.Context, cfg *Config, reg *prometheus.Registry) (stop func(), err error) {
	log := d.log
	if d.tag != "" {
		log = log.With("project", cfg.Name)
	}
	if d.g, err = openGateway(ctx, cfg, gatewayOptions{Clock: d.clock, Logger: log, TeamKey: d.team, Metrics: reg}); err != nil {
		return nil, err
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- d.g.run(rctx) }()
	return func() { cancel(); <-done; d.flush(); d.g.Close() }, nil
}

// lifecycle runs the preset's case lifecycle from start on the project's
// running gateway: the report, the hand-off, triage, the plan, the notices,
// disclosure and what follows. It returns the case, its lead and its plan.
func (d *demo) lifecycle(ctx context.Context, start time.Time) (*cases.Case, string, schedule.Timeline, error) {
	var tl schedule.Timeline
	d.step("1. Rita sends a report, signed and encrypted to the team key, to " + d.teamAddr())
	if err := d.sendReport(ctx, "Webhook leaks tenant secrets", "the webhook endpoint returns other tenants' secrets when the\r\n"+
		"X-Tenant header is repeated. Proof of concept attached.", true); err != nil {
		return nil, "", tl, err
	}
	d.expect(ctx, "the reporter is acknowledged, each member gets a copy", func(ds []delivery) bool {
		return d.count(ds, demoReporter, "ack") >= 1 && d.count(ds, d.member(0), "team-copy") >= 1 &&
			d.count(ds, d.member(1), "team-copy") >= 1
	})
	d.expect(ctx, "the acknowledgement says by when the report is evaluated, and quotes nothing of it", func(ds []delivery) bool {
		policy, err := schedule.Preset(d.preset)
		for _, dl := range ds {
			if s := d.open(dl); dl.To == demoReporter && s.kind == "ack" {
				by := "evaluates the report"
				if err == nil && policy.EvaluationDeadline > 0 {
					by += " by " + d.clock.Now().Add(policy.EvaluationDeadline).UTC().Format("2006-01-02 15:04 UTC")
				}
				return strings.Contains(s.subject, "Your report was received") && strings.Contains(s.text, by) &&
					!strings.Contains(s.subject+s.text, "Webhook") && !strings.Contains(s.subject+s.text, d.canary)
			}
		}
		return false
	})
	d.expect(ctx, "the team gets the weekly key report, naming the expired key", func(ds []delivery) bool {
		for _, dl := range ds {
			if s := d.open(dl); dl.To == d.member(0) && s.encrypted && strings.Contains(s.subject, "Key report") &&
				strings.Contains(s.text, d.keys["security@distro-three.example"].Fingerprint()) {
				return true
			}
		}
		return false
	})
	c, err := d.theCase(ctx, 1)
	if err != nil {
		return nil, "", tl, err
	}
	lead, other := d.leadOf(c)
	fmt.Fprintf(d.out, "   case %s opened, state %s; fix lead from the rota: %s\n", c.Ref, c.State, lead)
	if s := d.deadlines(c); s != "" {
		fmt.Fprintf(d.out, "   %s\n", s)
	}

	d.step(fmt.Sprintf("2. Positive hand-off: %s offers the lead to %s, who accepts", lead, other))
	if err := d.command(ctx, lead, c.Ref, "/lead offer @"+strings.Split(other, "@")[0]); err != nil {
		return nil, "", tl, err
	}
	if err := d.command(ctx, other, c.Ref, "/lead accept"); err != nil {
		return nil, "", tl, err
	}
	lead = other
	d.expect(ctx, "the gateway confirms the hand-off", func([]delivery) bool {
		cc, err := d.g.workflow.Get(ctx, c.Ref)
		return err == nil && cc.Lead == d.keys[lead].Fingerprint()
	})

	t0, err := d.pickT0(start)
	if err != nil {
		return nil, "", tl, err
	}
	d.step("3. The new lead triages by signed command mail")
	var kubeedge []string
	if d.preset == "kubeedge" {
		// The reporter's proof of concept goes with the notices, and
		// the announcement names the release and its binaries.
		kubeedge = []string{"/patch poc.sh", "/release " + demoRelease}
	}
	body := strings.Join(slices.Concat(kubeedge, []string{
		"/status confirmed",
		"/class A",
		"/cvss CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:N",
		"/cve CVE-2026-41234",
		"/advisory DEMO-2026-0001",
		"/affected < 1.14.2",
		"/fixed 1.14.2",
		"/credit Rita Reporter",
		"/title Webhook endpoint discloses other tenants' secrets",
		"/component webhook",
		"/impact An unauthenticated client can read other tenants' secrets through the",
		"webhook endpoint. Upgrade to 1.14.2.",
		"",
		"/mitigation Disable the webhook until you can upgrade.",
		"",
		"/patch https://git.demo.test/demo/commit/4f2a9c1",
		"/draft cve-request-private",
		"/status triaged",
		"/status cve-requested",
		"",
		"Thanks Rita, confirmed on main. Planning the release.",
	}), "\n")
	if err := d.command(ctx, lead, c.Ref, body); err != nil {
		return nil, "", tl, err
	}
	d.expect(ctx, "the lead gets the CVE request drafted from the case, encrypted", func(ds []delivery) bool {
		for _, dl := range ds {
			if s := d.open(dl); dl.To == lead && s.kind == "answer" && s.encrypted &&
				strings.Contains(s.text, "CVE request") && strings.Contains(s.text, "Webhook endpoint discloses") {
				return true
			}
		}
		return false
	})
	if pol, err := d.g.sched.Policy(c.Policy); err == nil && pol.ImpactReview {
		d.expect(ctx, "the reporter gets the impact description to review at triage, encrypted to her key", func(ds []delivery) bool {
			for _, dl := range ds {
				if s := d.open(dl); dl.To == demoReporter && s.encrypted && s.signedOK && strings.Contains(s.subject, "Please review") &&
					strings.Contains(s.text, "other tenants' secrets") && strings.Contains(s.text, "< 1.14.2") {
					return true
				}
			}
			return false
		})
	}
	if d.coord() {
		if err := d.application(ctx, c.Ref); err != nil {
			return nil, "", tl, err
		}
	}
	disclose := "/disclose " + t0.Format("2006-01-02 15:04") + " UTC"
	d.step("4. The lead plans the disclosure; the readiness gate refuses: a distributor's key has expired")
	if err := d.command(ctx, lead, c.Ref, disclose); err != nil {
		return nil, "", tl, err
	}
	d.step("5. The lead plans again, forcing past the expired key with a reason (audited)")
	if err := d.command(ctx, lead, c.Ref, disclose+" force: Distro Three was asked to renew its key"); err != nil {
		return nil, "", tl, err
	}
	if pol, err := d.g.sched.Policy(c.Policy); err == nil && pol.ReporterConsent {
		if err := d.agree(ctx, c.Ref, "5a. Rita keeps the final say (Kata): she is asked to agree to the date, and replies signed"); err != nil {
			return nil, "", tl, err
		}
	}
	d.expect(ctx, "the plan is answered and the embargo notice leaves", func(ds []delivery) bool {
		return d.count(ds, "security@distro-one.example") >= 1 && d.count(ds, "security@distro-two.example") >= 1
	})
	d.expect(ctx, "the embargo notice carries the title, the mitigation and the patch", func(ds []delivery) bool {
		for _, dl := range ds {
			if s := d.open(dl); dl.To == "security@distro-one.example" && s.kind == "embargo-notice" &&
				strings.Contains(s.text, "Title: Webhook endpoint discloses other tenants' secrets") &&
				strings.Contains(s.text, "Disable the webhook until you can upgrade.") && strings.Contains(s.text, "commit/4f2a9c1") {
				return true
			}
		}
		return false
	})
	if kubeedge != nil {
		d.expect(ctx, "the embargo notice carries the reporter's proof of concept, named by /patch", func(ds []delivery) bool {
			for _, dl := range ds {
				if s := d.open(dl); dl.To == "security@distro-one.example" && s.kind == "embargo-notice" && slices.Contains(s.files, "poc.sh") {
					return true
				}
			}
			return false
		})
	}
	tl, _, ok, err := d.g.sched.CurrentPlan(ctx, c.ID)
	if err != nil || !ok {
		return nil, "", tl, fmt.Errorf("demo: no plan for %s: %v", c.Ref, err)
	}
	date := tl.T0.UTC().Format("2006-01-02 15:04 UTC")
	if pol, err := d.g.sched.Policy(c.Policy); err == nil && pol.PreAnnounce {
		d.expect(ctx, "the public list hears the date, and nothing of what it is", func(ds []delivery) bool {
			for _, dl := range ds {
				if s := d.open(dl); dl.To == d.announce() && s.kind == "pre-announcement" && s.signedOK &&
					strings.Contains(s.text, date) && !strings.Contains(s.text, "CVE-2026-41234") && !strings.Contains(s.text, "webhook") {
					return true
				}
			}
			return false
		})
	}
	d.expect(ctx, "the reporter hears the disclosure date, encrypted to her key", func(ds []delivery) bool {
		for _, dl := range ds {
			if s := d.open(dl); dl.To == demoReporter && s.encrypted && s.signedOK && strings.Contains(s.text, date) {
				return true
			}
		}
		return false
	})
	fmt.Fprintf(d.out, "   plan: embargo notice %s, pre-release notice %s, public at %s\n",
		stamp(tl.Notice), stamp(tl.PreRelease), stamp(tl.T0))
	notes := d.planNotes(lead, c.Ref)
	for _, n := range notes {
		fmt.Fprintf(d.out, "   plan note: %s\n", n)
	}
	if pol, err := d.g.sched.Policy(c.Policy); err == nil && pol.OutOfBandFrom > 0 {
		// KubeEdge: critical and high severity fixes get an out-of-band
		// release; the answer to the plan says so.
		cvss := "CVSS " + demoCVSSScore + " is "
		d.expect(ctx, "the plan's answer tells the lead the fix gets an out-of-band release ("+cvss+"high or critical)", func([]delivery) bool {
			for _, n := range notes {
				if strings.HasPrefix(n, cvss) && strings.Contains(n, "out-of-band release") {
					return true
				}
			}
			return false
		})
	}

	if d.coord() {
		if err := d.coordinate(ctx, c, lead, tl); err != nil {
			return nil, "", tl, err
		}
	}
	if !tl.PreRelease.IsZero() {
		d.step("6. Time passes to the 24-hour pre-release notice")
		d.advance(tl.PreRelease)
		d.expect(ctx, "the pre-release notice reaches each valid distributor", func(ds []delivery) bool {
			for _, to := range d.distributors() {
				if d.count(ds, to, "prerelease-notice") == 0 {
					return false
				}
			}
			return true
		})
		what := "the pre-release notice carries the public messaging, with the date and time of the announcement"
		if kubeedge != nil {
			what += " and the release"
		}
		d.expect(ctx, what, func(ds []delivery) bool {
			for _, dl := range ds {
				if s := d.open(dl); dl.To == "security@distro-one.example" && s.kind == "prerelease-notice" &&
					strings.Contains(s.text, date) && strings.Contains(s.text, "----- public announcement -----") &&
					(kubeedge == nil || strings.Contains(s.text, "Release: "+demoRelease)) {
					return true
				}
			}
			return false
		})
	}
	d.step("7. Disclosure time: the signed public announcement and the artifacts")
	d.advance(tl.T0)
	d.expect(ctx, "the announcement reaches the public list", func(ds []delivery) bool {
		return d.count(ds, d.announce(), "announcement") >= 1
	})
	if kubeedge != nil {
		// KubeEdge's announcement: the CVE number, severity, impact and
		// the location of the binaries, by email, in the chat channel and
		// as a tracking issue prefixed with the CVE ID.
		d.expect(ctx, "the announcement gives the CVE, the severity, the impact and the release with its binaries (/release)", func(ds []delivery) bool {
			for _, dl := range ds {
				if s := d.open(dl); dl.To == d.announce() && s.kind == "announcement" && strings.Contains(s.text, "Release and binaries: "+demoRelease) &&
					strings.Contains(s.text, "CVE: CVE-2026-41234") && strings.Contains(s.text, "Severity: CRITICAL") &&
					strings.Contains(s.text, "other tenants' secrets") {
					return true
				}
			}
			return false
		})
		d.expect(ctx, "the chat channel's text and the tracking issue, titled with the CVE ID, were written at T0", func([]delivery) bool {
			dir := d.g.cfg.Schedule.ArtifactsDir
			chat, err1 := os.ReadFile(filepath.Join(dir, "DEMO-2026-0001.chat.txt"))
			issue, err2 := os.ReadFile(filepath.Join(dir, "DEMO-2026-0001.issue.md"))
			return err1 == nil && err2 == nil && strings.Contains(string(chat), "CVE-2026-41234") && strings.Contains(string(chat), demoRelease) &&
				strings.HasPrefix(string(issue), "# CVE-2026-41234: ")
		})
	}
	if !tl.RetroFrom.IsZero() {
		d.step("8. After the release: the retrospective reminder")
		d.advance(tl.RetroFrom.Add(time.Hour))
		d.expect(ctx, "the lead is reminded of the retrospective", func(ds []delivery) bool {
			return d.count(ds, lead, "reminder") >= 1
		})
		if err := d.command(ctx, lead, c.Ref, "/draft retrospective"); err != nil {
			return nil, "", tl, err
		}
		released := "secgate: announced to " // the announcement's step in the case's own history
		d.expect(ctx, "the lead gets the retrospective drafted from the case's own timeline, with no address in it", func(ds []delivery) bool {
			for _, dl := range ds {
				s := d.open(dl)
				_, draft, ok := strings.Cut(s.text, "Retrospective: ")
				if ok && dl.To == lead && s.kind == "answer" && s.encrypted && strings.Contains(draft, "Who was involved") &&
					strings.Contains(draft, "Timeline") && strings.Contains(draft, tl.T0.UTC().Format("2006-01-02 15:04 UTC")+"  "+released) &&
					strings.Contains(draft, "state new -> confirmed") && !strings.Contains(draft, demoReporter) {
					return true
				}
			}
			return false
		})
	}
	if d.coord() {
		if err := d.ackTable(ctx, c); err != nil {
			return nil, "", tl, err
		}
	}
	if d.preset == "kata" {
		n := "8"
		if !tl.RetroFrom.IsZero() {
			n = "9"
		}
		if err := d.securityNote(ctx, n); err != nil {
			return nil, "", tl, err
		}
	}
	return c, lead, tl, nil
}

// demoCVSSScore is the score of the demo's vector (/cvss below).
const demoCVSSScore = "9.1"

// leadOf returns the fix lead of c and the other member.
func (d *demo) leadOf(c *cases.Case) (lead, other string) {
	lead, other = d.member(0), d.member(1)
	if c.Lead == d.keys[other].Fingerprint() {
		lead, other = other, lead
	}
	return lead, other
}

// deadlines says by when the policy wants the report evaluated and the fix
// done, from the case's reception.
func (d *demo) deadlines(c *cases.Case) string {
	pol, err := d.g.sched.Policy(c.Policy)
	if err != nil {
		return ""
	}
	evaluateBy, fixBy := d.g.sched.Deadlines(c.Policy, c.Received)
	var parts []string
	if !evaluateBy.IsZero() {
		parts = append(parts, fmt.Sprintf("evaluate the report by %s (%s)", stamp(evaluateBy), schedule.FormatDuration(pol.EvaluationDeadline)))
	}
	if !fixBy.IsZero() {
		what := pol.FixDeadlineWhat
		if what == "" {
			what = "fix it"
		}
		parts = append(parts, fmt.Sprintf("%s by %s (%s)", what, stamp(fixBy), schedule.FormatDuration(pol.FixDeadline)))
	}
	if len(parts) == 0 {
		return ""
	}
	return fmt.Sprintf("the %s policy: %s; the lead is reminded before", pol.Name, strings.Join(parts, ", "))
}

// planNotes returns the notes of the last plan answered to lead for ref
// ("Note: ..." lines), but for the keys a forced plan went past.
func (d *demo) planNotes(lead, ref string) []string {
	var notes []string
	for _, l := range strings.Split(d.planAnswer(lead, ref), "\n") {
		if n, ok := strings.CutPrefix(strings.TrimSpace(l), "Note: "); ok && !strings.HasPrefix(n, "forced despite") {
			notes = append(notes, n)
		}
	}
	return notes
}

// planAnswer returns the text of the last plan answered to lead for ref
// ("" when there is none).
func (d *demo) planAnswer(lead, ref string) string {
	ds := d.deliveries()
	for i := len(ds) - 1; i >= 0; i-- {
		if s := d.open(ds[i]); ds[i].To == lead && s.kind == "answer" && strings.Contains(s.text, "Disclosure plan for "+ref) {
			return s.text
		}
	}
	return ""
}

// step prints what happens next, after the deliveries of the step before.
func (d *demo) step(s string) {
	d.flush()
	if d.turns != nil {
		d.turns.yield(d.index) // the other projects' step, then this one's
		d.flush()
	}
	fmt.Fprintf(d.out, "\n%s%s\n", d.tag, s)
}

// expect waits (in real time, at most 15 s) until pred holds and records it
// as a check.
func (d *demo) expect(ctx context.Context, what string, pred func([]delivery) bool) {
	wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	var err error
	for !pred(d.deliveries()) {
		d.g.outbox.Kick()
		d.g.sched.Kick()
		select {
		case <-d.mail.notify:
		case <-time.After(20 * time.Millisecond):
		case <-wctx.Done():
			err = fmt.Errorf("did not happen within 15 s")
		}
		if err != nil {
			break
		}
	}
	// Let mail caused by the same step arrive before printing.
	d.settle(ctx)
	d.checks = append(d.checks, demoCheck{what, err})
}

// advance moves the simulated clock and wakes the scheduler.
func (d *demo) advance(t time.Time) {
	d.flush()
	if d.turns != nil {
		fmt.Fprintf(d.out, "   ... %swaits for %s\n", d.tag, stamp(t))
		d.turns.wait(d.index, t) // the clock moves when every project waits
		d.flush()
		t = d.clock.Now()
	}
	fmt.Fprintf(d.out, "   ... %sclock advanced to %s\n", d.tag, stamp(t))
	d.clock.Set(t)
	d.g.sched.Kick()
}

// flush prints the deliveries not printed yet.
func (d *demo) flush() {
	ds := d.deliveries()
	for _, dl := range ds[d.printed:] {
		fmt.Fprintf(d.out, "   %s%s  -> %-31s %s\n", d.tag, stamp(dl.At), dl.To, d.describe(dl))
	}
	d.printed = len(ds)
}

func stamp(t time.Time) string { return t.UTC().Format("Jan 02 15:04 UTC") }

// setup generates the keys and writes the configuration; it returns its path.
func (d *demo) setup(start time.Time) (string, error) {
	keyDir := filepath.Join(d.dir, "keys")
	if err := os.MkdirAll(keyDir, 0o700); err != nil {
		return "", err
	}
	d.keys = make(map[string]*crypto.Key)
	var err error
	if d.team, err = crypto.GenerateKey(d.project+" Security Team", d.teamAddr(), crypto.GenerateOptions{Created: start.Add(-time.Hour)}); err != nil {
		return "", err
	}
	d.keys[d.teamAddr()] = d.team
	var b [8]byte
	rand.Read(b[:])
	d.canary = "CANARY-" + hex.EncodeToString(b[:])
	write := func(name, text string) error { return os.WriteFile(filepath.Join(d.dir, name), []byte(text), 0o600) }
	teamArm, err := d.team.ArmorPrivate([]byte("demo passphrase"))
	if err != nil {
		return "", err
	}
	for name, text := range map[string]string{
		"keys/team.asc": teamArm, "keys/passphrase": "demo passphrase\n", "password": demoPassword + "\n",
	} {
		if err := write(name, text); err != nil {
			return "", err
		}
	}
	// One project sets [metrics] in its own file; with several, the top
	// file does (it is the process's).
	metrics := "\n[metrics]\nlisten = \"\"\n"
	if d.tag != "" {
		metrics = ""
	}
	prefix := ""
	if d.prefix != "" {
		prefix = fmt.Sprintf("case_prefix = %q\n", d.prefix)
	}
	var members, dists, distros strings.Builder
	for i, p := range d.cast() {
		o := crypto.GenerateOptions{Created: start.Add(-time.Hour)}
		if p.role == "expired" {
			o = crypto.GenerateOptions{Created: start.AddDate(-1, -1, 0), Lifetime: 365 * 24 * time.Hour}
		}
		addr := d.addr(p.addr)
		k := d.people[addr] // a participant every project shares
		if k == nil {
			if k, err = crypto.GenerateKey(p.name, addr, o); err != nil {
				return "", err
			}
			if p.role != "member" {
				d.people[addr] = k
			}
		}
		d.keys[addr] = k
		pub, err := k.ArmorPublic()
		if err != nil {
			return "", err
		}
		file := fmt.Sprintf("keys/%s.asc", strings.ReplaceAll(addr, "@", "_at_"))
		if err := write(file, pub); err != nil {
			return "", err
		}
		file = d.paths + file
		switch p.role {
		case "member":
			fmt.Fprintf(&members, "[[distlist.member]]\nname = %q\naddress = %q\nkey_file = %q\nrole = \"lead\"\nrota = %d\n\n", p.name, addr, file, i+1)
		case "distributor", "expired":
			fmt.Fprintf(&dists, "[[distlist.list.recipient]]\nname = %q\naddress = %q\nkey_file = %q\n\n", p.name, addr, file)
		}
		if d.onDistros(p) {
			fmt.Fprintf(&distros, "\n[[distlist.list.recipient]]\nname = %q\naddress = %q\nkey_file = %q\n", p.name, addr, file)
		}
		role, note := d.describePerson(p)
		fmt.Fprintf(d.out, "   %-14s %-31s %s%s\n", role, addr, k.Fingerprint(), note)
	}
	fmt.Fprintf(d.out, "   %-14s %-31s %s\n", "team key", d.teamAddr(), d.team.Fingerprint())
	p := d.paths
	cfg := fmt.Sprintf(`# secgate demo configuration (generated)
[gateway]
domain = %q
team = %q
data_dir = "%s."
database = "%ssecgate.db"

[team_key]
path = "%skeys/team.asc"
passphrase_file = "%skeys/passphrase"

[imap]
address = %q
user = %q
password_file = "%spassword"
tls = "plain-loopback"

[smtp]
address = %q
user = %q
password_file = "%spassword"
tls = "plain-loopback"
parallel = 2
%s
[project]
name = %q
announce_list = %q
advisory_prefix = "DEMO"
%s
[intake]
backoff_min = "50ms"
backoff_max = "1s"

[schedule]
policy = %q
embargo_list = "embargo"
public_lists = ["announce"]
artifacts_dir = "%sartifacts"

[schedule.artifacts]
vendor = "Demo"
product = "demo-server"
ecosystem = "Go"
package = "demo.example/server"
repo = "https://demo.example/server"
cna_org_id = "00000000-0000-4000-8000-000000000000"
cna_short_name = "demo"
advisory_url = "https://demo.example/advisories/"

%s[[distlist.list]]
name = "embargo"
kind = "embargo"
%s
%s[[distlist.list]]
name = "announce"
kind = "public"

[[distlist.list.recipient]]
name = "Announcements"
address = %q
`, d.domain, d.teamAddr(), p, p, p, p, d.mail.IMAPAddr, d.teamAddr(), p, d.mail.SMTPAddr, d.teamAddr(), p, metrics, d.project, d.announce(),
		prefix, d.preset, p, members.String(), d.applications(), dists.String(), d.announce())
	cfg += d.distrosConfig(distros.String())
	if err := os.MkdirAll(filepath.Join(d.dir, "artifacts"), 0o700); err != nil {
		return "", err
	}
	cfgFile := d.cfgFile
	if cfgFile == "" {
		cfgFile = filepath.Join(d.dir, "secgate.toml")
	}
	return cfgFile, os.WriteFile(cfgFile, []byte(cfg), 0o600)
}

// pickT0 returns the first disclosure time the policy allows: a date at the
// policy's disclosure hour (16:00 UTC when it has none).
func (d *demo) pickT0(now time.Time) (time.Time, error) {
	p, err := d.g.sched.Policy(d.preset)
	if err != nil {
		return time.Time{}, err
	}
	day := now.Truncate(24 * time.Hour)
	for i := 1; i <= 60; i++ {
		for _, h := range []int{0, 16} {
			t0 := day.AddDate(0, 0, i).Add(time.Duration(h) * time.Hour)
			if t0.After(now) && len(p.Violations(now.Add(time.Hour), t0)) == 0 {
				return t0, nil
			}
		}
	}
	return time.Time{}, fmt.Errorf("demo: no disclosure date within 60 days fits the %s policy", d.preset)
}

// sendReport submits a report of Rita's: signed by her key (attached),
// encrypted to the team key, carrying the run's canary in its text, with
// her proof of concept when poc is set.
func (d *demo) sendReport(ctx context.Context, subject, what string, poc bool) error {
	rita := d.keys[demoReporter]
	keyPart, err := keyAttachment(rita, "rita.asc")
	if err != nil {
		return err
	}
	text := "Hello security team,\r\n\r\n" + what + "\r\n" + d.canary + "\r\n\r\nRita\r\n"
	entity := "Content-Type: multipart/mixed; boundary=\"r\"\r\n\r\n--r\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + text
	if poc {
		entity += "\r\n--r\r\nContent-Type: text/x-shellscript; name=\"poc.sh\"\r\nContent-Disposition: attachment; filename=\"poc.sh\"\r\n\r\n" +
			"curl -H 'X-Tenant: a' -H 'X-Tenant: b' https://demo.example/webhook\r\n"
	}
	entity += keyPart
	return d.submit(ctx, demoReporter, subject, entity, rita)
}

// keyAttachment is the last part of a multipart/mixed entity of boundary
// "r": k's public key, attached as name, and the closing boundary.
func keyAttachment(k *crypto.Key, name string) (string, error) {
	pub, err := k.ArmorPublic()
	if err != nil {
		return "", err
	}
	return "\r\n--r\r\nContent-Type: application/pgp-keys\r\nContent-Disposition: attachment; filename=\"" + name + "\"\r\n\r\n" +
		strings.ReplaceAll(pub, "\n", "\r\n") + "\r\n--r--\r\n", nil
}

// agreeLine is the line of the consent proposal that the reporter replies with.
var agreeLine = regexp.MustCompile(`(?m)^\s+(/agree [0-9A-Z]{4}-[0-9A-Z]{4})\s*$`)

// agree has Rita agree to the planned date of case ref: she reads the
// proposal (encrypted to her key), and replies with its /agree line,
// signed. step, when set, is printed first.
func (d *demo) agree(ctx context.Context, ref, step string) error {
	if step != "" {
		d.step(step)
	}
	var line string
	d.expect(ctx, "the reporter is asked to agree to the date of "+ref+", encrypted to her key, with a code", func(ds []delivery) bool {
		for _, dl := range ds {
			if s := d.open(dl); dl.To == demoReporter && s.encrypted && s.signedOK && strings.Contains(s.subject, "["+ref+"] Do you agree") {
				if m := agreeLine.FindStringSubmatch(s.text); m != nil {
					line = m[1]
					return true
				}
			}
		}
		return false
	})
	if line == "" {
		return fmt.Errorf("demo: no consent proposal to %s", demoReporter)
	}
	d.flush()
	fmt.Fprintf(d.out, "   %s  <- %-31s %s\n", stamp(d.clock.Now()), demoReporter, line)
	entity := "Content-Type: text/plain; charset=utf-8\r\n\r\nFine with me.\r\n\r\n" + line + "\r\n\r\nRita\r\n"
	if err := d.submit(ctx, demoReporter, "Re: ["+ref+"] Do you agree to the disclosure date?", entity, d.keys[demoReporter]); err != nil {
		return err
	}
	d.expect(ctx, "the lead is told that the reporter agreed", func(ds []delivery) bool {
		for _, dl := range ds {
			if s := d.open(dl); s.encrypted && strings.Contains(s.subject, "["+ref+"] Reporter agreed") {
				return true
			}
		}
		return false
	})
	d.clock.Advance(time.Minute)
	return nil
}

// command sends a team member's signed and encrypted command mail.
func (d *demo) command(ctx context.Context, from, ref, body string) error {
	entity := "Content-Type: text/plain; charset=utf-8\r\n\r\n" + strings.ReplaceAll(body, "\n", "\r\n") + "\r\n"
	d.flush()
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, "/") {
			fmt.Fprintf(d.out, "   %s  <- %-31s %s\n", stamp(d.clock.Now()), from, line)
		}
	}
	before := d.count(d.deliveries(), from, "answer")
	if err := d.submit(ctx, from, "Re: ["+ref+"] commands", entity, d.keys[from]); err != nil {
		return err
	}
	d.expect(ctx, "the command mail from "+from+" is answered", func(ds []delivery) bool { return d.count(ds, from, "answer") > before })
	d.clock.Advance(time.Minute)
	return nil
}

// submit signs entity with key, seals it for the team key and delivers it
// to the team mailbox as from.
func (d *demo) submit(ctx context.Context, from, subject, entity string, key *crypto.Key) error {
	_, err := d.submitIn(ctx, from, subject, "", entity, key)
	return err
}

// submitIn is submit with header lines of the outer header section
// (thread, say: In-Reply-To and References, each line ending in CRLF); it
// returns the mail's Message-ID, without <>.
func (d *demo) submitIn(ctx context.Context, from, subject, thread, entity string, key *crypto.Key) (string, error) {
	now := d.clock.Now()
	signed, err := key.Sign(crypto.Content{Subject: subject, From: from, Entity: []byte(entity)}, now)
	if err != nil {
		return "", err
	}
	sealed, err := signed.SealFor(d.team.Public(), now)
	if err != nil {
		return "", err
	}
	var b [8]byte
	rand.Read(b[:])
	id := hex.EncodeToString(b[:]) + "@" + strings.Split(from, "@")[1]
	raw := append([]byte(fmt.Sprintf("From: <%s>\r\nTo: <%s>\r\nSubject: ...\r\nDate: %s\r\nMessage-ID: <%s>\r\n%sMIME-Version: 1.0\r\n",
		from, d.teamAddr(), now.Format(time.RFC1123Z), id, thread)), sealed...)
	// The outside world's mail server delivers it into the team mailbox;
	// only the gateway's own mail goes through SMTP (and its guard).
	return id, d.mail.deliver(from, d.teamAddr(), raw)
}

// theCase returns the newest case of the run, which must be its n-th.
func (d *demo) theCase(ctx context.Context, n int) (*cases.Case, error) {
	cs, err := d.g.workflow.List(ctx, cases.ListOptions{})
	if err != nil {
		return nil, err
	}
	if len(cs) != n {
		return nil, fmt.Errorf("demo: %d cases open, want %d", len(cs), n)
	}
	return d.g.workflow.Get(ctx, cs[0].Ref) // newest first
}
