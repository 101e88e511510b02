package crypto

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/secgate/secgate/internal/gpgtest"
)

// wkdHost is the made-up domain of the WKD test: it resolves to 127.0.0.1
// only through the line the test adds to /etc/hosts.
const wkdHost = "wkd-test.secgate.invalid"

// TestWKDOverHTTPS: gpg, asked to locate the team address by WKD alone,
// fetches the key our directory serves over HTTPS (advanced method, then
// direct) and imports the team key. The test plays the domain's web
// server: a test CA it adds to the system's trust store (which dirmngr
// reads), a name in /etc/hosts, port 443 on 127.0.0.1; all three are
// undone when it ends. It needs root, as the real-stack tests do.
func TestWKDOverHTTPS(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: it adds a test CA to the system trust store, a name to /etc/hosts and listens on port 443 (make test runs as root)")
	}
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
	serveTLS443(t, h, "openpgpkey."+wkdHost, wkdHost)
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
			addHost(t, tc.host)
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

// addHost makes name resolve to 127.0.0.1 (a line in /etc/hosts) until
// the test ends.
func addHost(t *testing.T, name string) {
	t.Helper()
	hosts, err := os.ReadFile("/etc/hosts")
	if err != nil {
		t.Fatal(err)
	}
	line := "127.0.0.1 " + name + " # secgate test\n"
	if err := os.WriteFile("/etc/hosts", append(hosts, line...), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		now, err := os.ReadFile("/etc/hosts")
		if err == nil {
			os.WriteFile("/etc/hosts", []byte(strings.Replace(string(now), line, "", 1)), 0o644)
		}
	})
}

// serveTLS443 serves h on 127.0.0.1:443 for the names, with a certificate
// of a CA made for the test and trusted system-wide until the test ends.
func serveTLS443(t *testing.T, h http.Handler, names ...string) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "secgate test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	srvKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	srvDER, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{SerialNumber: big.NewInt(2),
		Subject: pkix.Name{CommonName: names[0]}, DNSNames: names, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}},
		ca, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}

	const anchor = "/usr/local/share/ca-certificates/secgate-test-ca.crt"
	if err := os.WriteFile(anchor, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o644); err != nil {
		t.Fatal(err)
	}
	updateCAs := func() {
		if out, err := exec.Command("update-ca-certificates").CombinedOutput(); err != nil {
			t.Errorf("update-ca-certificates: %v\n%s", err, out)
		}
	}
	t.Cleanup(func() {
		os.Remove(anchor)
		updateCAs()
		// update-ca-certificates rebuilds the bundle without the CA but
		// leaves its links in the hashed directory: remove them.
		links, _ := filepath.Glob("/etc/ssl/certs/*")
		for _, l := range links {
			if target, err := os.Readlink(l); err == nil && (target == anchor || filepath.Base(target) == "secgate-test-ca.pem") {
				os.Remove(l)
			}
		}
	})
	updateCAs()

	ln, err := net.Listen("tcp", "127.0.0.1:443")
	if err != nil {
		t.Fatalf("port 443: %v", err)
	}
	srv := &http.Server{Handler: h, TLSConfig: &tls.Config{Certificates: []tls.Certificate{{
		Certificate: [][]byte{srvDER}, PrivateKey: srvKey}}}, ReadHeaderTimeout: 5 * time.Second}
	go srv.ServeTLS(ln, "", "")
	t.Cleanup(func() { srv.Close() })
}
