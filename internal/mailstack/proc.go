package mailstack

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// proc is a daemon master running in the foreground as our child.
type proc struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error         // exit status, valid after done
}

// spawn starts a daemon master in the foreground. Its stdout and stderr go
// to logPath (a file, not a pipe: a daemon that keeps them open can never
// block us). Pdeathsig stops it if the test process dies without running
// its cleanups (a test timeout, a crash).
func spawn(logPath, name string, args ...string) (*proc, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command(name, args...)
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM, Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM, waits up to grace, then kills the whole process
// group. A zero grace kills the group at once.
func (p *proc) stop(grace time.Duration) error {
	if p == nil {
		return nil
	}
	pid := p.cmd.Process.Pid
	var err error
	switch {
	case p.exited():
	case grace == 0:
		syscall.Kill(-pid, syscall.SIGKILL)
		<-p.done
	default:
		syscall.Kill(pid, syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(grace):
			err = fmt.Errorf("pid %d ignored SIGTERM for %s; killed", pid, grace)
			syscall.Kill(pid, syscall.SIGKILL)
			<-p.done
		}
	}
	// Children left behind in the master's process group (the masters are
	// group leaders: Setpgid) go with it.
	syscall.Kill(-pid, syscall.SIGKILL)
	return err
}

// waitReady polls ready until it succeeds, the process exits or the
// deadline passes.
func (s *Stack) waitReady(p *proc, name string, deadline time.Time, ready func() error) error {
	for {
		err := ready()
		if err == nil {
			return nil
		}
		if p.exited() {
			return fmt.Errorf("%s exited during start (%v): %s", name, p.err, s.logTail(name, 15))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %s: %v: %s", name, startTimeout, err, s.logTail(name, 15))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// checkBanner connects to addr and checks that the greeting carries token,
// which tells our daemon from anything else that might hold the port.
func checkBanner(addr, token string, tlsConf *tls.Config) error {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	if tlsConf != nil {
		c = tls.Client(c, tlsConf)
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return fmt.Errorf("%s: read greeting: %w", addr, err)
	}
	if !strings.Contains(line, token) {
		return fmt.Errorf("%s: greeting %q is not from this stack", addr, strings.TrimSpace(line))
	}
	return nil
}

// stop shuts both daemons down and removes Dir, or keeps it (and logs its
// logs) when the test failed.
func (s *Stack) stop(t testing.TB) {
	// Postfix stops at once on SIGTERM. Dovecot's master waits about a
	// second for its children: nothing in a test stack is worth keeping, so
	// it and its process group are killed outright.
	errs := []error{s.postfix.stop(10 * time.Second), s.dovecot.stop(0)}
	if err := errors.Join(errs...); err != nil {
		t.Errorf("mailstack: stop: %v", err)
	}
	if t.Failed() {
		t.Logf("mailstack: test failed; kept %s\npostfix log:\n%s\ndovecot log:\n%s", s.Dir, s.logTail("postfix", 40), s.logTail("dovecot", 40))
		return
	}
	if err := os.RemoveAll(s.Dir); err != nil {
		t.Errorf("mailstack: remove %s: %v", s.Dir, err)
	}
}

// kill stops whatever start got running; used when a start fails.
func (s *Stack) kill() {
	s.postfix.stop(5 * time.Second)
	s.dovecot.stop(5 * time.Second)
}

// logTail returns the last n lines of a daemon's log and stderr.
func (s *Stack) logTail(name string, n int) string {
	var out []string
	for _, f := range []string{name + ".log", name + ".stderr"} {
		b, err := os.ReadFile(filepath.Join(s.Dir, "log", f))
		if err != nil || len(b) == 0 {
			continue
		}
		lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
		if len(lines) > n {
			lines = lines[len(lines)-n:]
		}
		out = append(out, lines...)
	}
	if len(out) == 0 {
		return "(no log)"
	}
	return strings.Join(out, "\n")
}

// tlsConfig is a client configuration that trusts the stack's certificate.
func (s *Stack) tlsConfig() *tls.Config {
	return &tls.Config{RootCAs: s.RootCAs, ServerName: "127.0.0.1"}
}

// TLSConfig returns a client TLS configuration that trusts the stack's
// self-signed certificate (Options.TLS), for serverName "127.0.0.1",
// "localhost" or "mail."+Domain.
func (s *Stack) TLSConfig(serverName string) *tls.Config {
	return &tls.Config{RootCAs: s.RootCAs, ServerName: serverName}
}

// writeCert writes a self-signed certificate and its key to dir.
func writeCert(dir, domain string) (*x509.CertPool, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "mail." + domain},
		DNSNames:              []string{"mail." + domain, "localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(30 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := os.WriteFile(filepath.Join(dir, "cert.pem"), certPEM, 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "key.pem"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return pool, nil
}
