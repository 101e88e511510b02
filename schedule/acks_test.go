package schedule

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/secgate/secgate/cases"
	"github.com/secgate/secgate/distlist"
	"github.com/secgate/secgate/store"
)

// ackOutbox is the fake outbox that also writes the rows the real one
// writes to the outbox table, queued, which the acknowledgement table
// reads; deliver marks them sent, as the SMTP 250 does. It remembers the
// thread each mail was sent in.
type ackOutbox struct {
	*fakeOutbox
	mu     sync.Mutex
	thread map[string]string // notice|recipient -> In-Reply-To
}

func (o *ackOutbox) Enqueue(ctx context.Context, tx *sql.Tx, m distlist.Mail) ([]distlist.Skipped, error) {
	sk, err := o.fakeOutbox.Enqueue(ctx, tx, m)
	if err != nil {
		return nil, err
	}
	skipped := map[string]bool{}
	for _, s := range sk {
		skipped[s.Recipient.Address] = true
	}
	now := store.Millis(o.clk.Now())
	for _, r := range m.Recipients {
		if skipped[r.Address] {
			continue
		}
		addr := strings.ToLower(r.Address)
		id := fmt.Sprintf("%s.%s@test", m.NoticeID, addr)
		if _, err := tx.ExecContext(ctx, `INSERT INTO outbox (notice_id, kind, case_id, list, recipient, encrypt, message_id, token,
			env_from, state, created, next_attempt) VALUES (?, ?, ?, ?, ?, 1, ?, ?, 'bounce@test', 'queued', ?, ?) ON CONFLICT DO NOTHING`,
			m.NoticeID, m.Kind, m.CaseID, m.List, addr, id, id, now, now); err != nil {
			return nil, err
		}
		o.mu.Lock()
		o.thread[m.NoticeID+"|"+addr] = m.InReplyTo
		o.mu.Unlock()
	}
	return sk, nil
}

// Withdraw implements Outbox over the outbox table, as the real one does.
func (o *ackOutbox) Withdraw(ctx context.Context, tx *sql.Tx, caseID int64, kinds []string, reason string) (int64, error) {
	var n int64
	for _, k := range kinds {
		res, err := tx.ExecContext(ctx, `UPDATE outbox SET state = 'failed', last_reply = ? WHERE case_id = ? AND kind = ? AND state = 'queued'`,
			"withdrawn: "+reason, caseID, k)
		if err != nil {
			return n, err
		}
		m, _ := res.RowsAffected()
		n += m
	}
	return n, nil
}

func newAckEnv(t *testing.T, now time.Time, changes ...func(*Config)) (*env, *ackOutbox) {
	t.Helper()
	e := newEnv(t, now, "knative")
	ob := &ackOutbox{fakeOutbox: e.out, thread: map[string]string{}}
	e.ob = ob
	e.s = e.newScheduler("knative", changes...)
	return e, ob
}

// deliver marks the queued copies of notices of kind delivered at at.
func (e *env) deliver(kind string, at time.Time) {
	e.t.Helper()
	if _, err := e.db.Writer().ExecContext(e.ctx, `UPDATE outbox SET state = 'sent', finished = ? WHERE kind = ? AND state = 'queued'`,
		store.Millis(at), kind); err != nil {
		e.t.Fatal(err)
	}
}

var codeRE = regexp.MustCompile(`/ack (ACK-[A-Z2-7]{12})`)

// noticeCode returns the acknowledgement code the notice of kind carries.
func (e *env) noticeCode(kind string) (notice, code string) {
	e.t.Helper()
	for _, m := range e.mails() {
		if m.Kind == kind {
			if sm := codeRE.FindStringSubmatch(m.Entity); sm != nil {
				notice, code = m.Notice, sm[1]
			}
		}
	}
	if code == "" {
		e.t.Fatalf("no %s with an acknowledgement code in %v", kind, e.mails())
	}
	return notice, code
}

