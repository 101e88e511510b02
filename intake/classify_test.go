package intake

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/secgate/secgate/internal/clock"
	"github.com/secgate/secgate/store"
	"github.com/secgate/secgate/templates"
)

type procEnv struct {
	t      testing.TB
	db     *testDB
	proc   *Processor
	mailer *fakeMailer
	cases  *fakeCases
	clock  *clock.Fake
	uid    uint32
}

type testDB = store.DB

func newProcEnv(t testing.TB) *procEnv {
	t.Helper()
	set, err := templates.Load("")
	if err != nil {
		t.Fatal(err)
	}
	env := &procEnv{t: t, db: openDB(t), mailer: newFakeMailer(), cases: newFakeCases(),
		clock: clock.NewFake(time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC))}
	env.proc = NewProcessor(ProcessorOptions{
		Config: Config{MaxAttachments: 10, MaxDepth: 8, RateLimit: 3},
		DB:     env.db, AtRest: plainRest{}, Opener: fakeOpener{}, Directory: newFakeDirectory(),
		Mailer: env.mailer, Cases: env.cases, Texts: texts{set},
		Project: templates.Project{Name: "Example", TeamAddress: "security@example.test", KeyFingerprint: "TEAMFPR"},
		TeamKey: "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nteam\n-----END PGP PUBLIC KEY BLOCK-----\n",
		Clock:   env.clock,
	})
	return env
}

// ingest stores raw as the next UID and processes it.
func (e *procEnv) ingest(raw []byte) *Inbound {
	e.t.Helper()
	ctx := context.Background()
	e.uid++
	ids, err := storeBatch(ctx, e.db, plainRest{}, "INBOX", 1, []fetched{{uid: e.uid, size: int64(len(raw)), raw: raw}}, e.clock.Now())
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.proc.Process(ctx, ids[0]); err != nil {
		e.t.Fatalf("process: %v", err)
	}
	// Processing twice changes nothing.
	if err := e.proc.Process(ctx, ids[0]); err != nil {
		e.t.Fatalf("process again: %v", err)
	}
	in, err := getInbound(ctx, e.db.Reader(), ids[0])
	if err != nil {
		e.t.Fatal(err)
	}
	return in
}

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "classify", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func kinds(ms []OutMail) []string {
	var k []string
	for _, m := range ms {
		k = append(k, m.Kind)
	}
	return k
}

