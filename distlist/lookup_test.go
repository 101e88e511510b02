package distlist

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/secgate/secgate/crypto"
	"github.com/secgate/secgate/distlist/smtpsink"
)

// flakyLookup fails with a network error, as a server that is down.
type flakyLookup struct{}

func (flakyLookup) Lookup(ctx context.Context, addr string) ([]byte, error) {
	return nil, errors.New("dial tcp: connection refused")
}

// TestKeyRequests: a key looked up by address alone is never used on the
// web server's word: it waits for a member to confirm its fingerprint;
// a wrong fingerprint adds nothing; a key confirmed ahead (the
// configuration's) is added only when it is that key; what cannot be
// used fails at once and a failure that may pass is tried again, then
// fails.
func TestKeyRequests(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, smtpsink.Options{}, nil)
	if err := e.dir.CreateList(ctx, nil, "embargo", KindEmbargo, SourceCLI); err != nil {
		t.Fatal(err)
	}
	if err := e.dir.CreateList(ctx, nil, "announce", KindPublic, SourceCLI); err != nil {
		t.Fatal(err)
	}
	dana := testKey(t, "dana@example.org", "x25519", false)
	mallory := testKey(t, "dana@example.org", "ed25519", false) // another key carrying Dana's address
	eve := testKey(t, "eve@example.org", "x25519", false)
	expired := testKey(t, "olga@example.org", "x25519", true)
	secret, err := dana.ArmorPrivate([]byte("pass"))
	if err != nil {
		t.Fatal(err)
	}
	lookup := fakeLookup{
		"dana@example.org":  armorPub(t, dana),
		"frank@example.org": armorPub(t, eve), // a key without the address
		"olga@example.org":  armorPub(t, expired),
		"sam@example.org":   []byte(secret),
	}
	onList := func(addr string) string {
		t.Helper()
		l, err := e.dir.List(ctx, "embargo")
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range l.Recipients {
			if r.Address == addr {
				return r.Key.Fingerprint()
			}
		}
		return ""
	}
	type outcome struct {
		KeyFound
		state string
	}
	run := func(lk KeyLookup) map[string]outcome {
		t.Helper()
		reqs, err := e.dir.DueKeyRequests(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]outcome{}
		for _, r := range reqs {
			f := outcome{KeyFound: e.dir.FetchKey(ctx, lk, r)}
			err := e.db.Tx(ctx, func(tx *sql.Tx) (err error) {
				f.state, err = e.dir.RecordKey(ctx, tx, f.KeyFound)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			got[r.Address] = f
		}
		return got
	}
	request := func(addr, confirmed string) {
		t.Helper()
		if _, err := e.dir.RequestKey(ctx, nil, "embargo", addr, "MEMBERFPR", confirmed); err != nil {
			t.Fatal(err)
		}
	}
	confirm := func(addr, fpr string) error {
		return e.db.Tx(ctx, func(tx *sql.Tx) error {
			_, err := e.dir.ConfirmKey(ctx, tx, "embargo", addr, fpr, "MEMBERFPR", SourceCommand)
			return err
		})
	}

	if _, err := e.dir.RequestKey(ctx, nil, "announce", "dana@example.org", "MEMBERFPR", ""); err == nil {
		t.Error("a key request on a public list was taken")
	}
	for _, a := range []string{"dana@example.org", "frank@example.org", "olga@example.org", "sam@example.org", "nobody@example.org"} {
		request(a, "")
	}
	got := run(lookup)
	want := map[string]string{"dana@example.org": LookupFound, "frank@example.org": LookupFailed, "olga@example.org": LookupFailed,
		"sam@example.org": LookupFailed, "nobody@example.org": LookupFailed}
	for a, st := range want {
		if got[a].state != st {
			t.Errorf("%s: state %q (err %v), want %q", a, got[a].state, got[a].Err, st)
		}
		if onList(a) != "" {
			t.Errorf("%s is on the list before any confirmation", a)
		}
	}
	if f := got["dana@example.org"]; f.Fingerprint != dana.Fingerprint() || !slices.Contains(f.Emails, "dana@example.org") {
		t.Errorf("found %s %v, want Dana's key", f.Fingerprint, f.Emails)
	}
	if err := confirm("dana@example.org", mallory.Fingerprint()); err == nil || !strings.Contains(err.Error(), "nothing added") {
		t.Errorf("confirming another fingerprint: %v", err)
	}
	if onList("dana@example.org") != "" {
		t.Fatal("a wrong fingerprint added the entry")
	}
	if err := confirm("frank@example.org", eve.Fingerprint()); !errors.Is(err, ErrNotFound) {
		t.Errorf("confirming a failed lookup: %v, want not found", err)
	}
	spaced := strings.ToLower(dana.Fingerprint()[:4] + " " + dana.Fingerprint()[4:])
	if err := confirm("dana@example.org", spaced); err != nil {
		t.Fatalf("confirming the key's fingerprint: %v", err)
	}
	if got := onList("dana@example.org"); got != dana.Fingerprint() {
		t.Fatalf("on the list with %q, want %s", got, dana.Fingerprint())
	}
	if err := confirm("dana@example.org", dana.Fingerprint()); !errors.Is(err, ErrNotFound) {
		t.Errorf("a second confirmation: %v, want not found (used once)", err)
	}

	// Confirmed ahead, as the configuration does: the right key is added
	// at once, another one never.
	if err := e.dir.RemoveRecipient(ctx, nil, "embargo", "dana@example.org"); err != nil {
		t.Fatal(err)
	}
	request("dana@example.org", mallory.Fingerprint())
	if f := run(lookup)["dana@example.org"]; f.state != LookupFailed || onList("dana@example.org") != "" {
		t.Errorf("a key other than the one confirmed ahead: state %s, on list %q", f.state, onList("dana@example.org"))
	}
	request("dana@example.org", dana.Fingerprint())
	if f := run(lookup)["dana@example.org"]; f.state != LookupAdded || onList("dana@example.org") != dana.Fingerprint() {
		t.Errorf("the key confirmed ahead: state %s, on list %q", f.state, onList("dana@example.org"))
	}

	// A server that is down: tried again with a growing delay, then failed.
	request("paul@example.org", "")
	for i := range lookupAttempts {
		got := run(flakyLookup{})
		st := got["paul@example.org"].state
		if i < lookupAttempts-1 && st != LookupPending || i == lookupAttempts-1 && st != LookupFailed {
			t.Fatalf("attempt %d: state %q", i+1, st)
		}
		if again := run(flakyLookup{}); len(again) != 0 {
			t.Fatalf("attempt %d: tried again before its delay", i+1)
		}
		e.clock.Advance(lookupBackoff << i)
	}

	// A later request replaces an open one.
	request("quinn@example.org", "")
	request("quinn@example.org", "")
	if reqs, _ := e.dir.DueKeyRequests(ctx); len(reqs) != 1 {
		t.Errorf("%d open requests for one entry, want 1", len(reqs))
	}
}

// TestSyncWKDEntry: a configured entry with wkd = true joins its list only
// with the key its fingerprint names, once the lookup brought it; a
// changed fingerprint takes the entry off until the key named is found;
// a key_file beside wkd, a missing fingerprint or a public list are
// configuration errors.
func TestSyncWKDEntry(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, smtpsink.Options{}, nil)
	dana := testKey(t, "dana@example.org", "x25519", false)
	other := testKey(t, "dana@example.org", "ed25519", false)
	cfg := func(fpr string) Config {
		return Config{Lists: []ListConfig{{Name: "embargo", Kind: KindEmbargo,
			Recipients: []RecipientConfig{{Name: "Dana", Address: "dana@example.org", WKD: true, Fingerprint: fpr}}}}}
	}
	lookup := fakeLookup{"dana@example.org": armorPub(t, dana)}
	onList := func() string {
		t.Helper()
		l, err := e.dir.List(ctx, "embargo")
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range l.Recipients {
			return r.Key.Fingerprint()
		}
		return ""
	}
	lookUp := func() {
		t.Helper()
		reqs, err := e.dir.DueKeyRequests(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range reqs {
			f := e.dir.FetchKey(ctx, lookup, r)
			if err := e.db.Tx(ctx, func(tx *sql.Tx) error { _, err := e.dir.RecordKey(ctx, tx, f); return err }); err != nil {
				t.Fatal(err)
			}
		}
	}
	sync := func(c Config) {
		t.Helper()
		if _, err := CheckConfig(c, t0); err != nil {
			t.Fatalf("config check: %v", err)
		}
		if _, err := e.dir.Sync(ctx, c); err != nil {
			t.Fatal(err)
		}
	}

	spaced := dana.Fingerprint()[:20] + " " + dana.Fingerprint()[20:]
	sync(cfg(spaced))
	if got := onList(); got != "" {
		t.Fatalf("on the list with %s before the lookup", got)
	}
	lookUp()
	if got := onList(); got != dana.Fingerprint() {
		t.Fatalf("after the lookup: %q, want Dana's key", got)
	}
	sync(cfg(spaced)) // a restart keeps it, without asking again
	if got := onList(); got != dana.Fingerprint() {
		t.Fatalf("after a restart: %q", got)
	}
	if reqs, _ := e.dir.DueKeyRequests(ctx); len(reqs) != 0 {
		t.Errorf("a restart asked again: %d requests", len(reqs))
	}
	sync(cfg(other.Fingerprint())) // the configuration names another key
	if got := onList(); got != "" {
		t.Fatalf("with another fingerprint configured, still on the list with %s", got)
	}
	lookUp() // the published key is not the one named
	if got := onList(); got != "" {
		t.Fatalf("added with %s, which the configuration does not name", got)
	}

	for name, c := range map[string]Config{
		"no fingerprint": cfg(""),
		"key_file too":   {Lists: []ListConfig{{Name: "embargo", Kind: KindEmbargo, Recipients: []RecipientConfig{{Address: "dana@example.org", WKD: true, Fingerprint: dana.Fingerprint(), KeyFile: "dana.asc"}}}}},
		"public list":    {Lists: []ListConfig{{Name: "announce", Kind: KindPublic, Recipients: []RecipientConfig{{Address: "dana@example.org", WKD: true, Fingerprint: dana.Fingerprint()}}}}},
	} {
		if _, err := CheckConfig(c, t0); err == nil {
			t.Errorf("%s: config check passed", name)
		}
	}
}

// TestSyncWKDMember: a member configured with wkd = true is a member only
// once the lookup brought the key the configuration names; another key
// published under the address never makes them one.
func TestSyncWKDMember(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name      string
		published *crypto.Key
		member    bool
	}{
		{"the key named", testKey(t, "mia@example.org", "x25519", false), true},
		{"another key", testKey(t, "mia@example.org", "ed25519", false), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, smtpsink.Options{}, nil)
			named := testKey(t, "mia@example.org", "x25519", false)
			cfg := Config{Members: []MemberConfig{{Name: "Mia", Address: "mia@example.org", Role: "lead", WKD: true, Fingerprint: named.Fingerprint()}}}
			if _, err := CheckConfig(cfg, t0); err != nil {
				t.Fatal(err)
			}
			isMember := func() bool {
				t.Helper()
				team, err := e.dir.Team(ctx)
				if err != nil {
					t.Fatal(err)
				}
				return slices.ContainsFunc(team, func(m Member) bool { return m.Fingerprint == named.Fingerprint() })
			}
			if _, err := e.dir.Sync(ctx, cfg); err != nil {
				t.Fatal(err)
			}
			if isMember() {
				t.Fatal("a member before the lookup")
			}
			reqs, err := e.dir.DueKeyRequests(ctx)
			if err != nil || len(reqs) != 1 || reqs[0].List != "" {
				t.Fatalf("requests %+v (%v), want the member's", reqs, err)
			}
			f := e.dir.FetchKey(ctx, fakeLookup{"mia@example.org": armorPub(t, tc.published)}, reqs[0])
			var state string
			if err := e.db.Tx(ctx, func(tx *sql.Tx) (err error) { state, err = e.dir.RecordKey(ctx, tx, f); return err }); err != nil {
				t.Fatal(err)
			}
			if _, err := e.dir.Sync(ctx, cfg); err != nil {
				t.Fatal(err)
			}
			if got := isMember(); got != tc.member {
				t.Errorf("lookup %s: a member %v, want %v", state, got, tc.member)
			}
		})
	}
}
