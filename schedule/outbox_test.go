package schedule

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/secgate/secgate/cases"
	"github.com/secgate/secgate/crypto"
	"github.com/secgate/secgate/distlist"
	"github.com/secgate/secgate/internal/clock"
	"github.com/secgate/secgate/store"
	"github.com/secgate/secgate/templates"
)

// TestRealOutbox runs a timeline through the real directory and outbox:
// every distributor's notice is multipart/encrypted to that distributor
// alone, signed by the team key, with the calendar file inside; the
// announcement is multipart/signed and readable by anyone; no embargoed
// text is ever stored in clear.
func TestRealOutbox(t *testing.T) {
	ctx := context.Background()
	now := utc("2026-11-20 09:30")
	created := now.Add(-Day)
	clk := clock.NewFake(now)
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "secgate.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Writer().ExecContext(ctx, testSchema); err != nil {
		t.Fatal(err)
	}
	gen := func(name, addr string) *crypto.Key {
		k, err := crypto.GenerateKey(name, addr, crypto.GenerateOptions{Created: created})
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	armor := func(k *crypto.Key) []byte {
		a, err := k.ArmorPublic()
		if err != nil {
			t.Fatal(err)
		}
		return []byte(a)
	}
	team := gen("Example Security", "security@example.org")
	lead := gen("Alice Lead", "alice@team.example")
	v1 := gen("Vendor One", "sec@vendor1.example")
	v2 := gen("Vendor Two", "psirt@vendor2.example")
	dir := distlist.NewDirectory(db, clk, nil)
	err = db.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := dir.AddMember(ctx, tx, distlist.MemberSpec{Name: "Alice Lead", Address: "alice@team.example", Role: distlist.RoleLead, Key: armor(lead)}); err != nil {
			return err
		}
		if err := dir.CreateList(ctx, tx, "embargo", distlist.KindEmbargo, ""); err != nil {
			return err
		}
		if err := dir.CreateList(ctx, tx, "announce", distlist.KindPublic, ""); err != nil {
			return err
		}
		for _, r := range []distlist.RecipientSpec{
			{Name: "Vendor One", Address: "sec@vendor1.example", Key: armor(v1)},
			{Name: "Vendor Two", Address: "psirt@vendor2.example", Key: armor(v2)},
		} {
			if _, err := dir.AddRecipient(ctx, tx, "embargo", r); err != nil {
				return err
			}
		}
		_, err := dir.AddRecipient(ctx, tx, "announce", distlist.RecipientSpec{Address: "security-announce@lists.example"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	out, err := distlist.NewOutbox(ctx, distlist.OutboxOptions{DB: db, Directory: dir, TeamKey: team, Clock: clk,
		Config: distlist.Config{From: "security@example.org", SMTP: distlist.SMTPConfig{Addr: "127.0.0.1:1", TLS: distlist.TLSNone}}})
	if err != nil {
		t.Fatal(err)
	}
	set, err := templates.Load("")
	if err != nil {
		t.Fatal(err)
	}
	fc := &fakeCases{clk: clk, m: map[int64]*cases.Case{}}
	s, err := New(Options{DB: db, Directory: dir, Outbox: out, Cases: fc, Templates: set, Clock: clk,
		Project: templates.Project{Name: "Example"}, TeamAddress: "security@example.org"})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, ctx: ctx, db: db, clk: clk, cases: fc, s: s, lead: distlist.Member{Fingerprint: lead.Fingerprint()}}
	c := e.newCase(1, "knative", utc("2026-11-16 08:00"))
	if _, err := e.disclose(c, utc("2026-12-11 16:00"), ""); err != nil {
		t.Fatal(err)
	}
	e.advance(utc("2026-12-11 16:00"))

	// The outbox keeps the final bytes in outbox_message (earlier: in a
	// raw column of outbox); read whichever this schema has.
	rows, err := db.Reader().QueryContext(ctx, `SELECT o.kind, o.recipient, o.encrypt, m.raw FROM outbox o
		JOIN outbox_message m ON m.outbox_id = o.id WHERE o.case_id = 1 ORDER BY o.id`)
	if err != nil {
		rows, err = db.Reader().QueryContext(ctx, `SELECT kind, recipient, encrypt, raw FROM outbox WHERE case_id = 1 ORDER BY id`)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	keys := map[string]*crypto.Key{"sec@vendor1.example": v1, "psirt@vendor2.example": v2}
	var got []string
	for rows.Next() {
		var kind, rcpt string
		var enc bool
		var raw []byte
		if err := rows.Scan(&kind, &rcpt, &enc, &raw); err != nil {
			t.Fatal(err)
		}
		got = append(got, kind+" "+rcpt)
		if bytes.Contains(raw, []byte("write files anywhere")) && kind != MailAnnouncement {
			t.Errorf("%s to %s carries the impact in clear", kind, rcpt)
		}
		switch kind {
		case MailEmbargoNotice, MailPreReleaseNotice:
			if !enc || !bytes.Contains(raw, []byte("multipart/encrypted")) {
				t.Errorf("%s to %s is not encrypted", kind, rcpt)
				continue
			}
			// The other distributor cannot read it.
			for addr, k := range keys {
				if addr == rcpt {
					continue
				}
				if _, err := crypto.Open(raw, crypto.OpenOptions{Decrypt: k, Verifiers: []*crypto.Key{team}, Now: clk.Now()}); err == nil {
					t.Errorf("%s to %s opens with %s's key", kind, rcpt, addr)
				}
			}
			o, err := crypto.Open(raw, crypto.OpenOptions{Decrypt: keys[rcpt], Verifiers: []*crypto.Key{team.Public()}, Now: clk.Now()})
			if err != nil {
				t.Errorf("%s to %s: %v", kind, rcpt, err)
				continue
			}
			if o.Signature == nil || o.Signature.Err != nil || o.Signature.Fingerprint != team.Fingerprint() {
				t.Errorf("%s to %s: signature %+v", kind, rcpt, o.Signature)
			}
			text, atts, err := crypto.TextBody(o.Entity)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(text, "write files anywhere") {
				t.Errorf("%s text:\n%s", kind, text)
			}
			if len(atts) != 1 || !bytes.Contains(atts[0].Data, []byte("DTSTART:20261211T160000Z")) {
				t.Errorf("%s attachments: %+v", kind, atts)
			}
		case MailAnnouncement, MailPreAnnouncement:
			if k, ok := keys[rcpt]; ok {
				// knative: the embargo list hears the release too,
				// each distributor in a mail only their key opens.
				if kind != MailAnnouncement || !enc || !bytes.Contains(raw, []byte("multipart/encrypted")) {
					t.Errorf("%s to distributor %s is not an encrypted announcement", kind, rcpt)
					continue
				}
				o, err := crypto.Open(raw, crypto.OpenOptions{Decrypt: k, Verifiers: []*crypto.Key{team.Public()}, Now: clk.Now()})
				if err != nil || o.Signature == nil || o.Signature.Err != nil || o.Signature.Fingerprint != team.Fingerprint() {
					t.Errorf("announcement to %s: %v %+v", rcpt, err, o)
				}
				continue
			}
			if enc || !bytes.Contains(raw, []byte("multipart/signed")) || bytes.Contains(raw, []byte("multipart/encrypted")) {
				t.Errorf("announcement to %s is not signed-only", rcpt)
			}
			o, err := crypto.Open(raw, crypto.OpenOptions{Verifiers: []*crypto.Key{team.Public()}, Now: clk.Now()})
			if err != nil || o.Signature == nil || o.Signature.Err != nil {
				t.Errorf("announcement signature: %v %+v", err, o)
			}
			if !bytes.Contains(raw, []byte("[SECURITY]")) {
				t.Error("announcement subject not in clear")
			}
		}
	}
	want := "embargo-notice psirt@vendor2.example|embargo-notice sec@vendor1.example|pre-announcement security-announce@lists.example|" +
		"prerelease-notice psirt@vendor2.example|prerelease-notice sec@vendor1.example|" +
		"announcement security-announce@lists.example|announcement psirt@vendor2.example|announcement sec@vendor1.example"
	if g := strings.Join(got, "|"); g != want {
		t.Errorf("outbox rows:\n%s\nwant:\n%s", g, want)
	}
}

// TestFakeOutboxMatchesReal pins the harness's fake outbox to the real one:
// the same recipients, with keys that expire before, at or after the
// disclosure time (or never, or already), queued with a T0 ahead, without
// one, or with one already past, are skipped or queued alike by both. The
// scheduler's tests of the "valid through T0" rule then say what the
// real outbox does.
func TestFakeOutboxMatchesReal(t *testing.T) {
	ctx := context.Background()
	now := utc("2026-11-20 09:30")
	t0 := now.Add(22 * Day)
	clk := clock.NewFake(now)
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "secgate.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Writer().ExecContext(ctx, testSchema); err != nil {
		t.Fatal(err)
	}
	team, err := crypto.GenerateKey("Example Security", "security@example.org", crypto.GenerateOptions{Created: now.Add(-Day)})
	if err != nil {
		t.Fatal(err)
	}
	real, err := distlist.NewOutbox(ctx, distlist.OutboxOptions{DB: db, TeamKey: team, Clock: clk,
		Config: distlist.Config{From: "security@example.org", SMTP: distlist.SMTPConfig{Addr: "127.0.0.1:1", TLS: distlist.TLSNone}}})
	if err != nil {
		t.Fatal(err)
	}
	fake := &fakeOutbox{clk: clk}
	keys := []struct {
		name          string
		created       time.Time
		life          time.Duration
		skipThroughT0 bool // skipped when the mail must reach T0
		skipNow       bool // skipped when it need only be valid now
	}{
		{"never expires", now.Add(-365 * Day), 0, false, false},
		{"expired", now.Add(-400 * Day), 300 * Day, true, true},
		{"expires before T0", now.Add(-300 * Day), 310 * Day, true, false},
		{"expires at T0", now.Add(-300 * Day), 322 * Day, false, false}, // valid at T0 itself
		{"expires an hour after T0", now.Add(-300 * Day), 322*Day + time.Hour, false, false},
		{"expires after T0", now.Add(-300 * Day), 330 * Day, false, false},
		{"made tomorrow", now.Add(Day), 0, true, true},
	}
	var to []distlist.Recipient
	for i, k := range keys {
		addr := fmt.Sprintf("vendor%d@vendor.example", i)
		to = append(to, distlist.Recipient{Name: k.name, Address: addr, Key: testKey(t, k.name, addr, k.created, k.life)})
	}
	for _, through := range []struct {
		name string
		t    time.Time
	}{{"T0 ahead", t0}, {"no T0", time.Time{}}, {"T0 past", now.Add(-time.Hour)}} {
		skipped := map[string][]string{}
		for name, out := range map[string]Outbox{"real": real, "fake": fake} {
			err := db.Tx(ctx, func(tx *sql.Tx) error {
				sk, err := out.Enqueue(ctx, tx, distlist.Mail{Kind: MailEmbargoNotice, CaseID: 1, NoticeID: name + " " + through.name,
					Encrypt: true, ValidThrough: through.t, Recipients: to,
					Content: crypto.Content{Subject: "s", From: "security@example.org", Entity: []byte("Content-Type: text/plain\r\n\r\nb\r\n")}})
				for _, s := range sk {
					skipped[name] = append(skipped[name], s.Recipient.Name)
				}
				return err
			})
			if err != nil {
				t.Fatalf("%s outbox, %s: %v", name, through.name, err)
			}
		}
		var want []string
		for _, k := range keys {
			if k.skipNow || k.skipThroughT0 && through.t.After(now) {
				want = append(want, k.name)
			}
		}
		slices.Sort(want)
		for name, got := range skipped {
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("%s, %s outbox skipped %q, want %q", through.name, name, got, want)
			}
		}
	}
}
