package cases

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/secgate/secgate/crypto"
	"github.com/secgate/secgate/distlist"
	"github.com/secgate/secgate/store"
	"github.com/secgate/secgate/templates"
)

// Mail kinds of applications (/apply LIST) and of the texts to a
// distributor about their own entry.
const (
	MailApplication = "application" // to the team: an application, encrypted to each member
	MailApplicant   = "applicant"   // to an applicant or distributor: about their own application or entry
)

// Application states.
const (
	AppPending  = "pending"
	AppApproved = "approved"
	AppDenied   = "denied"
)

// ApplicationMail is a mail that applies to an embargo list, as intake
// hands it to ReceiveApplication.
type ApplicationMail struct {
	InboundID int64
	MessageID string
	From      string // the applicant's address (the From)
	List      string
	Text      string   // the rationale: the text after the /apply line, secret key blocks left out
	Keys      [][]byte // the public keys that came with it (attached, in its text, its Autocrypt header), in order
	SecretKey bool     // it carried a secret key (never kept as a key)
	Encrypted bool
	Signer    string // the fingerprint of the key whose signature verified, "" when none
	Received  time.Time
}

// ApplicationResult is what became of an application.
type ApplicationResult struct {
	Ref     string      // APP-YYYY-NNNN when it was taken
	Refused string      // why it was not taken, for the applicant
	Key     *crypto.Key // the applicant's key, when it can be encrypted to now
	Armored string      // Key, armored
}

// Application is an application as the operator's tools show it.
type Application struct {
	ID          int64
	Ref         string
	List        string
	Address     string
	Fingerprint string
	State       string
	Received    time.Time
	Decided     time.Time
	DecidedBy   string
}

// applicationDirectory is what applications and suspensions need of the
// directory beyond Directory; *distlist.Directory has it.
type applicationDirectory interface {
	Applications(ctx context.Context, tx *sql.Tx, name string) (distlist.ApplicationRules, error)
	CheckKey(armored []byte, opts distlist.ImportOptions) (*crypto.Key, []string, error)
	Suspend(ctx context.Context, tx *sql.Tx, addr, reason, actor string) (int64, error)
	Reinstate(ctx context.Context, tx *sql.Tx, addr string) error
}

func (w *Workflow) appDir() (applicationDirectory, error) {
	d, ok := w.dir.(applicationDirectory)
	if !ok {
		return nil, errors.New("applications and suspensions are not available on this gateway")
	}
	return d, nil
}

// sealedApplication is what is kept of an application encrypted at rest.
type sealedApplication struct {
	Text string `json:"text"`
	Key  string `json:"key"`
}

