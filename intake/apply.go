package intake

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/secgate/secgate/cases"
	"github.com/secgate/secgate/store"
	"github.com/secgate/secgate/templates"
)

// Classes of applications to an embargo list (/apply LIST).
const (
	ClassApplication        = "application"         // taken: stored and sent to the team
	ClassApplicationRefused = "application-refused" // not taken; the applicant was told why
)

// ApplicationReceiver takes applications to the embargo lists
// (WorkflowAdapter, over cases.Workflow.ReceiveApplication).
type ApplicationReceiver interface {
	ReceiveApplication(ctx context.Context, tx *sql.Tx, a Application) (ApplicationResult, error)
}

// Application is a mail that applies to an embargo list.
type Application struct {
	InboundID int64
	MessageID string
	From      string
	List      string
	Text      string   // the rationale, secret key blocks left out
	Keys      [][]byte // public keys that came with it, in order
	SecretKey bool
	Encrypted bool
	Signer    string
	Received  time.Time
}

// ApplicationResult is what became of an application: a reference, or why
// it was not taken; Key is the applicant's armored key when it can be
// encrypted to.
type ApplicationResult struct {
	Ref         string
	Refused     string
	Key         string
	Fingerprint string
}

// An application is a mail from outside the team whose text (decrypted,
// when it came encrypted; not text around an inline encrypted block)
// starts with the line "/apply LIST": its first line that is not blank,
// "/apply" in the first column (any case), one or more blanks, the list's
// name and nothing after it. What follows is the applicant's rationale.
// A first line that starts with "/apply" and is not of that form is an
// application refused as malformed; any other mail is not an application.

// listName is a list's name in an /apply line.
var listName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// errApplyLine is a first line that starts with /apply but is not
// "/apply LIST".
var errApplyLine = errors.New(`the first line must be "/apply LIST", LIST the name of the list and nothing after it`)

// ParseApply reads an application: ok reports whether text's first line
// that is not blank starts with "/apply"; then list is the list it names
// and rationale the text after that line, or err says why the line is not
// "/apply LIST".
func ParseApply(text string) (list, rationale string, ok bool, err error) {
	rest := strings.TrimPrefix(text, "\uFEFF")
	for rest != "" {
		line, after, _ := strings.Cut(rest, "\n")
		line = strings.TrimRight(line, " \t\r")
		if line == "" {
			rest = after
			continue
		}
		if len(line) < len("/apply") || !strings.EqualFold(line[:len("/apply")], "/apply") {
			return "", "", false, nil
		}
		arg := line[len("/apply"):]
		if arg != "" && arg[0] != ' ' && arg[0] != '\t' {
			return "", "", false, nil // "/applying", another word
		}
		f := strings.Fields(arg)
		if len(f) != 1 || !listName.MatchString(f[0]) {
			return "", "", true, errApplyLine
		}
		return f[0], strings.TrimLeft(after, "\r\n"), true, nil
	}
	return "", "", false, nil
}

// Armor lines of secret keys, which an application must never bring in.
var (
	secretBegin = "-----BEGIN PGP PRIVATE KEY BLOCK-----"
	secretEnd   = "-----END PGP PRIVATE KEY BLOCK-----"
)

// withoutSecretKeys returns text with every armored secret key block cut
// out (an unterminated one to the end), and whether there was one.
func withoutSecretKeys(text string) (string, bool) {
	found := false
	for {
		i := strings.Index(text, secretBegin)
		if i < 0 {
			return text, found
		}
		found = true
		end := len(text)
		if j := strings.Index(text[i:], secretEnd); j >= 0 {
			end = i + j + len(secretEnd)
		}
		text = text[:i] + "[a secret key was here; it was removed]" + text[end:]
	}
}

// applicationKeys are the keys that came with the application, in order:
// attached key files, armored public keys in its text, its Autocrypt
// header. secret reports a secret key anywhere among them.
func (m *msgCtx) applicationKeys() (keys [][]byte, secret bool) {
	op := m.opened
	for _, a := range op.Attachments {
		name := strings.ToLower(a.Filename)
		keyFile := strings.EqualFold(a.ContentType, "application/pgp-keys") || strings.HasSuffix(name, ".asc") ||
			strings.HasSuffix(name, ".gpg") || strings.HasSuffix(name, ".pgp") || strings.HasSuffix(name, ".key")
		if a.contains([]byte(secretBegin)) {
			secret = true
			continue
		}
		if a.Stored != nil {
			continue // no key is that big
		}
		if keyFile || bytes.Contains(a.Data, pgpKey) {
			keys = append(keys, a.Data)
		}
	}
	rest := op.Text
	for {
		i := strings.Index(rest, string(pgpKey))
		if i < 0 {
			break
		}
		const end = "-----END PGP PUBLIC KEY BLOCK-----"
		j := strings.Index(rest[i:], end)
		if j < 0 {
			break
		}
		keys = append(keys, []byte(rest[i:i+j+len(end)]))
		rest = rest[i+j+len(end):]
	}
	if strings.Contains(op.Text, secretBegin) {
		secret = true
	}
	if m.insp.Autocrypt != "" {
		keys = append(keys, []byte(armorKey(m.insp.Autocrypt)))
	}
	return keys, secret
}

