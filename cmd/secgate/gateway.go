package main

import (
	"context"
	"crypto/tls"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/secgate/secgate/cases"
	"github.com/secgate/secgate/crypto"
	"github.com/secgate/secgate/distlist"
	"github.com/secgate/secgate/intake"
	"github.com/secgate/secgate/internal/clock"
	"github.com/secgate/secgate/schedule"
	"github.com/secgate/secgate/store"
	"github.com/secgate/secgate/templates"
)

// gateway is secgate assembled: the same parts run under `secgate serve`,
// under `secgate demo` and in the end-to-end benchmark.
type gateway struct {
	cfg   *Config
	name  string // the project's short name (logs, metrics, health)
	clock clock.Clock
	log   *slog.Logger

	db       *store.DB
	teamKey  *crypto.Key
	dir      *distlist.Directory
	outbox   *distlist.Outbox
	tpl      *templates.Set
	workflow *cases.Workflow
	sched    *schedule.Scheduler
	proc     *intake.Processor
	poller   *intake.Poller
	metrics  *metrics
	health   *health
	// pushLn, when set, is the listener for Dovecot's push notifications,
	// bound by serve before anything starts.
	pushLn net.Listener

	events chan struct{} // wakes the alerter: an outbox event was recorded
	// keyLookup finds the keys the weekly refresh brings up to date.
	keyLookup distlist.KeyLookup
	// refreshMu guards lastRefresh, the time of the last refresh ahead of
	// notices (refreshForNotices).
	refreshMu   sync.Mutex
	lastRefresh time.Time
}

// gatewayOptions are what a gateway needs besides its configuration.
type gatewayOptions struct {
	Clock   clock.Clock
	Logger  *slog.Logger
	TeamKey *crypto.Key // unlocked
	IMAPTLS *tls.Config // optional (tests)
	// Metrics is the process's registry, which the gateway's series join
	// labelled with its project; nil: a registry of its own.
	Metrics *prometheus.Registry
	// SharedMailbox: the project reads a mailbox several projects share,
	// through the one poller serve builds from their gateways
	// (sharedPoller); the gateway has no poller of its own.
	SharedMailbox bool
	// KeyLookup finds published keys for [distlist] key_refresh; nil:
	// the Web Key Directory over HTTPS.
	KeyLookup distlist.KeyLookup
	// Shared is what the gateways of one start share (startup.go: the
	// templates, the parsed key files); nil: the gateway reads its own.
	Shared *startShared
}

