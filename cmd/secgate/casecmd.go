package main

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"

	"github.com/secgate/secgate/cases"
	"github.com/secgate/secgate/crypto"
	"github.com/secgate/secgate/distlist"
	"github.com/secgate/secgate/schedule"
	"github.com/secgate/secgate/store"
	"github.com/secgate/secgate/templates"
)

// view is the database opened by a command that reads or makes a small
// operator edit. It holds the unlocked team key only when the command
// needs it (loadTeamKey); otherwise nothing in it can decrypt case content.
type view struct {
	cfg *Config
	db  *store.DB
	key *crypto.Key // unlocked team key; nil unless asked for
	dir *distlist.Directory
}

// openView opens the database of a project's configuration without
// creating it. withKey also unlocks the team key (passphrase needed).
func openView(ctx context.Context, a *app, cfg *Config, withKey bool) (*view, error) {
	if _, err := os.Stat(cfg.Gateway.Database); err != nil {
		return nil, fmt.Errorf("gateway.database: %w (run secgate init first)", err)
	}
	var err error
	v := &view{cfg: cfg}
	if withKey {
		if v.key, err = loadTeamKey(cfg, a.getenv); err != nil {
			return nil, err
		}
	}
	if v.db, err = store.Open(ctx, cfg.Gateway.Database); err != nil {
		return nil, err
	}
	if v.key != nil {
		if v.key, err = viewDataKeys(ctx, cfg, v.db, v.key); err != nil {
			v.db.Close()
			return nil, err
		}
	}
	v.dir = distlist.NewDirectory(v.db, nil, nil)
	return v, nil
}

func (v *view) Close() error { return v.db.Close() }

// workflow returns the case workflow over the view. Without the team key it
// can read metadata only: content comes back as sealedText.
func (v *view) workflow() (*cases.Workflow, error) {
	o := cases.Options{
		DB: v.db, Directory: v.dir, Outbox: readOnlyOutbox{}, TeamAddress: v.cfg.Gateway.Team, Config: v.cfg.Cases,
	}
	if v.key != nil {
		o.TeamKey = v.key
	} else {
		o.AtRest = sealedAtRest{}
	}
	return cases.New(o)
}

// outbox returns the outbox over the view, for reading rows and for retry
// and fail, which sign nothing: without the unlocked key it is built with
// the public half of the team key.
func (v *view) outbox(ctx context.Context) (*distlist.Outbox, error) {
	key := v.key
	if key == nil {
		var err error
		if key, err = teamPublicKey(v.cfg); err != nil {
			return nil, err
		}
	}
	return distlist.NewOutbox(ctx, distlist.OutboxOptions{DB: v.db, Directory: v.dir, TeamKey: key, Config: v.cfg.packageDistlist()})
}

// teamPublicKey reads the public half of the team key from its (locked)
// key file, without the passphrase.
func teamPublicKey(cfg *Config) (*crypto.Key, error) {
	data, err := os.ReadFile(cfg.TeamKey.Path)
	if err != nil {
		return nil, fmt.Errorf("team_key.path: %w", err)
	}
	el, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(data))
	if err != nil || len(el) != 1 {
		return nil, fmt.Errorf("team_key.path %s: not one armored OpenPGP key (%v)", cfg.TeamKey.Path, err)
	}
	var buf bytes.Buffer
	w, err := armor.Encode(&buf, openpgp.PublicKeyType, nil)
	if err != nil {
		return nil, err
	}
	if err := el[0].Serialize(w); err != nil {
		return nil, fmt.Errorf("team_key.path %s: %w", cfg.TeamKey.Path, err)
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	k, err := crypto.ParsePublicKey(buf.Bytes())
	if err != nil {
		return nil, fmt.Errorf("team_key.path %s: %w", cfg.TeamKey.Path, err)
	}
	return k, nil
}