// application handles m when it is an application to an embargo list:
// the limits, then the workflow takes it or says why not, and the
// applicant gets a receipt or the reason. It reports whether m was one.
func (m *msgCtx) application(ctx context.Context) (bool, error) {
	recv, ok := m.p.o.Cases.(ApplicationReceiver)
	if !ok {
		return false, nil // no applications on this gateway: a report like any other
	}
	list, rationale, ok, perr := ParseApply(m.opened.Text)
	if !ok {
		return m.applicationReply(ctx)
	}
	from := m.insp.From
	if !strings.Contains(from, "@") {
		return true, m.finish(ctx, held(ClassMalformed, "application without a usable From address"), nil)
	}
	if !m.released {
		if n, err := m.applicationsSince(ctx, "sender = ? AND class IN (?, ?)", from, ClassApplication, ClassApplicationRefused); err != nil {
			return true, err
		} else if n >= m.p.o.Config.ApplicationsPerSender {
			return true, m.finish(ctx, held(ClassLimit, fmt.Sprintf("%s made %d applications within 24 hours (applications_per_sender): held, not answered", from, n)), nil)
		}
		if n, err := m.applicationsSince(ctx, "class = ?", ClassApplication); err != nil {
			return true, err
		} else if n >= m.p.o.Config.ApplicationsPerDay {
			return true, m.applicationFlood(ctx, n)
		}
	}
	keys, secret := m.applicationKeys()
	text, cut := withoutSecretKeys(rationale)
	a := Application{InboundID: m.in.ID, MessageID: m.insp.MessageID, From: from, List: list, Text: text, Keys: keys,
		SecretKey: secret || cut, Encrypted: m.opened.Encrypted, Signer: m.opened.Signer, Received: m.in.Received}
	return true, m.finish(ctx, done(ClassApplication, ""), func(tx *sql.Tx, o *outcome) error {
		res := ApplicationResult{Refused: ""}
		if perr != nil {
			res.Refused = perr.Error()
		} else {
			var err error
			if res, err = recv.ReceiveApplication(ctx, tx, a); err != nil {
				return fmt.Errorf("intake: application %d: %w", m.in.ID, err)
			}
		}
		data := m.baseData()
		data.Recipient.Name = "" // a name the sender chose is not echoed
		data.Application = templates.ApplicationData{Ref: res.Ref, List: list, Address: from, Refused: res.Refused, SecretKey: a.SecretKey}
		if res.Refused != "" {
			o.class, o.reason = ClassApplicationRefused, fmt.Sprintf("application to %q not taken: %s; the applicant is told (at most once a day)", list, res.Refused)
			return m.answerOnce(ctx, tx, templates.ApplicationRefused, data)
		}
		o.reason = fmt.Sprintf("application %s to %s, sent to the team", res.Ref, list)
		return m.applicationReceipt(ctx, tx, data, res)
	})
}

// applicationReceipt tells the applicant their application waits for the
// team: encrypted to their key when it can be, signed in clear otherwise.
func (m *msgCtx) applicationReceipt(ctx context.Context, tx *sql.Tx, data templates.Data, res ApplicationResult) error {
	if !m.answerable() {
		return nil
	}
	data.Application.Fingerprint = res.Fingerprint
	text, err := m.p.render(templates.ApplicationReceipt, data)
	if err != nil {
		return fmt.Errorf("intake: render application receipt: %w", err)
	}
	mail := OutMail{
		Kind: cases.MailApplicant, NoticeID: "application-receipt-" + res.Ref,
		Subject: text.Subject, Body: text.Body, Auto: true, Encrypt: res.Key != "",
		Recipients: []Recipient{{Address: m.insp.From, Key: res.Key}},
		InReplyTo:  m.insp.MessageID,
	}
	if _, err := m.enqueue(ctx, tx, mail); err != nil {
		return fmt.Errorf("intake: enqueue application receipt: %w", err)
	}
	return nil
}

// applicationsSince counts the applications of the last 24 hours that
// match where.
func (m *msgCtx) applicationsSince(ctx context.Context, where string, args ...any) (int, error) {
	var n int
	args = append(args, store.Millis(m.now.Add(-24*time.Hour)), m.in.ID)
	err := m.reader().QueryRowContext(ctx, `SELECT count(*) FROM inbound WHERE `+where+` AND received >= ? AND id != ?`, args...).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("intake: count applications: %w", err)
	}
	return n, nil
}

