package intake

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-message"

	"github.com/secgate/secgate/templates"
)

// fakeOpener understands the test fixtures' fake OpenPGP: an armored
// "PGP MESSAGE" whose payload is "to:team\n[subject:S\n]\nBODY",
// "to:unknown:KEYID" or "corrupt"; a "PGP SIGNATURE" whose payload is
// "sig:FPR:good" or "sig:FPR:bad".
type fakeOpener struct{}

func armorPayload(b []byte, kind string) ([]byte, bool) {
	begin := []byte("-----BEGIN PGP " + kind + "-----")
	i := bytes.Index(b, begin)
	if i < 0 {
		return nil, false
	}
	rest := b[i+len(begin):]
	if j := bytes.Index(rest, []byte("-----END")); j >= 0 {
		rest = rest[:j]
	}
	var enc strings.Builder
	for _, l := range strings.Split(strings.ReplaceAll(string(rest), "\r", ""), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "=") || strings.Contains(l, ": ") {
			continue
		}
		enc.WriteString(l)
	}
	out, err := base64.StdEncoding.DecodeString(enc.String())
	return out, err == nil
}

var tagRE = regexp.MustCompile(`<[^>]*>`)

func (fakeOpener) Open(_ context.Context, raw []byte, candidates []string, _ []Member, now time.Time) (*Opened, error) {
	e, err := message.Read(bytes.NewReader(raw))
	if err != nil && !message.IsUnknownCharset(err) {
		return nil, fmt.Errorf("not MIME: %w", err)
	}
	op := &Opened{}
	if p, ok := armorPayload(raw, "MESSAGE"); ok {
		s := string(p)
		switch {
		case strings.HasPrefix(s, "to:unknown:"):
			id := strings.TrimSpace(strings.SplitN(strings.TrimPrefix(s, "to:unknown:"), "\n", 2)[0])
			return nil, &OpenError{Err: ErrWrongKey, KeyIDs: []string{id}}
		case strings.HasPrefix(s, "to:team\n"):
			op.Encrypted = true
			// What it protects: the same payload in any wrapping.
			id := sha256.Sum256(p)
			op.Identities = [][]byte{id[:]}
			op.Inline = !strings.Contains(string(raw), "multipart/encrypted")
			head, body, _ := strings.Cut(strings.TrimPrefix(s, "to:team\n"), "\n\n")
			if subj, ok := strings.CutPrefix(head, "subject:"); ok {
				op.Subject = subj
			}
			if head != "" && !strings.HasPrefix(head, "subject:") {
				body = head + "\n\n" + body
			}
			op.Text = body
			return op, nil
		default:
			return nil, ErrUndecryptable
		}
	}
	if p, ok := armorPayload(raw, "SIGNATURE"); ok {
		f := strings.Split(string(p), ":")
		if len(f) != 3 || f[2] != "good" {
			op.SignatureErr = ErrBadSignature
		} else {
			op.Signer = f[1]
			op.SignedWhole = true
		}
	}
	var walk func(e *message.Entity)
	walk = func(e *message.Entity) {
		if mr := e.MultipartReader(); mr != nil {
			for {
				p, err := mr.NextPart()
				if err != nil && (p == nil || !message.IsUnknownCharset(err)) {
					return
				}
				walk(p)
			}
		}
		t, _, _ := e.Header.ContentType()
		disp, params, _ := e.Header.ContentDisposition()
		body, _ := io.ReadAll(e.Body)
		switch {
		case disp == "attachment" || params["filename"] != "":
			op.Attachments = append(op.Attachments, Attachment{Filename: params["filename"], ContentType: t, Data: body})
		case t == "application/pgp-signature":
		case t == "text/html" && op.Text == "":
			op.Text = strings.TrimSpace(tagRE.ReplaceAllString(string(body), ""))
		case t == "text/plain" || t == "":
			op.Text += string(body)
		}
	}
	walk(e)
	return op, nil
}

type fakeDirectory struct {
	members []Member
	dist    map[string]bool
}

func newFakeDirectory() *fakeDirectory {
	return &fakeDirectory{
		members: []Member{
			{Name: "Alice Member", Address: "alice@example.test", Fingerprint: "AAAA1111"},
			{Name: "Bob Member", Address: "bob@example.test", Fingerprint: "BBBB2222"},
		},
		dist: map[string]bool{"psirt@vendor.example": true},
	}
}