// sealedText is what content stored encrypted at rest reads as without
// the team key. It is JSON null so that the workflow's message decoding
// yields empty fields; the commands never show it.
const sealedText = "null"

// sealedAtRest stands in for the team key in commands that only read
// metadata: it cannot decrypt, and refuses to encrypt.
type sealedAtRest struct{}

func (sealedAtRest) EncryptAtRest([]byte) ([]byte, error) {
	return nil, errors.New("read-only view: the team key is not loaded")
}

func (sealedAtRest) DecryptAtRest([]byte) ([]byte, error) { return []byte(sealedText), nil }

// readOnlyOutbox stands in for the outbox of a workflow that only reads.
type readOnlyOutbox struct{}

func (readOnlyOutbox) Enqueue(context.Context, *sql.Tx, distlist.Mail) ([]distlist.Skipped, error) {
	return nil, errors.New("read-only view: the outbox is not open")
}

func (readOnlyOutbox) Withdraw(context.Context, *sql.Tx, int64, []string, string) (int64, error) {
	return 0, errors.New("read-only view: the outbox is not open")
}

func (readOnlyOutbox) Deadline(context.Context, *sql.Tx, int64, []string, time.Time) (int64, error) {
	return 0, errors.New("read-only view: the outbox is not open")
}

func (readOnlyOutbox) CaseForMessageID(context.Context, string) (int64, bool, error) {
	return 0, false, nil
}

// timeFormat is how commands print times for people (always UTC).
const timeFormat = "2006-01-02 15:04 UTC"

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(timeFormat)
}

// secondFormat is how the case and outbox commands print times: to the
// second, since the steps of a timeline and the attempts of a delivery
// are often minutes or seconds apart.
const secondFormat = "2006-01-02 15:04:05 UTC"

func fmtSecond(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(secondFormat)
}

// jsonTime is a time in JSON output: RFC 3339 in UTC, null when unset.
func jsonTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func newTable(w io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(w, 0, 0, 2, ' ', 0) }

// memberNames maps team key fingerprints to "Name <address>".
func memberNames(ctx context.Context, dir *distlist.Directory) map[string]string {
	names := map[string]string{}
	team, err := dir.Team(ctx)
	if err != nil {
		return names
	}
	for _, m := range team {
		names[strings.ToUpper(m.Fingerprint)] = m.Name
	}
	return names
}

// who names a fingerprint by its member, or shortens it.
func who(names map[string]string, fpr string) string {
	if fpr == "" {
		return "-"
	}
	if n, ok := names[strings.ToUpper(fpr)]; ok && n != "" {
		return n
	}
	if len(fpr) > 16 {
		return fpr[len(fpr)-16:]
	}
	return fpr
}

// caseJSON is a case in JSON output, without its encrypted content.
type caseJSON struct {
	Project       string         `json:"project,omitempty"` // with several projects
	Ref           string         `json:"ref"`
	State         string         `json:"state"`
	Class         string         `json:"class,omitempty"`
	CVSSVector    string         `json:"cvss_vector,omitempty"`
	CVSSScore     float64        `json:"cvss_score,omitempty"`
	Severity      string         `json:"severity,omitempty"`
	CVE           string         `json:"cve,omitempty"`
	Advisory      string         `json:"advisory,omitempty"`
	Affected      string         `json:"affected,omitempty"`
	Fixed         string         `json:"fixed,omitempty"`
	Credit        string         `json:"credit,omitempty"`
	CreditConsent string         `json:"credit_consent,omitempty"`
	Reporter      string         `json:"reporter"`
	ReporterKey   bool           `json:"reporter_key"`
	Lead          string         `json:"lead,omitempty"`
	LeadOffer     string         `json:"lead_offer,omitempty"`
	Team          []string       `json:"team"`
	Policy        string         `json:"policy,omitempty"`
	CloseReason   string         `json:"close_reason,omitempty"`
	Received      *time.Time     `json:"received"`
	Created       *time.Time     `json:"created"`
	Updated       *time.Time     `json:"updated"`
	DiscloseAt    *time.Time     `json:"disclose_at"`
	Impact        *string        `json:"impact,omitempty"`  // only with --text
	Terms         *string        `json:"terms,omitempty"`   // only with --text
	Details       *cases.Details `json:"details,omitempty"` // only with --text
}