// applicationFlood holds an application over the day's limit, unanswered,
// and alerts the team once a day.
func (m *msgCtx) applicationFlood(ctx context.Context, n int) error {
	why := fmt.Sprintf("%d applications within 24 hours (applications_per_day): held for the team, not answered; release it to take it", n)
	return m.finish(ctx, held(ClassLimit, why), func(tx *sql.Tx, _ *outcome) error {
		var at int64
		err := tx.QueryRowContext(ctx, `SELECT at FROM inbound_answer WHERE sender = '' AND kind = 'application-flood'`).Scan(&at)
		if err == nil && m.now.Sub(store.Time(at)) < 24*time.Hour {
			return nil
		}
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("intake: application flood lookup: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO inbound_answer (sender, kind, at) VALUES ('', 'application-flood', ?)
			ON CONFLICT (sender, kind) DO UPDATE SET at = excluded.at`, store.Millis(m.now)); err != nil {
			return fmt.Errorf("intake: record application flood alert: %w", err)
		}
		text := fmt.Sprintf("%d applications to the embargo lists arrived within 24 hours (applications_per_day).\n"+
			"Further applications are held in quarantine, unanswered, until the day's count falls; you\n"+
			"are not told of them again today. `secgate quarantine list` shows them; release the real ones.\n", n)
		return m.p.o.Cases.Alert(ctx, tx, 0, "Applications held", text)
	})
}

// ReceiveApplication implements ApplicationReceiver.
func (w *WorkflowAdapter) ReceiveApplication(ctx context.Context, tx *sql.Tx, a Application) (ApplicationResult, error) {
	r, err := w.Workflow.ReceiveApplication(ctx, tx, cases.ApplicationMail{InboundID: a.InboundID, MessageID: a.MessageID,
		From: a.From, List: a.List, Text: a.Text, Keys: a.Keys, SecretKey: a.SecretKey, Encrypted: a.Encrypted,
		Signer: a.Signer, Received: a.Received})
	if err != nil {
		return ApplicationResult{}, err
	}
	out := ApplicationResult{Ref: r.Ref, Refused: r.Refused, Key: r.Armored}
	if r.Key != nil {
		out.Fingerprint = r.Key.Fingerprint()
	}
	return out, nil
}

// A KindLookup is a Mailer that tells the kind of the mail a Message-ID
// names (OutboxAdapter).
type KindLookup interface {
	KindForMessageID(ctx context.Context, msgid string) (kind string, ok bool, err error)
}

// KindForMessageID implements KindLookup.
func (o *OutboxAdapter) KindForMessageID(ctx context.Context, msgid string) (string, bool, error) {
	return o.Outbox.KindForMessageID(ctx, msgid)
}

// ClassApplicationReply is a reply to the gateway's mail about an
// application (a receipt, a welcome, a denial, a removal notice).
const ClassApplicationReply = "application-reply"

// applicationReply holds a reply to the gateway's mail about an
// application or a list entry, unless the operator released it: it is no
// report, and a case must not be opened for it. The team is alerted once a
// day per sender. It reports whether m was one.
func (m *msgCtx) applicationReply(ctx context.Context) (bool, error) {
	kl, ok := m.p.o.Mailer.(KindLookup)
	if !ok || m.released {
		return false, nil
	}
	ids := append(append([]string{}, m.insp.InReplyTo...), m.insp.References...)
	replied := ""
	for i := len(ids) - 1; i >= 0 && len(ids)-i <= 20; i-- {
		if ids[i] == "" {
			continue
		}
		kind, found, err := kl.KindForMessageID(ctx, ids[i])
		if err != nil {
			return true, fmt.Errorf("intake: thread lookup: %w", err)
		}
		if found && kind == cases.MailApplicant {
			replied = ids[i]
			break
		}
	}
	if replied == "" {
		return false, nil
	}
	from := m.insp.From
	why := "a reply to the gateway's mail <" + replied + "> about an application or a list entry: no report; held for the team, not answered; release it to open a case"
	return true, m.finish(ctx, held(ClassApplicationReply, why), func(tx *sql.Tx, _ *outcome) error {
		var at int64
		err := tx.QueryRowContext(ctx, `SELECT at FROM inbound_answer WHERE sender = ? AND kind = 'application-reply'`, from).Scan(&at)
		if err == nil && m.now.Sub(store.Time(at)) < 24*time.Hour {
			return nil
		}
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("intake: application reply lookup: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO inbound_answer (sender, kind, at) VALUES (?, 'application-reply', ?)
			ON CONFLICT (sender, kind) DO UPDATE SET at = excluded.at`, from, store.Millis(m.now)); err != nil {
			return fmt.Errorf("intake: record application reply alert: %w", err)
		}
		text := fmt.Sprintf("%s replied to the gateway's mail about their application or list entry (inbound %d).\n"+
			"It was held in quarantine, not opened as a case and not answered; further replies from this\n"+
			"address today are held without another alert. `secgate quarantine show %d` shows it; write to\n"+
			"them yourself, or release it to open a case.\n", from, m.in.ID, m.in.ID)
		return m.p.o.Cases.Alert(ctx, tx, 0, "Reply about an application held", text)
	})
}
