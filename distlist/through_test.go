package distlist

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/secgate/secgate/crypto"
	"github.com/secgate/secgate/distlist/smtpsink"
	"github.com/secgate/secgate/internal/clock"
	"github.com/secgate/secgate/internal/gpgtest"
	"github.com/secgate/secgate/store"
)

// throughKey is a distributor whose key meets the notice's disclosure time
// (T0, 21 days after the notice is queued) one way. The keys are made and
// changed by gpg, as a distributor would.
type throughKey struct {
	user    string
	expire  string // gpg's expiry of the key and its encryption subkey when made
	shorten string // the expiry the distributor sets after the notice was queued ("": none)
	broken  bool   // the notice has no T0 (an embargo-broken notice), only "now"
	want    string // "sent", "skipped" when queued, "failed" when sent
}

// throughKeys: the notice is sent three days after it was queued.
var throughKeys = []throughKey{
	{user: "distro1", expire: "never", want: "sent"},
	{user: "distro2", expire: "10d", want: "skipped"},                // valid now, not through T0
	{user: "distro3", expire: "60d", shorten: "10d", want: "failed"}, // through T0 when queued, no longer when sent
	{user: "distro4", expire: "2d", broken: true, want: "failed"},    // valid when queued, expired when sent
}

// gpgKey makes a key for uid whose primary key and encryption subkey
// expire after expire (gpg's notation: "10d", "never").
func gpgKey(t testing.TB, g *gpgtest.GPG, uid, expire string) string {
	t.Helper()
	r := g.Run(nil, "--passphrase", "", "--quick-gen-key", uid, "ed25519", "sign,cert", expire)
	a := r.Args("KEY_CREATED")
	if r.Err != nil || len(a) < 2 {
		t.Fatalf("gpg quick-gen-key: %v\n%s", r.Err, r.Stderr)
	}
	if r := g.Run(nil, "--passphrase", "", "--quick-add-key", a[1], "cv25519", "encr", expire); r.Err != nil {
		t.Fatalf("gpg quick-add-key: %v\n%s", r.Err, r.Stderr)
	}
	return a[1]
}

// setExpiry sets the expiry of key fpr and of its subkeys to expire.
func setExpiry(t testing.TB, g *gpgtest.GPG, fpr, expire string) {
	t.Helper()
	for _, sub := range [][]string{nil, {"*"}} {
		if r := g.Run(nil, append([]string{"--passphrase", "", "--quick-set-expire", fpr, expire}, sub...)...); r.Err != nil {
			t.Fatalf("gpg quick-set-expire: %v\n%s", r.Err, r.Stderr)
		}
	}
}