func toCaseJSON(c *cases.Case) caseJSON {
	team := c.Team
	if team == nil {
		team = []string{}
	}
	return caseJSON{
		Ref: c.Ref, State: string(c.State), Class: c.Class, CVSSVector: c.CVSSVector, CVSSScore: c.CVSSScore,
		Severity: c.Severity, CVE: c.CVE, Advisory: c.Advisory, Affected: c.Affected, Fixed: c.Fixed,
		Credit: c.Credit, CreditConsent: c.CreditConsent, Reporter: c.ReporterAddr, ReporterKey: c.ReporterKey != "",
		Lead: c.Lead, LeadOffer: c.LeadOffer, Team: team, Policy: c.Policy, CloseReason: c.CloseReason,
		Received: jsonTime(c.Received), Created: jsonTime(c.Created), Updated: jsonTime(c.Updated), DiscloseAt: jsonTime(c.DiscloseAt),
	}
}

func runCaseList(ctx context.Context, a *app, c *command, args []string) error {
	fs := c.flagSet(a)
	sel := configFlag(fs)
	asJSON := jsonFlag(fs)
	states := fs.String("state", "", "only cases in these `STATES` (comma-separated)")
	open := fs.Bool("open", false, "only cases that have not ended")
	arch := archiveFlag(fs)
	if _, err := c.parse(a, fs, args, 0); err != nil {
		return err
	}
	// A list shows no encrypted content: the sealed fields stay closed;
	// the table reads only the fields it shows.
	opts := cases.ListOptions{Open: *open, Sealed: true, Brief: !*asJSON}
	for _, s := range strings.Split(*states, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		st, ok := cases.ParseState(s)
		if !ok {
			return fmt.Errorf("-state: unknown state %q (one of %s)", s, stateNames())
		}
		opts.States = append(opts.States, st)
	}
	projects, err := sel.projects()
	if err != nil {
		return err
	}
	// With several projects, every project's cases, each row naming its
	// project.
	several := len(projects) > 1
	type row struct {
		project string
		names   map[string]string
		cs      *cases.Case
	}
	var rows []row
	for _, cfg := range projects {
		err := func() error {
			if *arch && several && !fileExists(archiveFile(cfg.Gateway.Database)) {
				return nil // this project archived nothing yet
			}
			cfg, err := archived(cfg, *arch)
			if err != nil {
				return err
			}
			v, err := openView(ctx, a, cfg, false)
			if err != nil {
				return err
			}
			defer v.Close()
			w, err := v.workflow()
			if err != nil {
				return err
			}
			list, err := w.List(ctx, opts)
			if err != nil {
				return err
			}
			names := memberNames(ctx, v.dir)
			for _, cs := range list {
				rows = append(rows, row{cfg.Name, names, cs})
			}
			return nil
		}()
		if err != nil {
			return inSeveral(several, cfg, err)
		}
	}
	if *asJSON {
		out := make([]caseJSON, 0, len(rows))
		for _, r := range rows {
			cj := toCaseJSON(r.cs)
			if several {
				cj.Project = r.project
			}
			out = append(out, cj)
		}
		return a.printJSON(out)
	}
	if len(rows) == 0 {
		fmt.Fprintln(a.stdout, "no cases")
		return nil
	}
	tw := newTable(a.stdout)
	head := "REF\tSTATE\tSEVERITY\tCVE\tLEAD\tRECEIVED\tDISCLOSE"
	if several {
		head = "PROJECT\t" + head
	}
	fmt.Fprintln(tw, head)
	for _, r := range rows {
		cs := r.cs
		sev := dash(cs.Severity)
		if cs.CVSSScore > 0 {
			sev = fmt.Sprintf("%s %.1f", cs.Severity, cs.CVSSScore)
		}
		if several {
			fmt.Fprintf(tw, "%s\t", r.project)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", cs.Ref, cs.State, sev, dash(cs.CVE), who(r.names, cs.Lead),
			fmtSecond(cs.Received), fmtSecond(cs.DiscloseAt))
	}
	return tw.Flush()
}