// reply is a distributor's signed reply to their copy of notice, quoting
// text; sig is its signature's identity.
func reply(c *cases.Case, notice, from, text, sig string) AckReply {
	return AckReply{CaseID: c.ID, InboundID: 1, MessageID: "reply-" + sig + "@vendor.example", From: from,
		Thread: []string{fmt.Sprintf("<%s.%s@test>", notice, from)}, KeyOnFile: "FPR-" + from, Signer: "FPR-" + from,
		SignedWhole: true, SignatureID: sig, Text: text, Received: c.Received.Add(Day)}
}

func (e *env) acknowledge(r AckReply) AckVerdict {
	e.t.Helper()
	var v AckVerdict
	if err := e.tx(func(tx *sql.Tx) error {
		var err error
		v, err = e.s.Acknowledge(e.ctx, tx, r)
		return err
	}); err != nil {
		e.t.Fatal(err)
	}
	return v
}

// ackMails returns the lines of the reminders and escalations queued.
func (e *env) ackMails() []string {
	var out []string
	for _, m := range e.mails() {
		if m.Kind == MailAckReminder || strings.HasSuffix(m.Notice, "-ack-escalation") {
			out = append(out, m.String())
		}
	}
	return out
}

// TestAckReminderTiming runs the reminder and the escalation of an embargo
// notice on a fake clock: vendor1 acknowledges, vendor2 stays silent. Each
// comes exactly at its time (not a millisecond before), once, never at or
// after T0; the escalation is clamped to 24 hours before T0.
func TestAckReminderTiming(t *testing.T) {
	now := utc("2026-11-20 09:30")
	delivered := now.Add(time.Minute)
	zero := time.Duration(0)
	for _, tc := range []struct {
		name     string
		t0       time.Time
		force    string
		change   func(*Config)
		remind   time.Time // zero: never
		escalate time.Time
	}{
		{name: "defaults", t0: now.Add(25 * Day), remind: delivered.Add(48 * time.Hour), escalate: now.Add(96 * time.Hour)},
		{name: "escalation at the latest 24h before T0", t0: now.Add(4 * Day), force: "short embargo",
			remind: delivered.Add(48 * time.Hour), escalate: now.Add(3 * Day)},
		{name: "no reminder at or after T0", t0: delivered.Add(48 * time.Hour), force: "short embargo",
			escalate: delivered.Add(24 * time.Hour)},
		{name: "ack_reminder 0 turns it off", t0: now.Add(25 * Day), escalate: now.Add(96 * time.Hour),
			change: func(c *Config) { p := c.Policies["knative"]; p.AckReminder = &zero; c.Policies["knative"] = p }},
		{name: "ack_escalate 0 turns it off", t0: now.Add(25 * Day), remind: delivered.Add(48 * time.Hour),
			change: func(c *Config) { p := c.Policies["knative"]; p.AckEscalate = &zero; c.Policies["knative"] = p }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var changes []func(*Config)
			if tc.change != nil {
				changes = append(changes, tc.change)
			}
			e, ob := newAckEnv(t, now, changes...)
			c := e.newCase(1, "knative", now.Add(-5*Day))
			if _, err := e.disclose(c, tc.t0, tc.force); err != nil {
				t.Fatal(err)
			}
			notice, code := e.noticeCode(MailEmbargoNotice)
			e.deliver(MailEmbargoNotice, delivered)
			e.clk.Set(delivered.Add(time.Hour))
			if v := e.acknowledge(reply(c, notice, "sec@vendor1.example", "> /ack "+code+"\nReady.", "sig-1")); !v.Counted {
				t.Fatalf("vendor1's acknowledgement: %+v", v)
			}
			check := func(at time.Time, want ...string) {
				t.Helper()
				e.clk.Set(at)
				for range 2 { // the second check sends nothing again
					if _, err := e.s.CheckAcks(e.ctx); err != nil {
						t.Fatal(err)
					}
				}
				if got := e.ackMails(); strings.Join(got, "\n") != strings.Join(want, "\n") {
					t.Errorf("at %s:\n  %s\nwant:\n  %s", at.Format(layoutUTC), strings.Join(got, "\n  "), strings.Join(want, "\n  "))
				}
			}
			type step struct {
				at   time.Time
				line string
			}
			var steps []step
			if !tc.remind.IsZero() {
				steps = append(steps, step{tc.remind, tc.remind.Format("2006-01-02 15:04") + " ack-reminder encrypted to psirt@vendor2.example"})
			}
			if !tc.escalate.IsZero() {
				steps = append(steps, step{tc.escalate, tc.escalate.Format("2006-01-02 15:04") + " reminder encrypted to alice@team.example"})
			}
			if len(steps) == 2 && steps[1].at.Before(steps[0].at) {
				steps[0], steps[1] = steps[1], steps[0]
			}
			var want []string
			for _, st := range steps {
				check(st.at.Add(-time.Millisecond), want...)
				want = append(want, st.line)
				check(st.at, want...)
			}
			check(tc.t0.Add(-time.Millisecond), want...)
			check(tc.t0.Add(Day), want...)
			if !tc.remind.IsZero() {
				if got, w := ob.thread[notice+"-ack-reminder|psirt@vendor2.example"], notice+".psirt@vendor2.example@test"; got != w {
					t.Errorf("the reminder is in the thread of %q, want %q (vendor2's copy of the notice)", got, w)
				}
				for _, m := range e.mails() {
					if m.Kind == MailAckReminder && !strings.Contains(m.Entity, "/ack "+code) {
						t.Errorf("the reminder does not carry the notice's code:\n%s", m.Entity)
					}
				}
			}
			for _, m := range e.mails() {
				if strings.HasSuffix(m.Notice, "-ack-escalation") && (!strings.Contains(m.Entity, "psirt@vendor2.example") || strings.Contains(m.Entity, "sec@vendor1.example")) {
					t.Errorf("the escalation does not name the silent vendor2 alone:\n%s", m.Entity)
				}
			}
		})
	}
}