func TestClassifyGolden(t *testing.T) {
	env := newProcEnv(t)
	tests := []struct {
		file   string
		state  string
		class  string
		reason string   // substring
		mails  []string // kinds enqueued, in order
		check  func(t *testing.T, in *Inbound, mails []OutMail)
	}{
		{file: "dsn.eml", state: StateProcessed, class: ClassDSN, reason: "matched"},
		{file: "dsn-unknown.eml", state: StateQuarantined, class: ClassDSN, reason: "matches no message we sent"},
		{file: "auto-reply.eml", state: StateProcessed, class: ClassAutoReply, reason: "Auto-Submitted: auto-replied"},
		{file: "vacation.eml", state: StateProcessed, class: ClassAutoReply, reason: "subject"},
		{file: "list.eml", state: StateQuarantined, class: ClassList, reason: "List-Id <dev.lists.example.net>"},
		{file: "loop.eml", state: StateProcessed, class: ClassLoop, reason: "X-Secgate-Loop"},
		{file: "member-command.eml", state: StateProcessed, class: ClassCommand, reason: "AAAA1111",
			check: func(t *testing.T, in *Inbound, _ []OutMail) {
				cm := env.cases.commands[len(env.cases.commands)-1]
				if cm.CaseID != 1 || cm.Opened.Signer != "AAAA1111" || cm.InboundID != in.ID {
					t.Errorf("command mail = case %d signer %q inbound %d", cm.CaseID, cm.Opened.Signer, cm.InboundID)
				}
			}},
		{file: "reply-in-reply-to.eml", state: StateProcessed, class: ClassFollowUp, reason: "thread <ack-1@secgate.example.test>",
			mails: []string{"team-copy"},
			check: func(t *testing.T, in *Inbound, mails []OutMail) {
				if in.CaseID != 1 || len(env.cases.messages[1]) != 1 {
					t.Errorf("follow-up not appended to case 1: case %d, %d messages", in.CaseID, len(env.cases.messages[1]))
				}
				if !strings.Contains(mails[0].Subject, "[SEC-2026-0001] Follow-up") || len(mails[0].Recipients) != 2 || !mails[0].Encrypt {
					t.Errorf("team copy %q to %d encrypt=%v", mails[0].Subject, len(mails[0].Recipients), mails[0].Encrypt)
				}
			}},
		{file: "subject-tag.eml", state: StateProcessed, class: ClassFollowUp, reason: "subject tag [SEC-2026-0001]", mails: []string{"team-copy"}},
		{file: "distributor-ack.eml", state: StateProcessed, class: ClassDistributorAck, reason: "psirt@vendor.example",
			mails: []string{"team-copy"},
			check: func(t *testing.T, in *Inbound, mails []OutMail) {
				msgs := env.cases.messages[1]
				if in.CaseID != 1 || len(msgs) == 0 || msgs[len(msgs)-1].Kind != "distributor" {
					t.Errorf("distributor reply not stored with case 1: case %d, messages %+v", in.CaseID, msgs)
				}
				m := mails[0]
				if !strings.Contains(m.Subject, "[SEC-2026-0001] Distributor reply") || !m.Encrypt || len(m.Recipients) != 2 ||
					!strings.Contains(m.Body, "NOT signed by the key we hold for them") {
					t.Errorf("team copy %q encrypt=%v to %d:\n%s", m.Subject, m.Encrypt, len(m.Recipients), m.Body)
				}
			}},
		{file: "report-clear.eml", state: StateProcessed, class: ClassReport, reason: "in clear", mails: []string{"ack", "team-copy"},
			check: func(t *testing.T, in *Inbound, mails []OutMail) {
				ack := mails[0]
				if ack.Encrypt || len(ack.Attachments) != 1 || ack.Attachments[0].ContentType != "application/pgp-keys" {
					t.Errorf("clear ack: encrypt=%v attachments=%v", ack.Encrypt, ack.Attachments)
				}
				if !strings.HasPrefix(ack.Subject, "[SEC-2026-0002]") || ack.Recipients[0].Address != "reporter@example.net" {
					t.Errorf("ack subject %q to %v", ack.Subject, ack.Recipients)
				}
				if env.mailer.kicks == 0 {
					t.Error("the outbox was not kicked after the commit")
				}
				if strings.Contains(ack.Body, "overflows") {
					t.Error("ack quotes the report")
				}
				if !strings.Contains(mails[1].Body, "overflows on long headers") {
					t.Error("team copy lacks the report text")
				}
			}},
		{file: "report-pgpmime.eml", state: StateProcessed, class: ClassReport, reason: "encrypted", mails: []string{"ack", "team-copy"},
			check: func(t *testing.T, in *Inbound, mails []OutMail) {
				r := env.cases.reports[len(env.cases.reports)-1]
				if !r.Encrypted || r.Subject != "Secret RCE" || !strings.Contains(r.Text, "Remote code execution") {
					t.Errorf("report = %+v", r)
				}
				for _, s := range []string{"Secret RCE", "Remote code"} {
					if strings.Contains(mails[0].Subject+mails[0].Body, s) {
						t.Errorf("ack reveals %q", s)
					}
				}
				if len(mails[0].Attachments) != 0 {
					t.Error("team key attached to an encrypted reporter")
				}
			}},
		{file: "report-inline.eml", state: StateProcessed, class: ClassReport, reason: "encrypted", mails: []string{"ack", "team-copy"}},
		{file: "replay.eml", state: StateQuarantined, class: ClassReplay, reason: "already received", mails: []string{"sender-notice"},
			check: func(t *testing.T, in *Inbound, _ []OutMail) {
				if len(env.cases.alerts) != 1 {
					t.Errorf("alerts = %v, want one", env.cases.alerts)
				}
			}},
		{file: "html-only.eml", state: StateProcessed, class: ClassReport, mails: []string{"ack", "team-copy"},
			check: func(t *testing.T, in *Inbound, mails []OutMail) {
				r := env.cases.reports[len(env.cases.reports)-1]
				if !strings.Contains(r.Text, "stored XSS") || strings.Contains(r.Text, "<b>") {
					t.Errorf("html report text = %q", r.Text)
				}
			}},
		{file: "empty-body.eml", state: StateQuarantined, class: ClassEmpty, reason: "empty", mails: []string{"sender-notice"},
			check: func(t *testing.T, in *Inbound, mails []OutMail) {
				m := mails[0]
				if !strings.Contains(m.Subject, "was held") || !strings.Contains(m.Body, "empty message") || !m.Auto || m.Recipients[0].Address != "reporter@example.net" {
					t.Errorf("polite answer %q to %v:\n%s", m.Subject, m.Recipients, m.Body)
				}
			}},
		{file: "missing-message-id.eml", state: StateProcessed, class: ClassReport, reason: "no Message-ID", mails: []string{"ack", "team-copy"}},
		{file: "duplicate-a.eml", state: StateProcessed, class: ClassReport, mails: []string{"ack", "team-copy"}},
		{file: "duplicate-b.eml", state: StateQuarantined, class: ClassDuplicate, reason: "already received with different content"},
		{file: "wrong-charset.eml", state: StateProcessed, class: ClassReport, reason: "unknown charset", mails: []string{"ack", "team-copy"}},
		{file: "wrong-key.eml", state: StateQuarantined, class: ClassWrongKey, reason: "0123456789ABCDEF", mails: []string{"sender-notice"},
			check: func(t *testing.T, in *Inbound, mails []OutMail) {
				if !strings.Contains(mails[0].Body, "TEAMFPR") || !strings.Contains(mails[0].Body, "0123456789ABCDEF") {
					t.Errorf("wrong-key answer lacks the team fingerprint or the key ID:\n%s", mails[0].Body)
				}
			}},
		{file: "bad-signature.eml", state: StateProcessed, class: ClassReport, reason: "signature not verified", mails: []string{"ack", "team-copy"},
			check: func(t *testing.T, in *Inbound, mails []OutMail) {
				if !strings.Contains(mails[1].Body, "present but does NOT verify") {
					t.Error("team copy does not say the signature failed")
				}
			}},
		{file: "undecryptable.eml", state: StateQuarantined, class: ClassUndecryptable, reason: "could not be decrypted", mails: []string{"sender-notice"}},
		{file: "too-many-attachments.eml", state: StateQuarantined, class: ClassLimit, reason: "more than 10 attachments", mails: []string{"sender-notice"}},
		{file: "too-deep.eml", state: StateQuarantined, class: ClassLimit, reason: "nesting deeper than 8", mails: []string{"sender-notice"}},
		{file: "malformed.eml", state: StateQuarantined, class: ClassMalformed},
		{file: "report-with-key.eml", state: StateProcessed, class: ClassReport, reason: "reporter key captured", mails: []string{"ack", "team-copy"},
			check: func(t *testing.T, in *Inbound, mails []OutMail) {
				if !mails[0].Encrypt || !strings.Contains(mails[0].Recipients[0].Key, "PUBLIC KEY") {
					t.Errorf("ack to a reporter with a key: encrypt=%v key=%q", mails[0].Encrypt, mails[0].Recipients[0].Key)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			env.mailer.take()
			// A day apart: the rate limit and the answer-once period
			// are tested on their own below.
			env.clock.Advance(25 * time.Hour)
			in := env.ingest(readFixture(t, tt.file))
			mails := env.mailer.take()
			if in.State != tt.state || in.Class != tt.class || !strings.Contains(in.Reason, tt.reason) {
				t.Errorf("%s ended %s/%s %q; want %s/%s containing %q", tt.file, in.State, in.Class, in.Reason, tt.state, tt.class, tt.reason)
			}
			if in.Reason == "" {
				t.Error("no reason recorded")
			}
			if got := kinds(mails); !slices.Equal(got, tt.mails) {
				t.Errorf("mail enqueued %v, want %v", got, tt.mails)
			}
			if tt.check != nil && !t.Failed() {
				tt.check(t, in, mails)
			}
		})
	}
}

func TestAnswerOnceNotInALoop(t *testing.T) {
	env := newProcEnv(t)
	raw := string(readFixture(t, "too-many-attachments.eml"))
	var answers int
	for i := range 3 {
		in := env.ingest([]byte(strings.Replace(raw, "many1@", "many"+string(rune('a'+i))+"@", 1)))
		if in.State != StateQuarantined {
			t.Fatalf("state %s", in.State)
		}
		for _, m := range env.mailer.take() {
			if m.Kind == KindSenderNotice {
				answers++
			}
		}
	}
	if answers != 1 {
		t.Errorf("%d answers for three held messages, want 1", answers)
	}
}

func TestRateLimit(t *testing.T) {
	env := newProcEnv(t)
	raw := string(readFixture(t, "report-clear.eml"))
	var states []string
	var last *Inbound
	for i := range 5 {
		last = env.ingest([]byte(strings.Replace(raw, "report-clear@", "r"+string(rune('a'+i))+"@", 1)))
		states = append(states, last.State+"/"+last.Class)
	}
	want := []string{"processed/report", "processed/report", "processed/report", "quarantined/limit", "quarantined/limit"}
	if !slices.Equal(states, want) {
		t.Errorf("states %v, want %v", states, want)
	}
	if !strings.HasPrefix(last.Reason, "rate limit: more than 3 messages from ") {
		t.Errorf("reason %q", last.Reason)
	}
	// An hour later the sender is welcome again.
	env.clock.Advance(2 * time.Hour)
	in := env.ingest([]byte(strings.Replace(raw, "report-clear@", "later@", 1)))
	if in.State != StateProcessed {
		t.Errorf("after the window: %s/%s %s", in.State, in.Class, in.Reason)
	}
}

func TestQuarantineListShowRelease(t *testing.T) {
	env := newProcEnv(t)
	in := env.ingest(readFixture(t, "duplicate-a.eml"))
	dup := env.ingest(readFixture(t, "duplicate-b.eml"))
	if in.State != StateProcessed || dup.State != StateQuarantined {
		t.Fatalf("states %s %s", in.State, dup.State)
	}
	q := NewQuarantine(env.db, plainRest{})
	ctx := context.Background()
	list, err := q.List(ctx)
	if err != nil || len(list) != 1 || list[0].ID != dup.ID || list[0].Reason == "" {
		t.Fatalf("List = %+v, %v", list, err)
	}
	got, hdr, err := q.Show(ctx, dup.ID)
	if err != nil || got.Class != ClassDuplicate || !strings.Contains(hdr, "Message-ID: <dup@example.net>") || strings.Contains(hdr, "Different content") {
		t.Fatalf("Show = %+v %q %v", got, hdr, err)
	}
	if err := q.Release(ctx, dup.ID); err != nil {
		t.Fatal(err)
	}
	if err := q.Release(ctx, dup.ID); err == nil {
		t.Error("second release succeeded")
	}
	if err := env.proc.Process(ctx, dup.ID); err != nil {
		t.Fatal(err)
	}
	after, _ := getInbound(ctx, env.db.Reader(), dup.ID)
	if after.State != StateProcessed || after.Class != ClassReport {
		t.Errorf("released message ended %s/%s %s", after.State, after.Class, after.Reason)
	}
}

// failingCases fails OpenCase: the message must be held, not retried for
// ever, and the next message must go through.
type failingCases struct{ *fakeCases }

func (f failingCases) OpenCase(ctx context.Context, tx *sql.Tx, r Report) (CaseInfo, error) {
	if strings.Contains(r.Text, "poison") {
		return CaseInfo{}, fmt.Errorf("boom")
	}
	return f.fakeCases.OpenCase(ctx, tx, r)
}

func TestPoisonMessageHeld(t *testing.T) {
	env := newProcEnv(t)
	env.proc.o.Cases = failingCases{env.cases}
	ctx := context.Background()
	var ids []int64
	for i, body := range []string{"poison", "fine report"} {
		raw := []byte(fmt.Sprintf("From: r%d@example.net\r\nSubject: x\r\nMessage-ID: <p%d@x>\r\n\r\n%s\r\n", i, i, body))
		got, err := storeBatch(ctx, env.db, plainRest{}, "INBOX", 1, []fetched{{uid: uint32(i + 1), size: int64(len(raw)), raw: raw}}, env.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, got...)
	}
	if err := env.proc.ProcessBatch(ctx, ids); err != nil {
		t.Fatal(err)
	}
	a, _ := getInbound(ctx, env.db.Reader(), ids[0])
	b, _ := getInbound(ctx, env.db.Reader(), ids[1])
	if a.State != StateQuarantined || a.Class != ClassError || !strings.Contains(a.Reason, "boom") {
		t.Errorf("poison ended %s/%s %q", a.State, a.Class, a.Reason)
	}
	if b.State != StateProcessed || b.Class != ClassReport {
		t.Errorf("next message ended %s/%s %q", b.State, b.Class, b.Reason)
	}
	if n := len(env.mailer.take()); n != 2 {
		t.Errorf("%d mails, want the ack and team copy of the good report only", n)
	}
}

func TestUnreadableStoredCopyHeld(t *testing.T) {
	env := newProcEnv(t)
	ctx := context.Background()
	raw := readFixture(t, "report-clear.eml")
	ids, err := storeBatch(ctx, env.db, plainRest{}, "INBOX", 1, []fetched{{uid: 1, size: int64(len(raw)), raw: raw}}, env.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	// The stored copy no longer decrypts (say, the team key was replaced).
	if err := env.db.Tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.Exec(`UPDATE inbound_raw SET raw = X'00'`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := env.proc.ProcessBatch(ctx, ids); err != nil {
		t.Fatal(err)
	}
	in, _ := getInbound(ctx, env.db.Reader(), ids[0])
	if in.State != StateQuarantined || in.Class != ClassError {
		t.Errorf("ended %s/%s %q", in.State, in.Class, in.Reason)
	}
}

// TestBatchMatchesOneByOne: the golden messages processed as one batch
// (parallel preparation, group commit) end exactly as when processed one by
// one, including a replay of a ciphertext first seen in the same batch.
func TestBatchMatchesOneByOne(t *testing.T) {
	files := []string{"report-clear.eml", "report-inline.eml", "replay.eml", "duplicate-a.eml", "duplicate-b.eml",
		"dsn.eml", "auto-reply.eml", "member-command.eml", "reply-in-reply-to.eml", "subject-tag.eml", "distributor-ack.eml",
		"report-pgpmime.eml", "html-only.eml", "empty-body.eml", "missing-message-id.eml", "wrong-charset.eml",
		"wrong-key.eml", "bad-signature.eml", "undecryptable.eml", "too-many-attachments.eml", "malformed.eml"}
	one, batch := newProcEnv(t), newProcEnv(t)
	ctx := context.Background()
	var ids []int64
	for i, f := range files {
		raw := readFixture(t, f)
		got, err := storeBatch(ctx, batch.db, plainRest{}, "INBOX", 1, []fetched{{uid: uint32(i + 1), size: int64(len(raw)), raw: raw}}, batch.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, got...)
	}
	if err := batch.proc.ProcessBatch(ctx, ids); err != nil {
		t.Fatal(err)
	}
	for i, f := range files {
		a := one.ingest(readFixture(t, f))
		b, _ := getInbound(ctx, batch.db.Reader(), ids[i])
		if a.State != b.State || a.Class != b.Class || a.Reason != b.Reason {
			t.Errorf("%s: one by one %s/%s %q, in a batch %s/%s %q", f, a.State, a.Class, a.Reason, b.State, b.Class, b.Reason)
		}
	}
	if a, b := kinds(one.mailer.take()), kinds(batch.mailer.take()); !slices.Equal(a, b) {
		t.Errorf("mail one by one %v, in a batch %v", a, b)
	}
	if len(one.cases.alerts) != 1 || len(batch.cases.alerts) != 1 {
		t.Errorf("alerts: %d one by one, %d in a batch; want the replay alert once", len(one.cases.alerts), len(batch.cases.alerts))
	}
}

// TestForeignList: mail that came through a mailing list is handled as
// mail to us only when the list is one of own_lists; any other list's mail
// is held, unanswered, until an operator releases it.
func TestForeignList(t *testing.T) {
	own := Config{OwnLists: []string{"Security reports <Security.Example.Test>"}}.WithDefaults().OwnLists
	if len(own) != 1 || own[0] != "security.example.test" {
		t.Fatalf("own_lists normalised to %q", own)
	}
	tests := []struct {
		name    string
		headers string
		foreign bool
		why     string
	}{
		{"no list", "", false, ""},
		{"own list-id", "List-Id: \"Sec\" <SECURITY.example.test>\r\nPrecedence: list\r\n", false, ""},
		{"other list-id", "List-Id: <dev.lists.example.net>\r\n", true, "List-Id <dev.lists.example.net>"},
		{"bare list-id", "List-Id: dev.lists.example.net\r\n", true, "List-Id <dev.lists.example.net>"},
		{"unsubscribe only", "List-Unsubscribe: <mailto:leave@lists.example>\r\n", true, "List-Unsubscribe"},
		{"precedence bulk", "Precedence: bulk\r\n", true, "Precedence: bulk"},
		{"precedence list", "Precedence: List\r\n", true, "Precedence: list"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := []byte("From: someone@outside.example\r\nTo: security@example.test\r\nSubject: hello\r\nMessage-ID: <l@outside.example>\r\n" +
				tt.headers + "\r\nA report.\r\n")
			insp, err := Inspect(raw, DefaultConfig().limits())
			if err != nil {
				t.Fatal(err)
			}
			foreign, why := insp.isForeignList(own)
			if foreign != tt.foreign || !strings.Contains(why, tt.why) {
				t.Errorf("isForeignList = %v %q, want %v %q", foreign, why, tt.foreign, tt.why)
			}
			if got := insp.answerable(nil, own, false); got == tt.foreign {
				t.Errorf("answerable = %v for a foreign list %v", got, tt.foreign)
			}
			if !insp.answerable(nil, own, true) {
				t.Error("a released message is not answerable")
			}
		})
	}

	// Held, unanswered; released by an operator, it opens a case and the
	// reporter is answered.
	env := newProcEnv(t)
	in := env.ingest(readFixture(t, "list.eml"))
	if in.State != StateQuarantined || in.Class != ClassList || len(env.mailer.take()) != 0 {
		t.Fatalf("list mail ended %s/%s %q", in.State, in.Class, in.Reason)
	}
	ctx := context.Background()
	if err := NewQuarantine(env.db, plainRest{}).Release(ctx, in.ID); err != nil {
		t.Fatal(err)
	}
	if err := env.proc.Process(ctx, in.ID); err != nil {
		t.Fatal(err)
	}
	after, _ := getInbound(ctx, env.db.Reader(), in.ID)
	if after.State != StateProcessed || after.Class != ClassReport {
		t.Errorf("released list mail ended %s/%s %s", after.State, after.Class, after.Reason)
	}
	if got := kinds(env.mailer.take()); !slices.Equal(got, []string{"ack", "team-copy"}) {
		t.Errorf("released list mail: mail %v, want an ack and a team copy", got)
	}
}

// TestFollowUpCarriesKey: a follow-up's key (here armored in the text) is
// handed to the workflow with the message, which decides whether it becomes
// the reporter's key; a distributor's reply never carries one.
func TestFollowUpCarriesKey(t *testing.T) {
	env := newProcEnv(t)
	key := "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nbWVudGlvbg==\n-----END PGP PUBLIC KEY BLOCK-----"
	raw := []byte("From: Other Researcher <other@example.org>\r\nTo: security@example.test\r\nSubject: Key for [SEC-2026-0001]\r\n" +
		"Message-ID: <key1@example.org>\r\nContent-Type: text/plain\r\n\r\nPlease encrypt to my key:\r\n\r\n" + strings.ReplaceAll(key, "\n", "\r\n") + "\r\n")
	in := env.ingest(raw)
	if in.Class != ClassFollowUp {
		t.Fatalf("ended %s/%s %q", in.State, in.Class, in.Reason)
	}
	msgs := env.cases.messages[in.CaseID]
	if len(msgs) == 0 || strings.ReplaceAll(msgs[len(msgs)-1].Key, "\r\n", "\n") != key {
		t.Errorf("follow-up handed over without its key: %+v", msgs)
	}
	dist := env.ingest(readFixture(t, "distributor-ack.eml"))
	msgs = env.cases.messages[dist.CaseID]
	if dist.Class != ClassDistributorAck || len(msgs) == 0 || msgs[len(msgs)-1].Key != "" {
		t.Errorf("distributor reply %s handed over with a key: %+v", dist.Class, msgs)
	}
}

// TestTeamCopySkippedAlerts: a member without a usable key gets no copy
// of a report, and the lead is told who did not.
func TestTeamCopySkippedAlerts(t *testing.T) {
	env := newProcEnv(t)
	dir := env.proc.o.Directory.(*fakeDirectory)
	dir.members = append(dir.members, Member{Name: "Carol Member", Address: "carol@example.test"}) // no key
	in := env.ingest(readFixture(t, "report-clear.eml"))
	if in.Class != ClassReport {
		t.Fatalf("ended %s/%s %q", in.State, in.Class, in.Reason)
	}
	if got := env.cases.alerts; len(got) != 1 || got[0] != "team copy not sent to 1 member" {
		t.Errorf("alerts %q, want one about the copy carol did not get", got)
	}
}

// TestOwnMailThroughAList: our announcement coming back through a public
// list is our own mail (a loop), not a foreign list's.
func TestOwnMailThroughAList(t *testing.T) {
	env := newProcEnv(t)
	raw := []byte("From: security@example.test\r\nTo: announce@lists.example\r\nSubject: [SECURITY] release\r\n" +
		"Message-ID: <ann@example.test>\r\nList-Id: <announce.lists.example>\r\n" + LoopHeader + ": 1\r\n\r\nReleased.\r\n")
	in := env.ingest(raw)
	if in.State != StateProcessed || in.Class != ClassLoop {
		t.Errorf("our mail through a list ended %s/%s %q", in.State, in.Class, in.Reason)
	}
}