func stateNames() string {
	var s []string
	for _, st := range cases.States {
		s = append(s, string(st))
	}
	return strings.Join(s, ", ")
}

// messageJSON is a case message in JSON output.
type messageJSON struct {
	ID          int64      `json:"id"`
	Kind        string     `json:"kind"`
	Author      string     `json:"author"`
	MessageID   string     `json:"message_id,omitempty"`
	Encrypted   bool       `json:"encrypted"`
	Received    *time.Time `json:"received"`
	Attachments int        `json:"attachments"`
	Subject     *string    `json:"subject,omitempty"` // only with --text
	Text        *string    `json:"text,omitempty"`    // only with --text
	Files       []string   `json:"files,omitempty"`   // only with --text
}

// auditJSON is an audit event in JSON output.
type auditJSON struct {
	Seq    int64      `json:"seq"`
	At     *time.Time `json:"at"`
	Actor  string     `json:"actor"`
	Action string     `json:"action"`
	Detail string     `json:"detail,omitempty"`
	Source string     `json:"source,omitempty"`
	Hash   string     `json:"hash"`
}

// planJSON is a case's current disclosure plan in JSON output.
type planJSON struct {
	Policy    string     `json:"policy"`
	T0        *time.Time `json:"t0"`
	Published *time.Time `json:"published"` // null until the announcement went out
	NoEmbargo bool       `json:"no_embargo"`
	Forced    string     `json:"forced,omitempty"` // the reason given to override the policy
}

// stepJSON is a step of a case's disclosure timeline in JSON output.
type stepJSON struct {
	Job      int64          `json:"job,omitempty"` // none for a pre-announcement
	Kind     string         `json:"kind"`
	Step     string         `json:"step"`
	Audience []string       `json:"audience"`
	Due      *time.Time     `json:"due"`
	State    string         `json:"state"` // planned, done, skipped, cancelled, failed, missed
	Result   string         `json:"result,omitempty"`
	Finished *time.Time     `json:"finished"`
	Mail     []deliveryJSON `json:"mail"`
}

// deliveryJSON is a recipient's delivery of a step's mail in JSON output.
type deliveryJSON struct {
	Row         int64      `json:"row"`
	Kind        string     `json:"kind"`
	Audience    string     `json:"audience"`
	Recipient   string     `json:"recipient"`
	State       string     `json:"state"` // queued, sending, sent, deferred, failed, missed, withdrawn, bounced
	At          *time.Time `json:"at"`    // the time of that state
	Sent        *time.Time `json:"sent"`  // when the server answered 250; null if none did
	Attempts    int        `json:"attempts"`
	NextAttempt *time.Time `json:"next_attempt,omitempty"`
	Code        int        `json:"code,omitempty"`
	Reply       string     `json:"reply,omitempty"`
}

func toStepJSON(st schedule.Step) stepJSON {
	sj := stepJSON{Job: st.Job, Kind: st.Kind, Step: st.What, Audience: st.Audience, Due: jsonTime(st.Due), State: st.State,
		Result: st.Result, Finished: jsonTime(st.Finished), Mail: []deliveryJSON{}}
	if sj.Audience == nil {
		sj.Audience = []string{}
	}
	for _, m := range st.Mail {
		dj := deliveryJSON{Row: m.ID, Kind: m.Kind, Audience: m.Audience, Recipient: m.Recipient, State: m.Outcome,
			At: jsonTime(m.At()), Sent: jsonTime(m.Sent), Attempts: m.Attempts, Code: m.LastCode, Reply: m.LastReply}
		if stillToSend(m.State) {
			dj.NextAttempt = jsonTime(m.NextAttempt)
		}
		sj.Mail = append(sj.Mail, dj)
	}
	return sj
}