// TestAckPreReleaseNotice: the pre-release notice, sent 24 hours before T0,
// is neither reminded (48 hours would be after T0) nor escalated (24 hours
// before T0 is when it went out); its acknowledgement counts for it alone.
func TestAckPreReleaseNotice(t *testing.T) {
	now := utc("2026-11-20 09:30")
	e, _ := newAckEnv(t, now, func(c *Config) {
		zero := time.Duration(0)
		p := c.Policies["knative"]
		p.AckEscalate, p.AckReminder = &zero, &zero // the embargo notice's own are tested above
		c.Policies["knative"] = p
	})
	c := e.newCase(1, "knative", now.Add(-5*Day))
	t0 := now.Add(25 * Day)
	if _, err := e.disclose(c, t0, ""); err != nil {
		t.Fatal(err)
	}
	e.s = e.newScheduler("knative") // the defaults from here on
	e.deliver(MailEmbargoNotice, now)
	embargo, embargoCode := e.noticeCode(MailEmbargoNotice)
	for _, r := range []string{"sec@vendor1.example", "psirt@vendor2.example"} {
		if v := e.acknowledge(reply(c, embargo, r, "/ack "+embargoCode, "sig-e-"+r)); !v.Counted {
			t.Fatal(v.Line)
		}
	}
	e.advance(t0.Add(-Day))
	pre, preCode := e.noticeCode(MailPreReleaseNotice)
	if preCode == embargoCode {
		t.Fatal("the pre-release notice has the embargo notice's code")
	}
	e.deliver(MailPreReleaseNotice, t0.Add(-Day))
	// vendor1 quotes the embargo notice's code in the pre-release thread.
	if v := e.acknowledge(reply(c, pre, "sec@vendor1.example", "> /ack "+embargoCode, "sig-p1")); v.Counted ||
		!strings.Contains(v.Line, "another notice of this case") {
		t.Errorf("the embargo notice's code in the pre-release thread: %+v", v)
	}
	for _, at := range []time.Time{t0.Add(-Day), t0.Add(-time.Hour), t0.Add(-time.Millisecond)} {
		e.clk.Set(at)
		if _, err := e.s.CheckAcks(e.ctx); err != nil {
			t.Fatal(err)
		}
	}
	if got := e.ackMails(); len(got) != 0 {
		t.Errorf("reminders of the pre-release notice: %v", got)
	}
	as, err := e.s.Acks(e.ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	var silent []string
	for _, a := range as {
		if a.Silent() {
			silent = append(silent, a.Recipient+" "+a.Notice)
		}
	}
	if strings.Join(silent, ",") != "sec@vendor1.example pre-release notice,psirt@vendor2.example pre-release notice" {
		t.Errorf("silent: %v", silent)
	}
}

// TestAckCrashSafe: a reminder whose transaction fails is neither recorded
// nor sent, and goes out at the next check; a restarted scheduler on the
// same database sends nothing twice.
func TestAckCrashSafe(t *testing.T) {
	now := utc("2026-11-20 09:30")
	e, _ := newAckEnv(t, now)
	c := e.newCase(1, "knative", now.Add(-5*Day))
	if _, err := e.disclose(c, now.Add(25*Day), ""); err != nil {
		t.Fatal(err)
	}
	e.deliver(MailEmbargoNotice, now)
	e.clk.Set(now.Add(48 * time.Hour))
	e.out.fail = 1
	if _, err := e.s.CheckAcks(e.ctx); err == nil {
		t.Fatal("CheckAcks with a failing outbox: no error")
	}
	var n int
	e.db.Reader().QueryRow(`SELECT count(*) FROM ack_nudge`).Scan(&n)
	if n != 0 || len(e.ackMails()) != 0 {
		t.Fatalf("a failed reminder left %d nudges and mails %v", n, e.ackMails())
	}
	if sent, err := e.s.CheckAcks(e.ctx); err != nil || sent != 2 {
		t.Fatalf("CheckAcks after the failure: %d sent, %v; want the two reminders", sent, err)
	}
	e.s = e.newScheduler("knative") // a restart
	e.clk.Set(now.Add(10 * Day))
	if _, err := e.s.CheckAcks(e.ctx); err != nil {
		t.Fatal(err)
	}
	e.s = e.newScheduler("knative")
	if _, err := e.s.CheckAcks(e.ctx); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"2026-11-22 09:30 ack-reminder encrypted to psirt@vendor2.example,sec@vendor1.example",
		"2026-11-30 09:30 reminder encrypted to alice@team.example",
	}
	if got := e.ackMails(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("mails:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	audits := map[string]int{}
	for _, ev := range e.events(c.ID) {
		audits[ev.A]++
	}
	if audits["ack-reminder"] != 2 || audits["ack-escalation"] != 1 {
		t.Errorf("audited %d reminders and %d escalations, want 2 and 1", audits["ack-reminder"], audits["ack-escalation"])
	}
}

// TestAckWithdrawnNoReminder: a withdrawn plan and a broken embargo
// remind nobody, and withdraw the reminders still waiting in the outbox; a
// recipient removed from the list is not reminded.
func TestAckWithdrawnNoReminder(t *testing.T) {
	now := utc("2026-11-20 09:30")
	for _, end := range []string{"withdrawn", "broken", "removed"} {
		t.Run(end, func(t *testing.T) {
			e, _ := newAckEnv(t, now)
			c := e.newCase(1, "knative", now.Add(-5*Day))
			if _, err := e.disclose(c, now.Add(25*Day), ""); err != nil {
				t.Fatal(err)
			}
			e.deliver(MailEmbargoNotice, now)
			if end != "removed" {
				// The reminders are queued, not sent yet, when the plan ends.
				e.clk.Set(now.Add(2 * Day))
				if _, err := e.s.CheckAcks(e.ctx); err != nil || len(e.ackMails()) != 1 {
					t.Fatalf("reminders before the plan ended: %v %v", e.ackMails(), err)
				}
			}
			e.clk.Set(now.Add(2*Day + time.Hour))
			err := e.tx(func(tx *sql.Tx) error {
				switch end {
				case "withdrawn":
					c.State = cases.StateInvalid
					e.cases.put(c)
					return e.s.Withdraw(e.ctx, tx, c, "not a vulnerability", e.lead.Fingerprint)
				case "broken":
					return e.s.PublishNow(e.ctx, tx, c, "public on a forum", e.lead.Fingerprint)
				}
				l := e.dir.lists["embargo"]
				l.Recipients = l.Recipients[:1]
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			e.clk.Set(now.Add(5 * Day))
			if _, err := e.s.CheckAcks(e.ctx); err != nil {
				t.Fatal(err)
			}
			got := e.ackMails()
			if end == "removed" {
				// vendor1 is still on the list and reminded; vendor2 is
				// not; the lead hears that both are silent.
				if len(got) != 2 || !strings.Contains(got[0], "ack-reminder encrypted to sec@vendor1.example") {
					t.Errorf("after vendor2 left the list: %v", got)
				}
				return
			}
			if len(got) != 1 {
				t.Errorf("reminders or escalation of a %s notice: %v", end, got)
			}
			var waiting int
			e.db.Reader().QueryRow(`SELECT count(*) FROM outbox WHERE kind = ? AND state = 'queued'`, MailAckReminder).Scan(&waiting)
			if waiting != 0 {
				t.Errorf("%d reminders of a %s notice still wait to go out", waiting, end)
			}
		})
	}
}

// TestAckJudge decides replies to the embargo notice of case 1: only a
// reply in the thread of the sender's own copy, signed by their key on
// file over the whole mail, holding this notice's code, and never counted
// before counts.
func TestAckJudge(t *testing.T) {
	now := utc("2026-11-20 09:30")
	e, _ := newAckEnv(t, now)
	c1 := e.newCase(1, "knative", now.Add(-5*Day))
	c2 := e.newCase(2, "knative", now.Add(-5*Day))
	if _, err := e.disclose(c1, now.Add(25*Day), ""); err != nil {
		t.Fatal(err)
	}
	n1, code1 := e.noticeCode(MailEmbargoNotice)
	if _, err := e.disclose(c2, now.Add(26*Day), ""); err != nil {
		t.Fatal(err)
	}
	var n2, code2 string
	for _, m := range e.mails() {
		if m.Kind == MailEmbargoNotice && strings.Contains(m.Notice, c2.Ref) {
			n2, code2 = m.Notice, codeRE.FindStringSubmatch(m.Entity)[1]
		}
	}
	e.deliver(MailEmbargoNotice, now)
	v1, v2 := "sec@vendor1.example", "psirt@vendor2.example"
	ok := reply(c1, n1, v1, "> /ack "+code1+"\n\nWe are ready.", "sig-ok")
	for _, tc := range []struct {
		name string
		r    func(AckReply) AckReply
		want string // the verdict line holds it; "counted" counts
	}{
		{"no thread", func(r AckReply) AckReply { r.Thread = nil; return r }, "none: its thread names no notice"},
		{"another recipient's copy", func(r AckReply) AckReply { r.Thread = []string{n1 + "." + v2 + "@test"}; return r }, "another recipient's copy"},
		{"unsigned", func(r AckReply) AckReply { r.Signer, r.SignedWhole, r.SignatureID = "", false, ""; return r }, "not signed by their key on file"},
		{"signed by another key", func(r AckReply) AckReply { r.Signer = "FPR-MALLORY"; return r }, "signed by another key FPR-MALLORY"},
		{"no key on file", func(r AckReply) AckReply { r.KeyOnFile = ""; return r }, "no key of"},
		{"partly signed", func(r AckReply) AckReply { r.SignedWhole = false; return r }, "covers only part"},
		{"no code", func(r AckReply) AckReply { r.Text = "Thanks, noted."; return r }, "does not hold the notice's acknowledgement code"},
		{"another case's code", func(r AckReply) AckReply { r.Text = "/ack " + code2; r.SignatureID = "sig-2"; return r }, "a notice of another case, SEC-2026-0002"},
		{"both codes", func(r AckReply) AckReply { r.Text = "/ack " + code1 + "\n> /ack " + code2; return r }, "another case"},
		{"an unknown code", func(r AckReply) AckReply { r.Text = "/ack ACK-AAAAAAAAAAAA"; return r }, "no notice's of this gateway"},
		{"lower case code", func(r AckReply) AckReply { r.Text = "/ack " + strings.ToLower(code1); return r }, "counted"},
		{"the same signature again", func(r AckReply) AckReply { return r }, "counted before"},
		{"a second acknowledgement", func(r AckReply) AckReply { r.SignatureID = "sig-again"; return r }, "not counted again"},
		{"its copy in another thread", func(r AckReply) AckReply {
			return reply(c2, n2, v1, r.Text, r.SignatureID)
		}, "a notice of another case, SEC-2026-0001"},
		{"a copy by another recipient", func(r AckReply) AckReply {
			r.From, r.Thread, r.KeyOnFile, r.Signer = v2, []string{n1 + "." + v2 + "@test"}, "FPR-"+v2, "FPR-"+v2
			return r
		}, "counted before"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := e.acknowledge(tc.r(ok))
			if tc.want == "counted" {
				if !v.Counted {
					t.Fatalf("not counted: %s", v.Line)
				}
				return
			}
			if v.Counted || !strings.Contains(v.Line, tc.want) {
				t.Errorf("verdict %+v, want not counted, %q", v, tc.want)
			}
		})
	}
	as, err := e.s.Acks(e.ctx, c1.ID)
	if err != nil {
		t.Fatal(err)
	}
	var acked []string
	for _, a := range as {
		if !a.Acknowledged.IsZero() {
			acked = append(acked, a.Recipient)
		}
	}
	if strings.Join(acked, ",") != v1 {
		t.Errorf("acknowledged: %v, want %s alone", acked, v1)
	}
	var audits []string
	for _, ev := range e.events(c1.ID) {
		if strings.HasPrefix(ev.A, "ack") {
			audits = append(audits, ev.A)
		}
	}
	counted, refused := 0, 0
	for _, a := range audits {
		switch a {
		case "ack":
			counted++
		case "ack-not-counted":
			refused++
		}
	}
	if counted != 1 || refused < 9 {
		t.Errorf("audit: %d ack, %d ack-not-counted (%v); want 1 and every refusal", counted, refused, audits)
	}
}

// FuzzAckCodes: every code ackCodes finds is one the text holds (in any
// case), upper-cased, of the code's form, and found once.
func FuzzAckCodes(f *testing.F) {
	for _, s := range []string{"/ack ACK-K7Q2M3XDABCD", "> /ack ack-k7q2m3xdabcd\n/ack ACK-K7Q2M3XDABCD ACK-AAAAAAAAAAAA",
		"ACK-K7Q2M3XDABCDE", "xACK-K7Q2M3XDABCD", "ACK-K7Q2M3XDABC", "ACK-\u212a7Q2M3XDABCD"} {
		f.Add(s)
	}
	form := regexp.MustCompile(`^ACK-[A-Z2-7]{12}$`)
	f.Fuzz(func(t *testing.T, text string) {
		seen := map[string]bool{}
		for _, c := range ackCodes(text) {
			if !form.MatchString(c) || seen[c] || !strings.Contains(strings.ToUpper(text), c) {
				t.Fatalf("ackCodes(%q) returned %q", text, c)
			}
			seen[c] = true
		}
	})
}

// BenchmarkCheckAcks measures one check of the job loop over 200 cases
// whose embargo notices went to two distributors each, none due: what
// every turn of the loop costs.
func BenchmarkCheckAcks(b *testing.B) {
	now := utc("2026-11-20 09:30")
	e := newEnv(b, now, "knative")
	e.ob = &ackOutbox{fakeOutbox: e.out, thread: map[string]string{}}
	e.s = e.newScheduler("knative")
	for i := int64(1); i <= 200; i++ {
		c := e.newCase(i, "knative", now.Add(-5*Day))
		if _, err := e.disclose(c, now.Add(25*Day), ""); err != nil {
			b.Fatal(err)
		}
	}
	e.deliver(MailEmbargoNotice, now)
	e.clk.Set(now.Add(time.Hour))
	b.ResetTimer()
	for range b.N {
		if n, err := e.s.CheckAcks(e.ctx); err != nil || n != 0 {
			b.Fatal(n, err)
		}
	}
}