// throughT0 queues an embargo notice with T0 in 21 days (and, for the keys
// that say so, an embargo-broken notice without T0) to the distributors of
// throughKeys, changes their keys as they say, sends three days later over
// cfg as from, and checks each distributor's fate: skipped when queued,
// failed with the team told, or sent. addr is a user's address; delivered
// counts what reached a user's mailbox (waiting for want).
func throughT0(t *testing.T, cfg SMTPConfig, from string, addr func(user string) string, delivered func(user string, want int) int) {
	ctx := context.Background()
	g := gpgtest.New(t)
	fprs := map[string]string{}
	for _, k := range throughKeys {
		fprs[k.user] = gpgKey(t, g, "Distributor <"+addr(k.user)+">", k.expire)
	}
	// The clock starts once the keys exist: gpg made them at this time.
	now := time.Now().Add(time.Second).Truncate(time.Second)
	clk := clock.NewFake(now)
	t0 := now.Add(21 * 24 * time.Hour)
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "gw.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	dir := NewDirectory(db, clk, nil)
	if err := dir.CreateList(ctx, nil, "embargo", KindEmbargo, SourceConfig); err != nil {
		t.Fatal(err)
	}
	for _, k := range throughKeys {
		if _, err := dir.AddRecipient(ctx, nil, "embargo", RecipientSpec{Address: addr(k.user), Key: g.Export(fprs[k.user])}); err != nil {
			t.Fatal(err)
		}
	}
	team, err := crypto.GenerateKey("Security Team", from, crypto.GenerateOptions{Created: now.Add(-time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	ob, err := NewOutbox(ctx, OutboxOptions{DB: db, Directory: dir, TeamKey: team, Clock: clk,
		Config: Config{From: "Security Team <" + from + ">", SMTP: cfg}})
	if err != nil {
		t.Fatal(err)
	}
	list, err := dir.List(ctx, "embargo")
	if err != nil {
		t.Fatal(err)
	}
	byAddr := map[string]Recipient{}
	for _, r := range list.Recipients {
		byAddr[r.Address] = r
	}
	var skipped []Skipped
	for _, broken := range []bool{false, true} {
		m := Mail{Kind: "embargo-notice", CaseID: 42, NoticeID: "SEC-2026-0042/embargo", List: "embargo", Encrypt: true, ValidThrough: t0,
			Content: textContent("[SEC-2026-0042] Embargoed", "Public disclosure in 21 days.")}
		if broken {
			m.NoticeID, m.ValidThrough = "SEC-2026-0042/broken", time.Time{}
		}
		for _, k := range throughKeys {
			if k.broken == broken {
				m.Recipients = append(m.Recipients, byAddr[addr(k.user)])
			}
		}
		err := db.Tx(ctx, func(tx *sql.Tx) error {
			sk, err := ob.Enqueue(ctx, tx, m)
			skipped = append(skipped, sk...)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range throughKeys {
		if k.shorten == "" {
			continue
		}
		setExpiry(t, g, fprs[k.user], k.shorten)
		// gpg signed the new expiry now, in real time: a clock behind that
		// would see the signature as made in the future and ignore it.
		if real := time.Now().Add(time.Second).Truncate(time.Second); real.After(clk.Now()) {
			clk.Set(real)
		}
		if _, _, err := dir.ImportKey(ctx, nil, g.Export(fprs[k.user]), ImportOptions{Address: addr(k.user), ForEncryption: true}); err != nil {
			t.Fatal(err)
		}
	}
	clk.Set(now.Add(3 * 24 * time.Hour))
	if err := ob.Flush(ctx); err != nil {
		t.Fatal(err)
	}

	rows, err := ob.Rows(ctx, RowFilter{})
	if err != nil {
		t.Fatal(err)
	}
	state := map[string]Row{}
	for _, r := range rows {
		state[r.Recipient] = r
	}
	evs, err := ob.UntoldEvents(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	told := map[string]string{}
	for _, ev := range evs {
		told[ev.Recipient] = ev.Kind
	}
	for _, k := range throughKeys {
		a := addr(k.user)
		r, queued := state[a]
		isSkipped := false
		for _, s := range skipped {
			if s.Recipient.Address == a {
				isSkipped = true
				if !strings.Contains(s.Reason, "expires before "+t0.UTC().Format(time.RFC3339)) {
					t.Errorf("%s skipped because %q, want its key expiring before T0", k.user, s.Reason)
				}
			}
		}
		want := map[string]int{"sent": 1}[k.want]
		switch got := delivered(k.user, want); {
		case k.want == "skipped" && (!isSkipped || queued):
			t.Errorf("%s: skipped %v, row %+v; want it skipped when queued", k.user, isSkipped, r)
		case k.want == "failed" && (r.State != StateFailed || !strings.Contains(r.LastReply, "not sent") || told[a] != EventKeyInvalid):
			t.Errorf("%s: row %+v, event %q; want it failed right before sending and the team told", k.user, r, told[a])
		case k.want == "sent" && r.State != StateSent:
			t.Errorf("%s: row %+v, want it sent", k.user, r)
		case got != want:
			t.Errorf("%s: %d messages delivered, want %d", k.user, got, want)
		}
	}
}

// TestKeyValidThroughT0 runs throughT0 against the sink: a key is checked
// now and through the notice's T0 when the notice is queued, and again,
// with the key the directory holds then, right before it is sent.
func TestKeyValidThroughT0(t *testing.T) {
	sink, err := smtpsink.Start(smtpsink.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	throughT0(t, SMTPConfig{Addr: sink.Addr, TLS: TLSNone, Parallel: 1}, "security@example.org",
		func(user string) string { return user + "@distro.example" },
		func(user string, _ int) int {
			n := 0
			for _, m := range sink.Messages() {
				if len(m.To) == 1 && m.To[0] == user+"@distro.example" {
					n++
				}
			}
			return n
		})
}
