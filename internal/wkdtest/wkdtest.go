// Package wkdtest lets a test play a domain's web server for the real
// gpg and for secgate's own Web Key Directory client: a CA made for the
// test and trusted system-wide (dirmngr reads the system's trust store),
// names resolved to 127.0.0.1 through /etc/hosts, HTTPS on port 443.
// Everything is undone when the test ends. It needs root, as the
// real-stack tests that install and start Postfix and Dovecot do.
package wkdtest

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
	"strings"
	"syscall"
	"testing"
	"time"
)

// lock holds the machine-wide lock of the port, the trust store entry and
// the hosts lines until the test ends: test binaries of several packages
// run at once.
func lock(t testing.TB) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(os.TempDir(), "secgate-wkdtest.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() })
}

// Root skips the test unless it runs as root.
func Root(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: it adds a test CA to the system trust store, a name to /etc/hosts and listens on port 443 (make test runs as root)")
	}
}

// AddHost makes name resolve to 127.0.0.1 (a line in /etc/hosts) until
// the test ends.
func AddHost(t testing.TB, name string) {
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

// ServeTLS443 serves h on 127.0.0.1:443 for the names, with a certificate
// of a CA made for the test and trusted system-wide until the test ends.
// It returns the CA as a pool for Go clients: Go reads the system's roots
// once per process, perhaps before the CA was added.
func ServeTLS443(t testing.TB, h http.Handler, names ...string) *x509.CertPool {
	t.Helper()
	lock(t)
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
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return pool
}