type caseShowJSON struct {
	Case     caseJSON      `json:"case"`
	Messages []messageJSON `json:"messages"`
	// Plan is the current disclosure plan, null when there is none;
	// Steps are the timeline's steps, past and planned.
	Plan  *planJSON  `json:"plan"`
	Steps []stepJSON `json:"steps"`
	// Acks is each recipient's copy of each notice that asks to be
	// acknowledged (none: left out).
	Acks  []ackJSON   `json:"acks,omitempty"`
	Audit []auditJSON `json:"audit"`
	// AuditVerified is true when the case's hash chain holds and the
	// whole audit log verifies against the newest signed head (AuditHead,
	// null when there is none); AuditError says what does not hold.
	AuditVerified bool           `json:"audit_verified"`
	AuditError    string         `json:"audit_error,omitempty"`
	AuditHead     *auditHeadJSON `json:"audit_head"`
}

func runCaseShow(ctx context.Context, a *app, c *command, args []string) error {
	fs := c.flagSet(a)
	sel := configFlag(fs)
	asJSON := jsonFlag(fs)
	text := fs.Bool("text", false, "decrypt and show the report text, messages and impact (needs the team key passphrase)")
	arch := archiveFlag(fs)
	pos, err := c.parse(a, fs, args, 1)
	if err != nil {
		return err
	}
	// With several projects the case's reference finds its project.
	cfg, err := sel.forCase(pos[0])
	if err != nil {
		return err
	}
	acfg, err := archived(cfg, *arch)
	if err != nil {
		return err
	}
	several := sel.several()
	v, err := openView(ctx, a, acfg, *text)
	if err != nil {
		return err
	}
	defer v.Close()
	w, err := v.workflow()
	if err != nil {
		return err
	}
	cs, err := w.Get(ctx, strings.ToUpper(pos[0]))
	if errors.Is(err, cases.ErrNotFound) {
		return noCase(ctx, w, pos[0])
	}
	if err != nil {
		return err
	}
	msgs, err := w.Messages(ctx, cs.ID)
	if err != nil {
		return err
	}
	events, err := w.AuditLog(ctx, cs.ID)
	if err != nil {
		return err
	}
	teamKey, err := teamVerifierOf(ctx, a, cfg, v)
	if err != nil {
		return err
	}
	chk, err := w.VerifyCaseAudit(ctx, teamKey, cs.ID)
	if err != nil {
		return err
	}
	sched, err := v.scheduler()
	if err != nil {
		return err
	}
	steps, err := sched.Steps(ctx, cs)
	if err != nil {
		return err
	}
	plan, published, planned, err := sched.CurrentPlan(ctx, cs.ID)
	if err != nil {
		return err
	}
	acks, err := sched.Acks(ctx, cs.ID)
	if err != nil {
		return err
	}
	// verr is this case's chain; lerrs are what else does not hold in the
	// log: another chain, the signed head, events it does not cover.
	verr := chk.Chain(cs.ID).Err
	var lerrs []error
	for _, e := range chk.Errs() {
		if e != verr {
			lerrs = append(lerrs, e)
		}
	}
	auditErr := func() error {
		if verr != nil {
			return fmt.Errorf("audit chain of %s does not verify", cs.Ref)
		}
		if len(lerrs) > 0 {
			return errAuditLog
		}
		return nil
	}

	if *asJSON {
		out := caseShowJSON{Case: toCaseJSON(cs), Messages: []messageJSON{}, Steps: []stepJSON{}, Audit: []auditJSON{}, AuditVerified: chk.Err() == nil}
		if several {
			out.Case.Project = cfg.Name
		}
		if planned {
			out.Plan = &planJSON{Policy: plan.Policy, T0: jsonTime(plan.T0), Published: jsonTime(published), NoEmbargo: plan.NoEmbargo,
				Forced: plan.Forced}
		}
		for _, st := range steps {
			out.Steps = append(out.Steps, toStepJSON(st))
		}
		out.Acks = toAckJSON(acks)
		if err := chk.Err(); err != nil {
			out.AuditError = oneLine(err)
		}
		if chk.Head != nil {
			hj := toAuditHeadJSON(*chk.Head, "")
			out.AuditHead = &hj
		}
		if *text {
			out.Case.Impact, out.Case.Terms, out.Case.Details = &cs.Impact, &cs.Terms, &cs.Details
		}
		for _, m := range msgs {
			mj := messageJSON{ID: m.ID, Kind: m.Kind, Author: m.Author, MessageID: m.MessageID, Encrypted: m.Encrypted,
				Received: jsonTime(m.Received), Attachments: len(m.Attachments)}
			if *text {
				mj.Subject, mj.Text = &m.Subject, &m.Text
				for _, at := range m.Attachments {
					mj.Files = append(mj.Files, at.Filename)
				}
			}
			out.Messages = append(out.Messages, mj)
		}
		for _, e := range events {
			out.Audit = append(out.Audit, auditJSON{Seq: e.Seq, At: jsonTime(e.At), Actor: e.Actor, Action: e.Action,
				Detail: e.Detail, Source: e.Source, Hash: e.Hash})
		}
		if err := a.printJSON(out); err != nil {
			return err
		}
		return auditErr()
	}

	names := memberNames(ctx, v.dir)
	out := a.stdout
	field := func(k, v string) { fmt.Fprintf(out, "%-15s %s\n", k+":", v) }
	withName := func(fpr string) string {
		if fpr == "" {
			return "-"
		}
		if n := who(names, fpr); n != fpr && !strings.HasSuffix(fpr, n) {
			return n + " (" + fpr + ")"
		}
		return fpr
	}
	fmt.Fprintf(out, "%s\n", cs.Ref)
	if several {
		field("project", fmt.Sprintf("%s (%s)", cfg.Name, cfg.Gateway.Team))
	}
	field("state", string(cs.State))
	field("policy", dash(cs.Policy))
	field("class", dash(cs.Class))
	if cs.CVSSVector != "" {
		field("cvss", fmt.Sprintf("%.1f %s %s", cs.CVSSScore, cs.Severity, cs.CVSSVector))
	} else {
		field("cvss", "-")
	}
	field("cve", dash(cs.CVE))
	field("advisory", dash(cs.Advisory))
	field("affected", dash(cs.Affected))
	field("fixed", dash(cs.Fixed))
	credit := dash(cs.Credit)
	if cs.Credit != "" {
		// The acknowledgement asks every reporter; "" is no answer recorded.
		credit += " (consent: " + map[string]string{"": "no answer recorded yet", "yes": "yes", "no": "no"}[cs.CreditConsent] + ")"
	}
	field("credit", credit)
	rk := "no key"
	if cs.ReporterKey != "" {
		rk = "key on file"
	}
	field("reporter", fmt.Sprintf("%s (%s)", dash(cs.ReporterAddr), rk))
	lead := withName(cs.Lead)
	if cs.LeadOffer != "" {
		lead += ", offered to " + withName(cs.LeadOffer)
	}
	if cs.LeadReleased {
		lead += ", released"
	}
	field("lead", lead)
	var team []string
	for _, f := range cs.Team {
		team = append(team, who(names, f))
	}
	field("team", dash(strings.Join(team, ", ")))
	field("received", fmtSecond(cs.Received))
	field("updated", fmtSecond(cs.Updated))
	field("disclose at", fmtSecond(cs.DiscloseAt))
	if cs.CloseReason != "" {
		field("close reason", cs.CloseReason)
	}
	if *text {
		d := cs.Details
		for _, kv := range [][2]string{{"title", d.Title}, {"component", d.Component}, {"patches", strings.Join(d.Patches, ", ")},
			{"patch files", strings.Join(d.PatchFiles, ", ")}, {"references", strings.Join(d.References, ", ")}} {
			if kv[1] != "" {
				field(kv[0], kv[1])
			}
		}
		if cs.Impact != "" {
			fmt.Fprintf(out, "\nimpact:\n%s\n", indent(cs.Impact))
		}
		if d.Mitigation != "" {
			fmt.Fprintf(out, "\nmitigation:\n%s\n", indent(d.Mitigation))
		}
		if cs.Terms != "" {
			fmt.Fprintf(out, "\nreporter's terms:\n%s\n", indent(cs.Terms))
		}
	} else {
		if cs.Impact != "" {
			field("impact", "(encrypted; --text shows it)")
		}
		if cs.Terms != "" {
			field("terms", "(reporter's disclosure terms, encrypted; --text shows them)")
		}
		var details bool
		if err := v.db.Reader().QueryRowContext(ctx, `SELECT details_enc IS NOT NULL FROM cases WHERE id = ?`, cs.ID).Scan(&details); err != nil {
			return err
		}
		if details {
			field("details", "(title, component, mitigation, patches, references: encrypted; --text shows them)")
		}
	}

	if err := printLeaks(ctx, out, w, cs.ID, *text, withName); err != nil {
		return err
	}
	fmt.Fprintf(out, "\nmessages (%d):\n", len(msgs))
	tw := newTable(out)
	if len(msgs) > 0 {
		// ARRIVED is how the mail came: every text is encrypted at rest.
		fmt.Fprintln(tw, "  ID\tRECEIVED\tKIND\tFROM\tARRIVED\tATTACHMENTS")
	}
	for _, m := range msgs {
		arrived := "in clear"
		if m.Encrypted {
			arrived = "encrypted"
		}
		author := m.Author
		if !strings.Contains(author, "@") {
			author = who(names, author)
		}
		fmt.Fprintf(tw, "  #%d\t%s\t%s\t%s\t%s\t%d\n", m.ID, fmtSecond(m.Received), m.Kind, author, arrived, len(m.Attachments))
	}
	tw.Flush()
	if *text {
		for _, m := range msgs {
			fmt.Fprintf(out, "\n--- message #%d (%s) from %s\nSubject: %s\n\n%s\n", m.ID, m.Kind, m.Author, m.Subject, strings.TrimRight(m.Text, "\n"))
			for _, at := range m.Attachments {
				fmt.Fprintf(out, "[attachment %s, %s, %d bytes]\n", at.Filename, at.ContentType, len(at.Data))
			}
		}
	} else if len(msgs) > 0 {
		fmt.Fprintf(out, "  (texts are encrypted at rest; --text decrypts them with the team key)\n")
	}

	fmt.Fprintln(out)
	printSteps(out, steps, plan, published, planned)
	printAcks(out, acks)

	fmt.Fprintf(out, "\naudit events:\n")
	tw = newTable(out)
	if len(events) > 0 {
		fmt.Fprintln(tw, "  TIME\tACTOR\tACTION\tDETAIL")
	}
	for _, e := range events {
		actor := e.Actor
		if actor != cases.ActorGateway && !strings.Contains(actor, ":") {
			actor = who(names, actor)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", fmtSecond(e.At), actor, e.Action, e.Detail)
	}
	tw.Flush()
	if verr != nil {
		fmt.Fprintf(out, "\naudit chain: BROKEN: %s\n", oneLine(verr))
	} else {
		fmt.Fprintf(out, "\naudit chain: verified (%s)\n", templates.Count(len(events), "event"))
	}
	switch {
	case len(lerrs) > 0:
		fmt.Fprintf(out, "audit log:   NOT VERIFIED: %s\n", oneLine(errors.Join(lerrs...)))
	case verr == nil && chk.Head == nil:
		fmt.Fprintf(out, "audit log:   %s\n", verifiedAgainst(chk))
	case verr == nil:
		fmt.Fprintf(out, "audit log:   verified against the signed head of %s, %s\n", fmtSecond(chk.Head.Head.At), templates.Count(int(chk.Head.Head.Events), "event"))
	}
	return auditErr()
}

// scheduler returns the disclosure timeline over the view, to read: it
// sends and renders nothing, so it is built with the built-in texts (an
// operator's broken override does not hide a timeline).
func (v *view) scheduler() (*schedule.Scheduler, error) {
	set, err := templates.Load("")
	if err != nil {
		return nil, err
	}
	return schedule.New(schedule.Options{DB: v.db, Directory: v.dir, Outbox: readOnlyOutbox{}, Templates: set,
		TeamAddress: v.cfg.Gateway.Team, Config: v.cfg.Schedule})
}

// printSteps prints a case's disclosure timeline: each step, past and
// planned, with the time it was or is due, who it is for, its state and
// what it did; below each step that sent mail, each recipient's delivery
// with its own time (the server's 250 for mail sent).
func printSteps(out io.Writer, steps []schedule.Step, plan schedule.Timeline, published time.Time, planned bool) {
	switch {
	case planned:
		head := fmt.Sprintf("policy %s, T0 %s", plan.Policy, fmtSecond(plan.T0))
		if plan.NoEmbargo {
			head += ", no embargo"
		}
		if !published.IsZero() {
			head += ", published " + fmtSecond(published)
		}
		fmt.Fprintf(out, "disclosure timeline (%s):\n", head)
	case len(steps) > 0:
		fmt.Fprintf(out, "disclosure timeline (no plan now: the disclosure was withdrawn):\n")
	default:
		fmt.Fprintf(out, "disclosure timeline: nothing planned (/disclose plans it)\n")
		return
	}
	tw := newTable(out)
	fmt.Fprintln(tw, "  WHEN\tSTEP\tAUDIENCE\tSTATE\tDETAIL")
	for _, st := range steps {
		detail := st.Result
		if st.State == schedule.StepDone && st.Finished.Sub(st.Due) >= time.Second {
			detail = "ran " + fmtSecond(st.Finished) + ": " + detail
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", fmtSecond(st.Due), st.What, dash(strings.Join(st.Audience, ", ")), st.State, dash(detail))
		for _, m := range st.Mail {
			fmt.Fprintf(tw, "  %s\t  %s\t%s\t%s\t%s\n", fmtSecond(m.At()), m.Recipient, m.Audience, m.Outcome, deliveryDetail(m.Delivery))
		}
	}
	tw.Flush()
	if planned && plan.Forced != "" {
		fmt.Fprintf(out, "  the plan overrides the policy: %s\n", plan.Forced)
	}
}

// deliveryDetail says what became of a delivery: its outbox row (for
// secgate outbox show) and the server's last reply, or when it is tried
// next.
func deliveryDetail(d distlist.Delivery) string {
	s := fmt.Sprintf("row %d", d.ID)
	reply := shorten(lastReply(d.Row), 160)
	switch {
	case d.Outcome == distlist.StateBounced && !d.Sent.IsZero():
		s += ": sent " + fmtSecond(d.Sent) + ", then " + reply
	case stillToSend(d.State):
		if reply != "" {
			s += ": " + reply + ";"
		}
		s += " next attempt " + fmtSecond(d.NextAttempt)
	case reply != "":
		s += ": " + reply
	}
	return s
}

// stillToSend reports whether an outbox row in state is still to be sent.
func stillToSend(state string) bool {
	switch state {
	case distlist.StateQueued, distlist.StateDeferred, distlist.StateSending:
		return true
	}
	return false
}

func indent(s string) string {
	return "  " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n  ")
}
