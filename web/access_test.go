package web

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
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/secgate/secgate/internal/clock"
)

// TestAccessCheck: the view is served off loopback only to client
// certificates; the TLS settings go together.
func TestAccessCheck(t *testing.T) {
	full := Access{TLSCert: "c.pem", TLSKey: "k.pem", ClientCA: "ca.pem"}
	for _, tc := range []struct {
		addr string
		a    Access
		err  string
	}{
		{"127.0.0.1:9465", Access{}, ""},
		{"[::1]:9465", Access{}, ""},
		{"localhost:9465", Access{}, ""},
		{"127.0.0.1:9465", Access{TLSCert: "c.pem", TLSKey: "k.pem"}, ""},
		{"0.0.0.0:9465", Access{}, "not a loopback address"},
		{":9465", Access{}, "not a loopback address"},
		{"192.0.2.7:9465", Access{TLSCert: "c.pem", TLSKey: "k.pem"}, "not a loopback address"},
		{"0.0.0.0:9465", full, ""},
		{"0.0.0.0:9465", Access{ClientCA: "ca.pem"}, "client_ca needs tls_cert"},
		{"127.0.0.1:9465", Access{TLSCert: "c.pem"}, "go together"},
		{"9465", Access{}, "not host:port"},
	} {
		err := tc.a.Check(tc.addr)
		if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("Check(%q, %+v) = %v, want %q", tc.addr, tc.a, err, tc.err)
		}
	}
}

// pki is a test CA with the certificates it signed, written as PEM files.
type pki struct {
	dir  string
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newPKI(t *testing.T, name string) *pki {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	p := &pki{dir: t.TempDir(), cert: cert, key: key}
	p.write(t, "ca.pem", "CERTIFICATE", der)
	return p
}

func (p *pki) write(t *testing.T, name, typ string, der []byte) string {
	t.Helper()
	path := filepath.Join(p.dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// issue signs a certificate for name (a server's when server) and
// returns its certificate and key files.
func (p *pki) issue(t *testing.T, name string, server bool) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if server {
		tmpl.ExtKeyUsage, tmpl.IPAddresses = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, []net.IP{net.IPv4(127, 0, 0, 1)}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.cert, &key.PublicKey, p.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return p.write(t, name+".pem", "CERTIFICATE", der), p.write(t, name+".key", "EC PRIVATE KEY", kder)
}

// TestClientCertificates is the attack on a view served off loopback: a
// client without a certificate, or with one another CA signed (however
// it is named), is refused in the TLS handshake; a member's certificate,
// or an authenticating reverse proxy's, signed by client_ca, gets the
// pages.
func TestClientCertificates(t *testing.T) {
	ca, other := newPKI(t, "team CA"), newPKI(t, "someone else's CA")
	srvCert, srvKey := ca.issue(t, "view", true)
	a := Access{TLSCert: srvCert, TLSKey: srvKey, ClientCA: filepath.Join(ca.dir, "ca.pem")}
	h, err := New(Options{Projects: []Project{newFake().project("example")}, Clock: clock.NewFake(testNow)})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := a.Listener(raw)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ErrorLog: nil}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	roots := x509.NewCertPool()
	roots.AddCert(ca.cert)
	client := func(certFile, keyFile string) *http.Client {
		cfg := &tls.Config{RootCAs: roots}
		if certFile != "" {
			c, err := tls.LoadX509KeyPair(certFile, keyFile)
			if err != nil {
				t.Fatal(err)
			}
			// Sent whatever CAs the server asks for: a forger would.
			cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &c, nil }
		}
		return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}, Timeout: 10 * time.Second}
	}
	member, memberKey := ca.issue(t, "alice", false)
	proxy, proxyKey := ca.issue(t, "proxy", false)
	forged, forgedKey := other.issue(t, "alice", false)
	url := "https://" + raw.Addr().String() + "/"
	for _, tc := range []struct {
		name      string
		cert, key string
		ok        bool
	}{
		{"a member's certificate", member, memberKey, true},
		{"the reverse proxy's certificate", proxy, proxyKey, true},
		{"no certificate", "", "", false},
		{"a certificate of another CA with a member's name", forged, forgedKey, false},
	} {
		resp, err := client(tc.cert, tc.key).Get(url)
		if tc.ok {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
				continue
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Errorf("%s: %d", tc.name, resp.StatusCode)
			}
			continue
		}
		if err == nil {
			resp.Body.Close()
			t.Errorf("%s: got the page (%d)", tc.name, resp.StatusCode)
		}
	}
}
