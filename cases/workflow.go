package cases

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/secgate/secgate/crypto"
	"github.com/secgate/secgate/distlist"
	"github.com/secgate/secgate/internal/clock"
	"github.com/secgate/secgate/store"
	"github.com/secgate/secgate/templates"
)

// Config configures the case workflow.
type Config struct {
	SignatureMaxAge   time.Duration `toml:"signature_max_age" doc:"Oldest signature creation time accepted on a command mail, counted back from now."`
	SignatureMaxSkew  time.Duration `toml:"signature_max_skew" doc:"How far in the future a command signature's creation time may lie (clock skew)."`
	Policy            string        `toml:"policy" deprecated:"schedule.policy" doc:"Deprecated alias of [schedule] policy, which sets the policy of new cases (config check warns; a different value is an error)."`
	AdvisoryPattern   string        `toml:"advisory_pattern" doc:"Regular expression of the project's own advisory IDs accepted by /advisory next to GHSA IDs."`
	AllowFromMismatch bool          `toml:"allow_from_mismatch" doc:"Accept a command mail whose From address is not registered to the member whose key signed it (not recommended)."`
	RequireEncrypted  bool          `toml:"require_encrypted" doc:"Accept only command mail that is signed and then encrypted to the team key (plain PGP/MIME signed mail is refused)."`
	Aliases           []string      `toml:"aliases" doc:"Other addresses of the team that a signed To or Cc of a command mail may name besides the team address."`
	// The two-person rule (approval.go).
	Approvals      int           `toml:"approvals" doc:"The two-person rule: 2 makes the irreversible steps (/publish-now, a plan with force:, /disclose ... no-embargo, moving the disclosure earlier, /list approve, /close invalid or wontfix) wait for a second member's signed /approve REF; 0 or 1: off."`
	ApprovalWindow time.Duration `toml:"approval_window" doc:"How long a step waiting for a second member may be approved; then it is dropped and its author told."`
	BreakGlass     []string      `toml:"break_glass" doc:"Addresses of members who may take an irreversible step alone under the two-person rule, with a line /break-glass REASON in the same signed mail; every member is told at once."`
}

// DefaultConfig returns the defaults: signatures at most 72 hours old and 5
// minutes in the future, the knative policy, advisory IDs like KCSA-2026-001.
func DefaultConfig() Config {
	return Config{
		SignatureMaxAge:  72 * time.Hour,
		SignatureMaxSkew: 5 * time.Minute,
		Policy:           "knative",
		AdvisoryPattern:  DefaultAdvisoryPattern.String(),
		ApprovalWindow:   24 * time.Hour,
	}
}

// WithDefaults fills zero fields from DefaultConfig.
func (c Config) WithDefaults() Config {
	d := DefaultConfig()
	if c.SignatureMaxAge <= 0 {
		c.SignatureMaxAge = d.SignatureMaxAge
	}
	if c.SignatureMaxSkew <= 0 {
		c.SignatureMaxSkew = d.SignatureMaxSkew
	}
	if c.ApprovalWindow <= 0 {
		c.ApprovalWindow = d.ApprovalWindow
	}
	if c.Policy == "" {
		c.Policy = d.Policy
	}
	if c.AdvisoryPattern == "" {
		c.AdvisoryPattern = d.AdvisoryPattern
	}
	return c
}

// Directory is the part of distlist.Directory the workflow uses.
type Directory interface {
	// Team returns the current team members in rota order.
	Team(ctx context.Context) ([]distlist.Member, error)
	List(ctx context.Context, name string) (*distlist.List, error)
	AddRecipient(ctx context.Context, tx *sql.Tx, list string, r distlist.RecipientSpec) ([]string, error)
	RemoveRecipient(ctx context.Context, tx *sql.Tx, list, addr string) error
}

// Outbox is the part of distlist.Outbox the workflow uses.
type Outbox interface {
	Enqueue(ctx context.Context, tx *sql.Tx, m distlist.Mail) ([]distlist.Skipped, error)
	CaseForMessageID(ctx context.Context, msgid string) (caseID int64, ok bool, err error)
}

// DiscloseOptions are the options of /disclose.
type DiscloseOptions struct {
	Force     string // the reason to override the policy, "" for none
	NoEmbargo bool   // plan the public disclosure alone: no notice to the distributors
}

// Scheduler plans and carries out disclosure. Package schedule implements it.
type Scheduler interface {
	Disclose(ctx context.Context, tx *sql.Tx, c *Case, t0 time.Time, o DiscloseOptions, actor string) (plan string, err error)
	NotifyNow(ctx context.Context, tx *sql.Tx, c *Case, force, actor string) error
	PublishNow(ctx context.Context, tx *sql.Tx, c *Case, reason, actor string) error
	// Draft renders template name for c inside tx, as it would be sent
	// now, with what the workflow adds.
	Draft(ctx context.Context, tx *sql.Tx, c *Case, name string, o DraftOptions) (subject, body string, err error)
	// Withdraw ends c's disclosure plan when the case ends as invalid,
	// wontfix or opinion, telling the distributors already notified.
	Withdraw(ctx context.Context, tx *sql.Tx, c *Case, reason, actor string) error
}

