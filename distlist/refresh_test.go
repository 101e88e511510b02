package distlist

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/secgate/secgate/crypto"
	"github.com/secgate/secgate/distlist/smtpsink"
	"github.com/secgate/secgate/internal/gpgtest"
	"github.com/secgate/secgate/internal/wkdtest"
)

// fakeLookup publishes a key per address; an address it does not have
// publishes nothing.
type fakeLookup map[string][]byte

func (f fakeLookup) Lookup(ctx context.Context, addr string) ([]byte, error) {
	if k, ok := f[addr]; ok {
		return k, nil
	}
	return nil, fmt.Errorf("%w: nothing for %s", ErrNotFound, addr)
}

// TestRefreshKeys: a published later state of the key on file (gpg moved
// its expiry) replaces it; an older copy, a different primary key for the
// address, a secret key and a key without the address never do; nothing
// published leaves the key as it is.
func TestRefreshKeys(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, smtpsink.Options{}, nil)
	if err := e.dir.CreateList(ctx, nil, "embargo", KindEmbargo, SourceCLI); err != nil {
		t.Fatal(err)
	}
	g := gpgtest.New(t)
	fpr, older, newer := g.KeyStates("Dana <dana@example.org>", "1y", "2y")
	other := g.Export(g.GenKey("Mallory <dana@example.org>", "ed25519"))
	g.Passphrase = ""
	secret := g.ExportSecret(fpr)
	wrongAddr := g.Export(g.GenKey("Eve <eve@example.org>", "ed25519"))
	if _, err := e.dir.AddRecipient(ctx, nil, "embargo", RecipientSpec{Name: "Dana", Address: "dana@example.org", Key: older}); err != nil {
		t.Fatal(err)
	}
	expiry := func() time.Time {
		t.Helper()
		ki, err := e.dir.ShowKey(ctx, fpr)
		if err != nil {
			t.Fatal(err)
		}
		return ki.Expires
	}
	first := expiry()

	for _, tc := range []struct {
		name      string
		published []byte
		outcome   string
		detail    string
		expiry    func(time.Time) bool
	}{
		{"nothing published", nil, RefreshNone, "", func(x time.Time) bool { return x.Equal(first) }},
		{"different primary key", other, RefreshDifferent, "not the key on file: not used", func(x time.Time) bool { return x.Equal(first) }},
		{"secret key", secret, RefreshFailed, "refused", func(x time.Time) bool { return x.Equal(first) }},
		{"key of another address", wrongAddr, RefreshFailed, "refused", func(x time.Time) bool { return x.Equal(first) }},
		{"later state", newer, RefreshUpdated, "expires ", func(x time.Time) bool { return x.After(first.Add(300 * 24 * time.Hour)) }},
		{"same again", newer, RefreshUnchanged, "", func(x time.Time) bool { return x.After(first.Add(300 * 24 * time.Hour)) }},
		{"older copy", older, RefreshKept, "older", func(x time.Time) bool { return x.After(first.Add(300 * 24 * time.Hour)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lookup := fakeLookup{}
			if tc.published != nil {
				lookup["dana@example.org"] = tc.published
			}
			rs, err := e.dir.RefreshKeys(ctx, lookup)
			if err != nil {
				t.Fatal(err)
			}
			if len(rs) != 1 || rs[0].Address != "dana@example.org" || rs[0].Fingerprint != fpr || rs[0].Outcome != tc.outcome ||
				!strings.Contains(rs[0].Detail, tc.detail) {
				t.Fatalf("refresh: %+v, want %s (%q)", rs, tc.outcome, tc.detail)
			}
			if x := expiry(); !tc.expiry(x) {
				t.Errorf("expiry on file %v (was %v)", x, first)
			}
			l, err := e.dir.List(ctx, "embargo")
			if err != nil || len(l.Recipients) != 1 || l.Recipients[0].Key.Fingerprint() != fpr {
				t.Errorf("the list's key changed: %+v %v", l, err)
			}
		})
	}
}

// TestRefreshKeysWKD: the real client finds a distributor's later key in
// the Web Key Directory of their domain, over HTTPS, and the refresh takes
// it; a primary key that changed there is reported, not used.
func TestRefreshKeysWKD(t *testing.T) {
	wkdtest.Root(t)
	const host = "wkd-refresh.secgate.invalid"
	ctx := context.Background()
	e := newEnv(t, smtpsink.Options{}, nil)
	if err := e.dir.CreateList(ctx, nil, "embargo", KindEmbargo, SourceCLI); err != nil {
		t.Fatal(err)
	}
	g := gpgtest.New(t)
	addr := "security@" + host
	fpr, older, newer := g.KeyStates("Distro <"+addr+">", "1y", "2y")
	if _, err := e.dir.AddRecipient(ctx, nil, "embargo", RecipientSpec{Name: "Distro", Address: addr, Key: older}); err != nil {
		t.Fatal(err)
	}
	var published *crypto.WKD
	publish := func(key []byte) {
		k, err := crypto.ParsePublicKey(key)
		if err != nil {
			t.Fatal(err)
		}
		published = crypto.NewWKD()
		if err := published.Add(addr, k); err != nil {
			t.Fatal(err)
		}
	}
	roots := wkdtest.ServeTLS443(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { published.ServeHTTP(w, r) }), "openpgpkey."+host, host)
	wkdtest.AddHost(t, "openpgpkey."+host)
	client := WKD{Client: &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}}

	publish(newer)
	rs, err := e.dir.RefreshKeys(ctx, client)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 1 || rs[0].Outcome != RefreshUpdated {
		t.Fatalf("refresh over WKD: %+v", rs)
	}
	publish(g.Export(g.GenKey("Distro <"+addr+">", "ed25519")))
	rs, err = e.dir.RefreshKeys(ctx, client)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 1 || rs[0].Outcome != RefreshDifferent || rs[0].Fingerprint != fpr {
		t.Fatalf("a different key over WKD: %+v", rs)
	}
}

// TestKeyReportRefreshed: the key report names each key the refresh
// changed or could not refresh, and nothing of those it found unchanged
// or published nowhere; a refresh with something to say makes a report
// on its own.
func TestKeyReportRefreshed(t *testing.T) {
	e := newEnv(t, smtpsink.Options{}, nil)
	rs := []Refresh{
		{Address: "a@example.org", Fingerprint: "AAAA", Outcome: RefreshUnchanged},
		{Address: "b@example.org", Fingerprint: "BBBB", Outcome: RefreshNone},
		{Address: "c@example.org", Fingerprint: "CCCC", Outcome: RefreshDifferent, Detail: "c@example.org publishes key DDDD, not the key on file: not used"},
		{Address: "e@example.org", Fingerprint: "EEEE", Outcome: RefreshUpdated, Detail: "expires 2028-01-01 (was 2027-01-01)"},
	}
	rep, err := e.dir.KeyReport(context.Background(), 0, nil, rs)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Key report of ", "c@example.org CCCC: different key: c@example.org publishes key DDDD", "e@example.org EEEE: updated: expires 2028-01-01"} {
		if !strings.Contains(rep, want) {
			t.Errorf("report lacks %q:\n%s", want, rep)
		}
	}
	for _, not := range []string{"AAAA", "BBBB"} {
		if strings.Contains(rep, not) {
			t.Errorf("report names %s:\n%s", not, rep)
		}
	}
	if rep, _ := e.dir.KeyReport(context.Background(), 0, nil, rs[:2]); rep != "" {
		t.Errorf("nothing to say, yet a report:\n%s", rep)
	}
}
