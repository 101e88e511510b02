package crypto

import (
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/secgate/secgate/internal/gpgtest"
	"github.com/secgate/secgate/internal/wkdtest"
)

// wkdHost is the made-up domain of the WKD test: it resolves to 127.0.0.1
// only through the line the test adds to /etc/hosts.
const wkdHost = "wkd-test.secgate.invalid"

// TestWKDOverHTTPS: gpg, asked to locate the team address by WKD alone,
// fetches the key our directory serves over HTTPS (advanced method, then
// direct) and imports the team key. The test plays the domain's web
// server: a test CA it adds to the system's trust store (which dirmngr
// reads), a name in /etc/hosts, port 443 on 127.0.0.1 (package wkdtest).
func TestWKDOverHTTPS(t *testing.T) {
	wkdtest.Root(t)
	team, err := GenerateKey("Security Team", "security@"+wkdHost, GenerateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w := NewWKD()
	if err := w.Add("security@"+wkdHost, team); err != nil {
		t.Fatal(err)
	}
	var (
		mu     sync.Mutex
		served []string
	)
	asked := func() []string { mu.Lock(); defer mu.Unlock(); return slices.Clone(served) }
	h := http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		mu.Lock()
		served = append(served, r.Host+r.URL.Path)
		mu.Unlock()
		w.ServeHTTP(rw, r)
	})
	wkdtest.ServeTLS443(t, h, "openpgpkey."+wkdHost, wkdHost)
	// gpg tries the advanced method's host first and the direct method
	// only when that host does not exist: each method's test makes only
	// its own host resolve.
	for _, tc := range []struct{ method, host, path string }{
		{"advanced", "openpgpkey." + wkdHost, "/.well-known/openpgpkey/" + wkdHost + "/hu/" + WKDHash("security")},
		{"direct", wkdHost, "/.well-known/openpgpkey/hu/" + WKDHash("security")},
	} {
		t.Run(tc.method, func(t *testing.T) {
			mu.Lock()
			served = nil
			mu.Unlock()
			wkdtest.AddHost(t, tc.host)
			g := gpgtest.New(t)
			r := g.Run(nil, "--auto-key-locate", "clear,nodefault,wkd", "--locate-keys", "security@"+wkdHost)
			if r.Err != nil || !r.Has("IMPORT_OK") {
				t.Fatalf("gpg --locate-keys: %v\n%s\nserved: %v", r.Err, r.Stderr, asked())
			}
			if !strings.Contains(string(r.Stdout), team.Fingerprint()) {
				t.Errorf("gpg located another key:\n%s", r.Stdout)
			}
			if !slices.Contains(asked(), tc.host+tc.path) {
				t.Errorf("gpg asked %v, not %s%s", asked(), tc.host, tc.path)
			}
		})
	}
}