// ListNotifier is implemented by a Scheduler whose embargo notices go to
// several lists: /notify LIST adds one to a case and tells it. It returns
// what happens to each list, for the answer ("" when there is one list).
type ListNotifier interface {
	NotifyList(ctx context.Context, tx *sql.Tx, c *Case, list, force, actor string) (string, error)
}

// AtRest encrypts case content for storage. *crypto.Key (the team key)
// implements it.
type AtRest interface {
	EncryptAtRest(plain []byte) ([]byte, error)
	DecryptAtRest(ct []byte) ([]byte, error)
}

// Options builds a Workflow.
type Options struct {
	DB          *store.DB
	Directory   Directory
	Outbox      Outbox
	Templates   *templates.Set    // nil: the built-in fallback texts only
	TeamKey     *crypto.Key       // private team key: encryption at rest unless AtRest is set
	AtRest      AtRest            // optional; default TeamKey
	TeamAddress string            // security@project: From of every mail
	Project     templates.Project // named in texts; CasePrefix ("" is DefaultPrefix) prefixes the references of the cases opened
	Scheduler   Scheduler         // optional at construction; see SetScheduler
	Clock       clock.Clock
	Logger      *slog.Logger
	Config      Config
}

// Workflow runs cases: it opens them, stores their messages, applies signed
// command mail and keeps the audit log.
type Workflow struct {
	db       *store.DB
	dir      Directory
	outbox   Outbox
	tmpl     *templates.Set
	atRest   AtRest
	heads    headSigner // signs the audit heads (audithead.go)
	teamAddr string
	project  templates.Project
	clock    clock.Clock
	log      *slog.Logger
	cfg      Config
	refs     Refs
	parser   Parser

	mu    sync.Mutex
	sched Scheduler
}

// New returns a Workflow. It reads the prefixes of the cases the database
// holds: cases opened under an earlier prefix stay addressable by their
// references.
func New(o Options) (*Workflow, error) {
	if o.DB == nil || o.Directory == nil || o.Outbox == nil {
		return nil, errors.New("cases: DB, Directory and Outbox are required")
	}
	if o.TeamAddress == "" {
		return nil, errors.New("cases: TeamAddress is required")
	}
	at := o.AtRest
	if at == nil {
		if o.TeamKey == nil {
			return nil, errors.New("cases: TeamKey (or AtRest) is required")
		}
		at = o.TeamKey
	}
	cfg := o.Config.WithDefaults()
	adv, err := regexp.Compile(cfg.AdvisoryPattern)
	if err != nil {
		return nil, fmt.Errorf("cases: advisory_pattern: %w", err)
	}
	older, err := storedPrefixes(o.DB)
	if err != nil {
		return nil, err
	}
	refs, err := NewRefs(o.Project.CasePrefix, older...)
	if err != nil {
		return nil, fmt.Errorf("cases: case prefix %w", err)
	}
	w := &Workflow{
		db: o.DB, dir: o.Directory, outbox: o.Outbox, tmpl: o.Templates, atRest: at, heads: headSigner{key: o.TeamKey},
		teamAddr: o.TeamAddress, project: o.Project, clock: o.Clock, log: o.Logger, cfg: cfg,
		refs: refs, parser: Parser{Advisory: adv, Refs: refs}, sched: o.Scheduler,
	}
	w.project.CasePrefix = refs.Prefix()
	if w.clock == nil {
		w.clock = clock.Real{}
	}
	if w.log == nil {
		w.log = slog.New(slog.DiscardHandler)
	}
	if w.project.TeamAddress == "" {
		w.project.TeamAddress = o.TeamAddress
	}
	return w, nil
}

// storedPrefixes returns the prefixes of the cases db holds.
func storedPrefixes(db *store.DB) ([]string, error) {
	rows, err := db.Reader().Query(`SELECT DISTINCT prefix FROM cases ORDER BY prefix`)
	if err != nil {
		return nil, fmt.Errorf("cases: case prefixes: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			return nil, fmt.Errorf("cases: case prefixes: %w", err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cases: case prefixes: %w", err)
	}
	return out, nil
}

// SetScheduler injects the scheduler (it is built after the workflow).
func (w *Workflow) SetScheduler(s Scheduler) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.sched = s
}

func (w *Workflow) scheduler() Scheduler {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.sched
}

// isTeamAddress reports whether addr is the team address or an alias.
func (w *Workflow) isTeamAddress(addr string) bool {
	for _, a := range append([]string{w.teamAddr}, w.cfg.Aliases...) {
		if pa, err := mail.ParseAddress(a); err == nil {
			a = pa.Address
		}
		if strings.EqualFold(a, addr) {
			return true
		}
	}
	return false
}

// kick wakes the outbox and the scheduler after a commit, when they can be
// woken: mail goes out and the jobs the commit added are seen at once, not
// at the next poll.
func (w *Workflow) kick() {
	for _, x := range []any{w.outbox, w.scheduler()} {
		if k, ok := x.(interface{ Kick() }); ok {
			k.Kick()
		}
	}
}