// openGateway opens the database, loads the directory from the
// configuration and wires every part. It starts nothing; run does.
func openGateway(ctx context.Context, cfg *Config, o gatewayOptions) (*gateway, error) {
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.KeyLookup == nil {
		o.KeyLookup = distlist.WKD{}
	}
	g := &gateway{cfg: cfg, name: cfg.projectName(), clock: o.Clock, log: o.Logger, teamKey: o.TeamKey, events: make(chan struct{}, 1),
		keyLookup: o.KeyLookup}
	ok := false
	defer func() {
		if !ok {
			g.Close()
		}
	}()
	var err error
	if g.db, err = store.Open(ctx, cfg.Gateway.Database); err != nil {
		return nil, err
	}
	rotations, err := readRotations(ctx, g.db.Reader())
	if err != nil {
		return nil, err
	}
	if err := checkRotations(cfg, g.teamKey, rotations); err != nil {
		return nil, err
	}
	if g.teamKey, err = withDataKeys(ctx, g.db, g.teamKey, g.clock.Now(), true); err != nil {
		return nil, err
	}
	if o.Shared != nil {
		g.tpl, err = o.Shared.templates(cfg.Gateway.Templates)
	} else {
		g.tpl, err = templates.Load(cfg.Gateway.Templates)
	}
	if err != nil {
		return nil, err
	}
	project := cfg.project(g.teamKey.Fingerprint())

	g.dir = distlist.NewDirectory(g.db, g.clock, g.log.With("part", "directory"))
	if o.Shared != nil {
		g.dir.ShareKeyFiles(o.Shared.keyFiles)
	}
	dc := cfg.packageDistlist()
	if cfg.SMTP.PasswordFile != "" {
		pw, err := readSecretFile(cfg.SMTP.PasswordFile)
		if err != nil {
			return nil, fmt.Errorf("smtp.password_file: %w", err)
		}
		dc.SMTP.Password = string(pw)
	}
	warnings, err := g.dir.Sync(ctx, dc)
	if err != nil {
		return nil, fmt.Errorf("distlist: %w", err)
	}
	for _, w := range warnings {
		g.log.Warn("directory", "warning", w)
	}
	if g.metrics, err = newMetrics(g, o.Metrics); err != nil {
		return nil, err
	}
	g.health = newHealth(g)
	if g.outbox, err = distlist.NewOutbox(ctx, distlist.OutboxOptions{
		DB: g.db, Directory: g.dir, TeamKey: g.teamKey, Config: dc, Clock: g.clock,
		Logger: g.log.With("part", "outbox"), OnEvent: g.onEvent,
	}); err != nil {
		return nil, err
	}
	if g.workflow, err = cases.New(cases.Options{
		DB: g.db, Directory: g.dir, Outbox: g.outbox, Templates: g.tpl, TeamKey: g.teamKey,
		TeamAddress: dc.From, Project: project, Clock: g.clock, Logger: g.log.With("part", "cases"), Config: cfg.Cases,
	}); err != nil {
		return nil, err
	}
	if g.sched, err = schedule.New(schedule.Options{
		DB: g.db, Directory: g.dir, Outbox: g.outbox, Cases: g.workflow, Templates: g.tpl, Project: project,
		TeamAddress: dc.From, Clock: g.clock, Logger: g.log.With("part", "schedule"), Config: cfg.Schedule,
		BeforeNotices: g.refreshForNotices,
	}); err != nil {
		return nil, err
	}
	g.workflow.SetScheduler(g.sched)
	ic := cfg.packageIntake()
	if g.proc, err = intake.NewStackProcessor(intake.StackOptions{
		Config: ic, DB: g.db, TeamKey: g.teamKey, Directory: g.dir, Outbox: g.outbox, Workflow: g.workflow,
		Templates: g.tpl, Project: project, Self: []string{dc.Bounce}, Clock: g.clock, Logger: g.log.With("part", "intake"),
		EvaluateBy: g.evaluateBy, Previous: inboundPrevious(ctx, g.db, g.teamKey), Acks: ackJudge{g.sched},
	}); err != nil {
		return nil, err
	}
	if !o.SharedMailbox {
		if g.poller, err = intake.NewPoller(ic, g.db, g.teamKey, g.proc, g.clock, g.log.With("part", "imap")); err != nil {
			return nil, err
		}
		g.poller.TLSConfig = o.IMAPTLS
		g.poller.OnConnected = g.imapConnected
	}
	ok = true
	return g, nil
}

// imapConnected records the state of the poller reading the project's
// mailbox (its own, or the shared one) in its metrics and health.
func (g *gateway) imapConnected(up bool) {
	g.metrics.imapConnected(up)
	g.health.imapConnected(up)
}