func (d *fakeDirectory) Team(context.Context) ([]Member, error) { return d.members, nil }
func (d *fakeDirectory) Distributor(_ context.Context, a string) (Member, bool, error) {
	return Member{Address: a}, d.dist[a], nil
}

type fakeMailer struct {
	mu     sync.Mutex
	mails  []OutMail
	thread map[string]int64
	dsns   int
	kicks  int
}

func newFakeMailer() *fakeMailer {
	return &fakeMailer{thread: map[string]int64{
		"ack-1@secgate.example.test":       1,
		"team-copy-1@secgate.example.test": 1,
		"embargo-1@secgate.example.test":   1,
	}}
}

func (f *fakeMailer) Enqueue(_ context.Context, tx *sql.Tx, m OutMail) ([]string, error) {
	if tx == nil {
		return nil, fmt.Errorf("no transaction")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mails = append(f.mails, m)
	var skipped []string
	for _, r := range m.Recipients {
		if m.Encrypt && r.Key == "" && r.Fingerprint == "" {
			skipped = append(skipped, r.Address)
		}
	}
	return skipped, nil
}

func (f *fakeMailer) CaseForMessageID(_ context.Context, id string) (int64, bool, error) {
	c, ok := f.thread[id]
	return c, ok, nil
}

func (f *fakeMailer) HandleDSN(_ context.Context, raw []byte) (bool, error) {
	f.mu.Lock()
	f.dsns++
	f.mu.Unlock()
	return bytes.Contains(raw, []byte("notice-1@secgate.example.test")), nil
}

func (f *fakeMailer) Kick() {
	f.mu.Lock()
	f.kicks++
	f.mu.Unlock()
}

func (f *fakeMailer) take() []OutMail {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := f.mails
	f.mails = nil
	return m
}

type fakeCases struct {
	mu       sync.Mutex
	cases    []CaseInfo
	reports  []Report
	messages map[int64][]FollowUp
	commands []CommandMail
	alerts   []string
	// untrusted holds the texts recorded as untrusted, per case.
	untrusted map[int64][]string
	// archived holds the references of archived cases and when each was
	// archived.
	archived map[string]time.Time
}

func newFakeCases() *fakeCases {
	return &fakeCases{
		cases:    []CaseInfo{{ID: 1, Ref: "SEC-2026-0001", State: "new", ReporterAddr: "reporter@example.net"}},
		messages: map[int64][]FollowUp{},
	}
}

func (f *fakeCases) OpenCase(_ context.Context, tx *sql.Tx, r Report) (CaseInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := CaseInfo{ID: int64(len(f.cases) + 1), Ref: fmt.Sprintf("SEC-2026-%04d", len(f.cases)+1), State: "new", ReporterAddr: r.From, ReporterKey: r.Key}
	f.cases = append(f.cases, c)
	f.reports = append(f.reports, r)
	return c, nil
}

func (f *fakeCases) AddMessage(_ context.Context, tx *sql.Tx, id int64, m FollowUp) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.messages[id] = append(f.messages[id], m)
	return nil
}

func (f *fakeCases) CaseByRef(_ context.Context, _ *sql.Tx, ref string) (CaseInfo, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.cases {
		if c.Ref == ref {
			return c, true, nil
		}
	}
	return CaseInfo{}, false, nil
}

func (f *fakeCases) Archived(_ context.Context, _ *sql.Tx, ref string) (time.Time, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	at, ok := f.archived[ref]
	return at, ok, nil
}

func (f *fakeCases) CaseByID(_ context.Context, _ *sql.Tx, id int64) (CaseInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.cases {
		if c.ID == id {
			return c, nil
		}
	}
	return CaseInfo{}, fmt.Errorf("no case %d", id)
}

func (f *fakeCases) HandleCommandMail(_ context.Context, m CommandMail) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.commands = append(f.commands, m)
	return nil
}

func (f *fakeCases) RecordUntrusted(_ context.Context, _ *sql.Tx, caseID int64, texts ...string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.untrusted == nil {
		f.untrusted = map[int64][]string{}
	}
	f.untrusted[caseID] = append(f.untrusted[caseID], texts...)
	return nil
}

func (f *fakeCases) Alert(_ context.Context, tx *sql.Tx, caseID int64, subject, text string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.alerts = append(f.alerts, subject)
	return nil
}

// texts is the real set.
type texts struct{ set *templates.Set }

func (t texts) Render(name string, data any) (templates.Text, error) { return t.set.Render(name, data) }
