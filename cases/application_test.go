package cases

import (
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/secgate/secgate/distlist"
)

// apply takes an application from addr to list with key, in a
// transaction of its own.
func (e *env) apply(addr, list, text string, keys ...[]byte) ApplicationResult {
	e.t.Helper()
	var res ApplicationResult
	err := e.db.Tx(e.ctx, func(tx *sql.Tx) error {
		var err error
		res, err = e.wf.ReceiveApplication(e.ctx, tx, ApplicationMail{From: addr, List: list, Text: text, Keys: keys, Received: e.clock.Now()})
		return err
	})
	if err != nil {
		e.t.Fatalf("ReceiveApplication: %v", err)
	}
	return res
}

// TestApplicationDecisions: only a lead-role member decides an
// application, once; a line of the rationale never runs as a command,
// whoever's signed mail it reaches; an address already on the list is not
// taken; the welcome goes encrypted to the applicant's key and names no
// other distributor.
func TestApplicationDecisions(t *testing.T) {
	e := newEnv(t)
	if err := e.dir.CreateList(e.ctx, nil, "embargo", distlist.KindEmbargo, ""); err != nil {
		t.Fatal(err)
	}
	if err := e.dir.SetApplications(e.ctx, nil, "embargo", true, []string{"Be a distribution"}); err != nil {
		t.Fatal(err)
	}
	other := testKey(t, "other@vendor.example", 0)
	if _, err := e.dir.AddRecipient(e.ctx, nil, "embargo", distlist.RecipientSpec{Address: "other@vendor.example", Key: []byte(armorPub(t, other))}); err != nil {
		t.Fatal(err)
	}
	dk := testKey(t, "psirt@distro.example", 0)
	e.keys["psirt@distro.example"] = dk
	res := e.apply("psirt@distro.example", "embargo", "We ship it.\n/list approve APP-2026-0001\n", []byte(armorPub(t, dk)))
	if res.Ref != "APP-2026-0001" || res.Refused != "" || res.Key == nil {
		t.Fatalf("application: %+v", res)
	}
	lastContains(t, "application to alice", e.mailsTo("alice@example.org", MailApplication), "[ ] Be a distribution")
	if r := e.apply("other@vendor.example", "embargo", "again", []byte(armorPub(t, other))); !strings.Contains(r.Refused, "on the list already") {
		t.Errorf("an address on the list: %+v", r)
	}

	send := func(from, body string) {
		t.Helper()
		e.clock.Advance(time.Minute)
		addr := from[strings.Index(from, "<")+1 : len(from)-1]
		e.handle(e.signed(from, e.keys[addr], "Re: application", body, e.clock.Now().Add(-time.Second)))
	}
	c := e.open(false)
	for _, tc := range []struct{ from, body, want string }{
		{"Alice <alice@example.org>", "/list approve APP-2026-0001", "line of untrusted text"},
		{"Alice <alice@example.org>", "/case " + c.Ref + "\n/list approve APP-2026-0001", "line of untrusted text"},
		{"Bob <bob@example.org>", "/list approve  APP-2026-0001", "needs the lead role"},
		{"Alice <alice@example.org>", "/list approve APP-2026-0099", "there is no application APP-2026-0099"},
		{"Alice <alice@example.org>", "/list deny APP-2026-0001", "needs a reason"},
		{"Alice <alice@example.org>", "/list approve APP-2026-0001 now", "wrong arguments"},
	} {
		send(tc.from, tc.body)
		addr := tc.from[strings.Index(tc.from, "<")+1 : len(tc.from)-1]
		lastContains(t, "answer to "+tc.body, e.mailsTo(addr, MailAnswer), tc.want)
	}
	if apps, _ := e.wf.Applications(e.ctx, AppPending); len(apps) != 1 {
		t.Fatalf("pending after the refusals: %+v", apps)
	}
	send("Alice <alice@example.org>", "/list  approve APP-2026-0001")
	lastContains(t, "answer", e.mailsTo("alice@example.org", MailAnswer), "APP-2026-0001 approved: psirt@distro.example added to embargo")
	welcome := e.mailsTo("psirt@distro.example", MailApplicant)
	lastContains(t, "welcome", welcome, "was approved")
	if strings.Contains(welcome[0], "other@vendor.example") || strings.Contains(welcome[0], "alice@example.org") {
		t.Errorf("the welcome names someone else:\n%s", welcome[0])
	}
	send("Alice <alice@example.org>", "/list deny APP-2026-0001 too late")
	lastContains(t, "answer", e.mailsTo("alice@example.org", MailAnswer), "APP-2026-0001 was approved already")
}

func TestAfterFields(t *testing.T) {
	for _, tc := range []struct {
		rest string
		n    int
		want string
	}{
		{"deny APP-2026-0001 not a distribution", 2, "not a distribution"},
		{"suspend\ta@b.example   leaked  it ", 2, "leaked  it"},
		{"deny APP-2026-0001", 2, ""},
		{"deny", 2, ""},
		{"", 1, ""},
	} {
		if got := afterFields(tc.rest, tc.n); got != tc.want {
			t.Errorf("afterFields(%q, %d) = %q, want %q", tc.rest, tc.n, got, tc.want)
		}
	}
}

// TestApproveExpiredKey: an application whose key expired before the
// decision is not approved (the welcome could go to no key); it can still
// be denied, in clear, naming nothing but the application.
func TestApproveExpiredKey(t *testing.T) {
	e := newEnv(t)
	if err := e.dir.CreateList(e.ctx, nil, "embargo", distlist.KindEmbargo, ""); err != nil {
		t.Fatal(err)
	}
	if err := e.dir.SetApplications(e.ctx, nil, "embargo", true, nil); err != nil {
		t.Fatal(err)
	}
	k := testKey(t, "psirt@distro.example", 30*24*time.Hour+2*time.Hour) // expires 2 hours after t0
	res := e.apply("psirt@distro.example", "embargo", "We ship it.", []byte(armorPub(t, k)))
	if res.Ref == "" || res.Key == nil {
		t.Fatalf("application: %+v (the key is usable when it applies)", res)
	}
	e.clock.Advance(3 * time.Hour)
	alice := e.keys["alice@example.org"]
	e.handle(e.signed("Alice <alice@example.org>", alice, "Re: application", "/list approve "+res.Ref, e.clock.Now().Add(-time.Second)))
	lastContains(t, "answer", e.mailsTo("alice@example.org", MailAnswer), "cannot be encrypted to now")
	if l, _ := e.dir.List(e.ctx, "embargo"); len(l.Recipients) != 0 {
		t.Errorf("added with an expired key: %+v", l.Recipients)
	}
	e.clock.Advance(time.Minute)
	e.handle(e.signed("Alice <alice@example.org>", alice, "Re: application", "/list deny "+res.Ref+" the key expired", e.clock.Now().Add(-time.Second)))
	lastContains(t, "answer", e.mailsTo("alice@example.org", MailAnswer), "signed, in clear (their key cannot be encrypted to)")
	if n := e.count(`SELECT count(*) FROM outbox WHERE recipient = 'psirt@distro.example' AND kind = ? AND encrypt = 0`, MailApplicant); n != 1 {
		t.Errorf("%d denials in clear, want 1", n)
	}
}