// run runs the poller (unless the project reads a shared mailbox, whose
// poller serve runs), the outbox, the scheduler and the alerter until ctx
// is done or one of them fails. Each part finishes what it has in flight
// (an SMTP transaction, a job) before it returns.
func (g *gateway) run(ctx context.Context) error {
	// Every part runs short statements and stops at the next one once ctx
	// ends: the driver need not watch ctx for each (store.ShortStatements).
	ctx, cancel := context.WithCancel(store.ShortStatements(ctx))
	defer cancel()
	type part struct {
		name string
		run  func(context.Context) error
	}
	parts := []part{
		{"outbox", g.outbox.Run},
		{"schedule", g.sched.Run},
		{"alerts", g.alerter},
		{"key report", g.keyReporter},
		{"approvals", g.approvalSweeper},
		{"key refresh", g.noticeKeyRefresher},
		{"key lookup", g.keyLooker},
	}
	if g.poller != nil {
		parts = append([]part{{"imap", g.poller.Run}}, parts...)
	}
	switch {
	case g.poller == nil:
	case g.pushLn != nil:
		parts = append(parts, part{"push", func(ctx context.Context) error {
			return serveOn(ctx, "push", g.pushLn, intake.PushHandler(g.poller))
		}})
	case g.cfg.IMAP.PushListen != "":
		addr := g.cfg.IMAP.PushListen
		parts = append(parts, part{"push", func(ctx context.Context) error {
			return serveHTTP(ctx, "push", addr, intake.PushHandler(g.poller))
		}})
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for _, p := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if r := recover(); r != nil {
					g.log.Error("part panicked", "part", p.name, "panic", fmt.Sprint(r))
					mu.Lock()
					errs = append(errs, fmt.Errorf("%s: internal error: %v", p.name, r))
					mu.Unlock()
					cancel()
				}
			}()
			if err := p.run(ctx); err != nil && !errors.Is(err, context.Canceled) {
				mu.Lock()
				errs = append(errs, fmt.Errorf("%s: %w", p.name, err))
				mu.Unlock()
				cancel()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// evaluateBy is when the policy named asks a report received at received
// to be evaluated; zero when it sets no deadline.
func (g *gateway) evaluateBy(policy string, received time.Time) time.Time {
	by, _ := g.sched.Deadlines(policy, received)
	return by
}

// onEvent is called by the outbox after it committed an event. It must not
// block: it wakes the alerter, which reads the event from the database.
func (g *gateway) onEvent(e distlist.Event) {
	g.log.Warn("outbox event", "kind", e.Kind, "row", e.RowID, "case", e.CaseID, "recipient", e.Recipient, "reason", e.Reason)
	select {
	case g.events <- struct{}{}:
	default:
	}
}

// alertRetry is how often the alerter looks for events it could not tell
// (a failed transaction) without being woken. It is on the wall clock: it
// retries a database write, it schedules nothing.
const alertRetry = time.Minute

// alerter tells the case's lead (or the team) about delivery problems to
// people outside the team, from the events the outbox recorded: those not
// yet told at start (the gateway stopped before telling them), then each
// as it comes. Problems with mail to team members are only logged: an
// alert about a failed alert would loop.
func (g *gateway) alerter(ctx context.Context) error {
	t := time.NewTicker(alertRetry)
	defer t.Stop()
	for {
		if err := g.tellEvents(ctx); err != nil && ctx.Err() == nil {
			g.log.Error("alert the team; retrying", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-g.events:
		case <-t.C:
		}
	}
}

// tellEvents alerts the team of every event not yet told, in the
// transaction that marks them told. The events of one notice and kind (a
// fan-out that missed its deadline, say) make one alert naming every
// recipient, not one mail each. An alert that fails is left for the next
// round; the others, older and newer, are told meanwhile.
func (g *gateway) tellEvents(ctx context.Context) error {
	var errs []error
	for after := int64(0); ; {
		evs, err := g.outbox.UntoldEvents(ctx, after, 256)
		if err != nil {
			return errors.Join(append(errs, err)...)
		}
		if len(evs) == 0 {
			return errors.Join(errs...)
		}
		after = evs[len(evs)-1].ID
		type group struct {
			caseID       int64
			kind, notice string
		}
		var order []group
		groups := map[group][]distlist.Event{}
		for _, e := range evs {
			k := group{e.CaseID, e.Kind, e.NoticeID}
			if _, ok := groups[k]; !ok {
				order = append(order, k)
			}
			groups[k] = append(groups[k], e)
		}
		for _, k := range order {
			if err := g.tellGroup(ctx, k.caseID, k.kind, groups[k]); err != nil {
				errs = append(errs, err)
			}
		}
		g.outbox.Kick()
	}
}

// tellGroup marks evs told and alerts the case's lead of those about
// people outside the team, in one transaction. Problems with mail to team
// members are only marked: an alert about a failed alert would loop.
func (g *gateway) tellGroup(ctx context.Context, caseID int64, kind string, evs []distlist.Event) error {
	var outside []distlist.Event
	for _, e := range evs {
		member, err := isMember(ctx, g.dir, e.Recipient)
		if err != nil {
			return err
		}
		if !member {
			outside = append(outside, e)
		}
	}
	return g.db.Tx(ctx, func(tx *sql.Tx) error {
		var told []distlist.Event
		for _, e := range evs {
			ok, err := g.outbox.MarkTold(ctx, tx, e.ID)
			if err != nil {
				return fmt.Errorf("event %d (%s to %s): %w", e.ID, e.Kind, e.Recipient, err)
			}
			if ok && slices.Contains(outside, e) {
				told = append(told, e)
			}
		}
		if len(told) == 0 {
			return nil
		}
		var b strings.Builder
		if len(told) == 1 {
			e := told[0]
			fmt.Fprintf(&b, "Delivery to %s: %s.\nReason: %s\nOutbox row %d; see `secgate outbox --case` for its history.\n",
				e.Recipient, e.Kind, e.Reason, e.RowID)
		} else {
			fmt.Fprintf(&b, "Delivery of one message to %d recipients: %s.\n\n", len(told), kind)
			for _, e := range told {
				fmt.Fprintf(&b, "  %s (outbox row %d): %s\n", e.Recipient, e.RowID, e.Reason)
			}
			b.WriteString("\nSee `secgate outbox --case` for their history.\n")
		}
		subject := "delivery problem: " + kind
		if len(told) > 1 {
			subject = fmt.Sprintf("delivery problem: %s, %d recipients", kind, len(told))
		}
		if err := g.workflow.Alert(ctx, tx, caseID, subject, b.String()); err != nil {
			var to []string
			for _, e := range told {
				to = append(to, e.Recipient)
			}
			return fmt.Errorf("events of %s (%s to %s): %w", told[0].NoticeID, kind, strings.Join(to, ", "), err)
		}
		return nil
	})
}

// keyReportCheck is how often the key reporter looks whether this week's
// report is due.
const keyReportCheck = time.Hour

// keyReporter mails the team the key report (keys unusable or expiring
// within [distlist] key_warning, addresses that bounce, the signed audit
// head for members to keep) once a week: at the first check of each ISO
// week, when there is something to report.
func (g *gateway) keyReporter(ctx context.Context) error {
	for {
		if _, err := g.keyReport(ctx); err != nil && ctx.Err() == nil {
			g.log.Error("key report", "err", err)
		}
		t := g.clock.NewTimer(keyReportCheck)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C():
		}
	}
}

// Keys are refreshed ([distlist] key_refresh) ahead of the notices: every
// noticeRefreshCheck, when a notice to the distributors is due within
// noticeRefreshAhead and the keys were not refreshed for noticeRefreshAge.
const (
	noticeRefreshCheck = time.Hour
	noticeRefreshAhead = 24 * time.Hour
	noticeRefreshAge   = 12 * time.Hour
	// noticeRefreshTimeout bounds a refresh the notices wait for.
	noticeRefreshTimeout = 2 * time.Minute
)

// noticeKeyRefresher refreshes the members' and distributors' keys from
// their Web Key Directories before the notices that go to them: hourly
// it looks whether one is due within a day. A notice due at once (the
// embargo notice of a /disclose) is preceded by the scheduler's own call
// of refreshForNotices.
func (g *gateway) noticeKeyRefresher(ctx context.Context) error {
	for {
		if err := g.refreshIfNoticeDue(ctx); err != nil && ctx.Err() == nil {
			g.log.Error("key refresh", "err", err)
		}
		t := g.clock.NewTimer(noticeRefreshCheck)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C():
		}
	}
}

// refreshIfNoticeDue refreshes the keys when a notice to the distributors
// is due within noticeRefreshAhead.
func (g *gateway) refreshIfNoticeDue(ctx context.Context) error {
	if !g.cfg.packageDistlist().KeyRefresh {
		return nil
	}
	due, err := g.sched.NoticeDue(ctx, g.clock.Now().Add(noticeRefreshAhead))
	if err != nil || !due {
		return err
	}
	return g.refreshForNotices(ctx)
}

// refreshForNotices refreshes the keys ahead of notices to the
// distributors unless they were refreshed within noticeRefreshAge (or
// [distlist] key_refresh is off). What the refresh changed or found wrong
// is told to the team at once: a notice follows. It takes at most
// noticeRefreshTimeout: the notices wait for it.
func (g *gateway) refreshForNotices(ctx context.Context) error {
	if !g.cfg.packageDistlist().KeyRefresh {
		return nil
	}
	g.refreshMu.Lock()
	defer g.refreshMu.Unlock()
	now := g.clock.Now()
	if !g.lastRefresh.IsZero() && now.Sub(g.lastRefresh) < noticeRefreshAge {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, noticeRefreshTimeout)
	defer cancel()
	rs, err := g.dir.RefreshKeys(ctx, g.keyLookup)
	if err != nil {
		return err
	}
	if text := distlist.RefreshReport(rs); text != "" {
		err = g.db.Tx(ctx, func(tx *sql.Tx) error {
			return g.workflow.Alert(ctx, tx, cases.GatewayLog, "Keys refreshed before a notice", "A notice to the distributors is due; the keys were refreshed first."+text)
		})
		if err != nil {
			return err
		}
		g.outbox.Kick()
	}
	g.lastRefresh = now
	return nil
}

// approvalCheck is how often steps waiting for a second member are
// checked for the end of their approval window.
const approvalCheck = time.Minute

// approvalSweeper drops the steps no second member approved in time and
// tells their authors (the two-person rule).
func (g *gateway) approvalSweeper(ctx context.Context) error {
	for {
		if _, err := g.workflow.ExpireApprovals(ctx); err != nil && ctx.Err() == nil {
			g.log.Error("approvals", "err", err)
		}
		t := g.clock.NewTimer(approvalCheck)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C():
		}
	}
}