// ReceiveApplication takes an application in tx: it checks the list and
// the key, stores the application encrypted at rest under a new reference,
// audits it and sends it to every member, encrypted to each, with the
// list's criteria as a checklist. Nothing is ever approved here. An
// application that is not taken (a secret key, no key or none carrying the
// address, a list that takes none, one pending already) is audited and
// its reason returned for the applicant; the team hears of a secret key.
func (w *Workflow) ReceiveApplication(ctx context.Context, tx *sql.Tx, a ApplicationMail) (ApplicationResult, error) {
	dir, err := w.appDir()
	if err != nil {
		return ApplicationResult{}, err
	}
	from, err := distlist.CanonicalAddress(a.From)
	if err != nil {
		return ApplicationResult{Refused: "the From address is not usable"}, nil
	}
	a.From = from
	d := templates.Data{Project: w.project, Now: w.now()}
	d.Application = templates.ApplicationData{List: a.List, Address: from, Encrypted: a.Encrypted, Signed: a.Signer,
		Text: a.Text, Token: templates.NewUntrustedToken(), SecretKey: a.SecretKey}
	refuse := func(why string, tellTeam bool) (ApplicationResult, error) {
		if err := w.Audit(ctx, tx, GatewayLog, ActorApplicant+from, "application-refused",
			fmt.Sprintf("application to %q not taken: %s", short(a.List), why), a.MessageID); err != nil {
			return ApplicationResult{}, err
		}
		if tellTeam {
			if err := w.RecordUntrusted(ctx, tx, GatewayLog, a.Text); err != nil {
				return ApplicationResult{}, err
			}
			d.Application.Refused = why
			if err := w.applicationToTeam(ctx, tx, d, fmt.Sprintf("refused-%d", a.InboundID)); err != nil {
				return ApplicationResult{}, err
			}
		}
		return ApplicationResult{Refused: why}, nil
	}
	if a.SecretKey {
		return refuse("it carried a SECRET key, which we never keep; send only your public key", true)
	}
	rules, err := dir.Applications(ctx, tx, a.List)
	if errors.Is(err, distlist.ErrNotFound) || err == nil && !rules.Open {
		return refuse(fmt.Sprintf("%q is not a list that takes applications by mail", short(a.List)), false)
	}
	if err != nil {
		return ApplicationResult{}, fmt.Errorf("cases: application: %w", err)
	}
	d.Application.Criteria = rules.Criteria
	if on, err := w.onList(ctx, a.List, from); err != nil {
		return ApplicationResult{}, err
	} else if on {
		return refuse("this address is on the list already; to change its key, write to the team", false)
	}
	if len(a.Keys) == 0 {
		return refuse("no OpenPGP public key came with it: attach your public key, or send it in your Autocrypt header", false)
	}
	var key *crypto.Key
	why := ""
	for _, k := range a.Keys {
		got, _, err := dir.CheckKey(k, distlist.ImportOptions{Address: from})
		if errors.Is(err, distlist.ErrSecretKey) {
			d.Application.SecretKey = true
			return refuse("it carried a SECRET key, which we never keep; send only your public key", true)
		}
		if err == nil {
			key = got
			break
		}
		if errors.Is(err, distlist.ErrAddressMismatch) {
			why = "the key that came with it does not carry the address " + from + " among its user IDs"
		} else if why == "" {
			why = "the key that came with it could not be read as an OpenPGP public key"
		}
	}
	if key == nil {
		return refuse(why, false)
	}
	var pending string
	err = tx.QueryRowContext(ctx, `SELECT ref FROM application WHERE list = ? AND address = ? AND state = 'pending'`, a.List, from).Scan(&pending)
	if err == nil {
		return refuse(fmt.Sprintf("an application of yours to %q waits already as %s: one at a time", a.List, pending), false)
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return ApplicationResult{}, fmt.Errorf("cases: application: %w", err)
	}
	armored, err := key.ArmorPublic()
	if err != nil {
		return ApplicationResult{}, fmt.Errorf("cases: application key: %w", err)
	}
	plain, err := json.Marshal(sealedApplication{Text: a.Text, Key: armored})
	if err != nil {
		return ApplicationResult{}, err
	}
	sealed, err := w.atRest.EncryptAtRest(plain)
	if err != nil {
		return ApplicationResult{}, fmt.Errorf("cases: seal application: %w", err)
	}
	year := a.Received.UTC().Year()
	if a.Received.IsZero() {
		year = d.Now.Year()
	}
	var seq int
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(seq), 0) + 1 FROM application WHERE year = ?`, year).Scan(&seq); err != nil {
		return ApplicationResult{}, fmt.Errorf("cases: application number: %w", err)
	}
	ref := fmt.Sprintf("APP-%d-%04d", year, seq)
	if _, err := tx.ExecContext(ctx, `INSERT INTO application (ref, year, seq, list, address, fingerprint, state, sealed, inbound_id, message_id, received)
		VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?)`, ref, year, seq, a.List, from, key.Fingerprint(), sealed,
		a.InboundID, a.MessageID, store.Millis(d.Now)); err != nil {
		return ApplicationResult{}, fmt.Errorf("cases: store application %s: %w", ref, err)
	}
	if err := w.Audit(ctx, tx, GatewayLog, ActorApplicant+from, "application",
		fmt.Sprintf("%s: %s applies to %s with key %s", ref, from, a.List, key.Fingerprint()), a.MessageID); err != nil {
		return ApplicationResult{}, err
	}
	// No line of the rationale the team is shown ever runs as a command,
	// however a member's client quotes it.
	if err := w.RecordUntrusted(ctx, tx, GatewayLog, a.Text); err != nil {
		return ApplicationResult{}, err
	}
	keyData(&d.Application, key, d.Now)
	d.Application.Ref = ref
	if err := w.applicationToTeam(ctx, tx, d, ref); err != nil {
		return ApplicationResult{}, err
	}
	res := ApplicationResult{Ref: ref}
	if key.Check(d.Now) == nil {
		res.Key, res.Armored = key, armored
	}
	return res, nil
}

// ActorApplicant prefixes the address of an applicant in the audit log.
const ActorApplicant = "applicant:"

// keyData fills the key's part of an application's text.
func keyData(a *templates.ApplicationData, k *crypto.Key, now time.Time) {
	a.Fingerprint, a.UserIDs = k.Fingerprint(), k.Emails()
	if t, ok := k.Expires(); ok {
		a.Expires = t
	}
	if err := k.Check(now); err != nil {
		a.KeyProblem = err.Error()
	}
}

// applicationToTeam sends text "application" to every member, encrypted
// to each alone.
func (w *Workflow) applicationToTeam(ctx context.Context, tx *sql.Tx, d templates.Data, tag string) error {
	team, err := w.dir.Team(ctx)
	if err != nil {
		return fmt.Errorf("cases: application: %w", err)
	}
	subj, body, err := w.render(templates.Application, d)
	if err != nil {
		return err
	}
	var to []distlist.Recipient
	for _, m := range team {
		to = append(to, recipient(m))
	}
	sk, err := w.enqueue(ctx, tx, outMail{kind: MailApplication, caseID: GatewayLog, notice: "application-" + tag,
		subject: subj, body: body, encrypt: true, to: to, auto: true})
	if err != nil {
		return err
	}
	if len(sk) > 0 {
		w.log.WarnContext(ctx, "application not sent to some members", "application", tag, "skipped", skippedList(sk))
	}
	return nil
}

// loadApplication reads application ref in tx with its sealed part.
func (w *Workflow) loadApplication(ctx context.Context, tx *sql.Tx, ref string) (Application, sealedApplication, error) {
	var a Application
	var sealed []byte
	var received, decided int64
	err := tx.QueryRowContext(ctx, `SELECT id, ref, list, address, fingerprint, state, sealed, received, decided, decided_by
		FROM application WHERE ref = ?`, strings.ToUpper(ref)).Scan(&a.ID, &a.Ref, &a.List, &a.Address, &a.Fingerprint, &a.State,
		&sealed, &received, &decided, &a.DecidedBy)
	if errors.Is(err, sql.ErrNoRows) {
		return a, sealedApplication{}, fmt.Errorf("there is no application %s", short(ref))
	}
	if err != nil {
		return a, sealedApplication{}, internalErr(err)
	}
	a.Received, a.Decided = store.Time(received), store.Time(decided)
	var s sealedApplication
	plain, err := w.atRest.DecryptAtRest(sealed)
	if err != nil {
		return a, s, internalErr(fmt.Errorf("cases: application %s: %w", a.Ref, err))
	}
	if err := json.Unmarshal(plain, &s); err != nil {
		return a, s, internalErr(fmt.Errorf("cases: application %s: %w", a.Ref, err))
	}
	return a, s, nil
}

// Applications lists the applications, newest first (state "" for all).
func (w *Workflow) Applications(ctx context.Context, state string) ([]Application, error) {
	rows, err := w.db.Reader().QueryContext(ctx, `SELECT id, ref, list, address, fingerprint, state, received, decided, decided_by
		FROM application WHERE ?1 = '' OR state = ?1 ORDER BY id DESC`, state)
	if err != nil {
		return nil, fmt.Errorf("cases: applications: %w", err)
	}
	defer rows.Close()
	var out []Application
	for rows.Next() {
		var a Application
		var received, decided int64
		if err := rows.Scan(&a.ID, &a.Ref, &a.List, &a.Address, &a.Fingerprint, &a.State, &received, &decided, &a.DecidedBy); err != nil {
			return nil, fmt.Errorf("cases: applications: %w", err)
		}
		a.Received, a.Decided = store.Time(received), store.Time(decided)
		out = append(out, a)
	}
	return out, rows.Err()
}

// decide approves or denies application ref (/list approve, /list deny).
func (s *session) decide(ctx context.Context, cmd *Command) error {
	approve := cmd.Args[0] == "approve"
	a, sa, err := s.w.loadApplication(ctx, s.tx, cmd.Args[1])
	if err != nil {
		return err
	}
	if a.State != AppPending {
		return fmt.Errorf("%s was %s already", a.Ref, a.State)
	}
	dir, err := s.w.appDir()
	if err != nil {
		return err
	}
	key, _, err := dir.CheckKey([]byte(sa.Key), distlist.ImportOptions{Address: a.Address})
	if err != nil && approve {
		return fmt.Errorf("%s: the applicant's key does not pass the import checks: %v", a.Ref, err)
	}
	usable := key != nil && key.Check(s.now) == nil
	d := s.w.data(nil, s.team)
	d.Recipient = templates.Person{Address: a.Address}
	d.Application = templates.ApplicationData{Ref: a.Ref, List: a.List, Address: a.Address, Fingerprint: a.Fingerprint}
	reason := ""
	if approve {
		if !usable {
			return fmt.Errorf("%s: the applicant's key %s cannot be encrypted to now, so the welcome could not go: ask them to apply again with a usable key", a.Ref, a.Fingerprint)
		}
		if on, err := s.w.onList(ctx, a.List, a.Address); err != nil {
			return internalErr(err)
		} else if on {
			return fmt.Errorf("%s: %s is on %s already (added since it applied); deny the application, or remove the entry first", a.Ref, a.Address, a.List)
		}
		warns, err := s.w.dir.AddRecipient(ctx, s.tx, a.List, distlist.RecipientSpec{Address: a.Address, Key: []byte(sa.Key), Source: distlist.SourceCommand})
		if err != nil {
			return err
		}
		for _, w := range warns {
			s.extra = append(s.extra, "warning: "+w)
		}
		d.Application.MinNotice, d.Application.MaxNotice, d.Application.PreRelease = s.w.noticeWindows()
	} else {
		reason = afterFields(cmd.Rest, 2)
		d.Reason = reason
	}
	state, tmpl := AppDenied, templates.ApplicationDenied
	if approve {
		state, tmpl = AppApproved, templates.ApplicationWelcome
	}
	var sealedReason any
	if reason != "" {
		if sealedReason, err = s.w.atRest.EncryptAtRest([]byte(reason)); err != nil {
			return internalErr(err)
		}
	}
	if _, err := s.tx.ExecContext(ctx, `UPDATE application SET state = ?, reason = ?, decided = ?, decided_by = ? WHERE id = ? AND state = 'pending'`,
		state, sealedReason, store.Millis(s.now), s.actor, a.ID); err != nil {
		return internalErr(err)
	}
	how, err := s.toDistributor(ctx, tmpl, "application-"+state, d, key, usable)
	if err != nil {
		return err
	}
	if approve {
		s.done = append(s.done, fmt.Sprintf("%s approved: %s added to %s with key %s; welcome sent, %s", a.Ref, a.Address, a.List, a.Fingerprint, how))
		return nil
	}
	s.sealedDone(fmt.Sprintf("%s denied: %s told the reason, %s", a.Ref, a.Address, how),
		"%s denied: %s told, %s: %s", a.Ref, a.Address, how, short(reason))
	return nil
}

// sealedDone records a change whose answer (encrypted) says more than the
// audit log (in clear) may: the audit log gets audit.
func (s *session) sealedDone(audit, format string, a ...any) {
	s.done = append(s.done, fmt.Sprintf(format, a...))
	if s.auditAs == nil {
		s.auditAs = map[int]string{}
	}
	s.auditAs[len(s.done)-1] = audit
}

// toDistributor sends text tmpl to one distributor or applicant about
// their own entry or application: encrypted to key when it can be
// encrypted to (usable), signed in clear otherwise. It says how it went.
func (s *session) toDistributor(ctx context.Context, tmpl, tag string, d templates.Data, key *crypto.Key, usable bool) (string, error) {
	subj, body, err := s.w.render(tmpl, d)
	if err != nil {
		return "", internalErr(err)
	}
	r := distlist.Recipient{Address: d.Recipient.Address}
	if usable {
		r.Key = key
	}
	sk, err := s.w.enqueue(ctx, s.tx, outMail{kind: MailApplicant, caseID: GatewayLog, notice: s.notice(tag, d.Recipient.Address),
		subject: subj, body: body, encrypt: usable, to: []distlist.Recipient{r}, auto: true})
	if err != nil {
		return "", internalErr(err)
	}
	if len(sk) > 0 {
		return "", fmt.Errorf("the mail to %s cannot go: %s", d.Recipient.Address, skippedList(sk))
	}
	if usable {
		return "encrypted to their key", nil
	}
	return "signed, in clear (their key cannot be encrypted to)", nil
}

// NoticeWindower is a Scheduler that tells the notice windows of the
// policy of new cases in words ("21 days"), for the welcome to a new
// distributor; package schedule's does.
type NoticeWindower interface {
	NoticeWindows() (minNotice, maxNotice, preRelease string)
}

// noticeWindows are the notice windows of the policy of new cases, for the
// welcome, when the scheduler tells them.
func (w *Workflow) noticeWindows() (minNotice, maxNotice, preRelease string) {
	if p, ok := w.scheduler().(NoticeWindower); ok {
		return p.NoticeWindows()
	}
	return "", "", ""
}

// onList reports whether addr is on list.
func (w *Workflow) onList(ctx context.Context, list, addr string) (bool, error) {
	l, err := w.dir.List(ctx, list)
	if err != nil {
		return false, fmt.Errorf("cases: list %q: %w", list, err)
	}
	for _, r := range l.Recipients {
		if distlist.SameAddress(r.Address, addr) {
			return true, nil
		}
	}
	return false, nil
}