// keyReport makes this week's key report unless it was made; it reports
// whether a mail was queued.
func (g *gateway) keyReport(ctx context.Context) (bool, error) {
	week := distlist.ReportWeek(g.clock.Now())
	if made, err := g.dir.KeyReportMade(ctx, week); err != nil || made {
		return false, err
	}
	var refreshed []distlist.Refresh
	if g.cfg.packageDistlist().KeyRefresh {
		var err error
		if refreshed, err = g.dir.RefreshKeys(ctx, g.keyLookup); err != nil {
			return false, err
		}
	}
	text, err := g.dir.KeyReport(ctx, g.cfg.packageDistlist().KeyWarning, g.teamKey.Public(), refreshed)
	if err != nil {
		return false, err
	}
	audit, err := keyAuditReport(ctx, g.cfg, g.workflow, g.teamKey.Public())
	if err != nil {
		return false, err
	}
	subject, body, send := keyReportMail(week, text, audit)
	mailed := false
	err = g.db.Tx(ctx, func(tx *sql.Tx) error {
		ok, err := g.dir.MarkKeyReport(ctx, tx, week, send)
		if err != nil || !ok || !send {
			return err
		}
		mailed = true
		return g.workflow.Alert(ctx, tx, cases.GatewayLog, subject, body)
	})
	if err != nil {
		return false, err
	}
	if mailed {
		g.outbox.Kick()
	}
	return mailed, nil
}

// isMember reports whether addr is a team member's.
func isMember(ctx context.Context, dir *distlist.Directory, addr string) (bool, error) {
	_, err := dir.MemberByAddress(ctx, addr)
	if errors.Is(err, distlist.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// Close closes the database.
func (g *gateway) Close() error {
	if g.db == nil {
		return nil
	}
	return g.db.Close()
}
