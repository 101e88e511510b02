// Package gpgtest runs the real gpg binary in a temporary GNUPGHOME for
// interoperability tests: keys are generated or imported there, messages
// encrypted, signed, decrypted and verified, and gpg's machine-readable
// status lines ("[GNUPG:] VALIDSIG ...") are returned for the test to check.
//
// Status lines come from a dedicated file descriptor, never from the
// stream that carries the message or gpg's log output.
package gpgtest

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// GPG is one temporary GnuPG home.
type GPG struct {
	Home string
	// Passphrase, when set, is given to every command (loopback pinentry).
	Passphrase string

	t   testing.TB
	bin string
}

// New makes a temporary GNUPGHOME (short, so the agent's socket path fits)
// and stops its gpg-agent and removes it when the test ends. The test fails
// when gpg is not installed.
func New(t testing.TB) *GPG {
	t.Helper()
	bin, err := exec.LookPath("gpg")
	if err != nil {
		t.Fatalf("gpgtest: gpg not found (install gnupg, or run make test): %v", err)
	}
	home, err := os.MkdirTemp("", "gpg")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(home, 0o700); err != nil {
		t.Fatal(err)
	}
	conf := "allow-loopback-pinentry\n"
	if err := os.WriteFile(filepath.Join(home, "gpg-agent.conf"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	g := &GPG{Home: home, t: t, bin: bin}
	t.Cleanup(func() {
		cmd := exec.Command("gpgconf", "--homedir", home, "--kill", "gpg-agent")
		cmd.Env = append(os.Environ(), "GNUPGHOME="+home)
		_ = cmd.Run()
		_ = os.RemoveAll(home)
	})
	return g
}

// Result is the outcome of one gpg run.
type Result struct {
	Stdout []byte
	Stderr string
	Status []string // status lines without the "[GNUPG:] " prefix
	Err    error    // non-nil when gpg exited non-zero
}

// Has reports whether a status line has the keyword and, when given, begins
// with the arguments.
func (r *Result) Has(keyword string, args ...string) bool {
	return r.Args(keyword, args...) != nil
}

// Args returns the arguments of the first status line with the keyword
// (and the leading arguments given), or nil.
func (r *Result) Args(keyword string, args ...string) []string {
	for _, l := range r.Status {
		f := strings.Fields(l)
		if len(f) == 0 || f[0] != keyword || len(f)-1 < len(args) {
			continue
		}
		ok := true
		for i, a := range args {
			if f[i+1] != a {
				ok = false
				break
			}
		}
		if ok {
			return append([]string{}, f[1:]...)
		}
	}
	return nil
}

// Run runs gpg with the standard batch options and args, stdin as input.
// It never fails the test by itself: the caller checks Result.
func (g *GPG) Run(stdin []byte, args ...string) *Result {
	g.t.Helper()
	sr, sw, err := os.Pipe()
	if err != nil {
		g.t.Fatal(err)
	}
	base := []string{"--homedir", g.Home, "--batch", "--yes", "--no-tty",
		"--pinentry-mode", "loopback", "--trust-model", "always", "--status-fd", "3"}
	if g.Passphrase != "" {
		base = append(base, "--passphrase", g.Passphrase)
	}
	cmd := exec.Command(g.bin, append(base, args...)...)
	cmd.Env = append(os.Environ(), "GNUPGHOME="+g.Home, "LC_ALL=C")
	cmd.Stdin = bytes.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.ExtraFiles = []*os.File{sw}
	statusDone := make(chan []string)
	go func() {
		var lines []string
		sc := bufio.NewScanner(sr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			if l, ok := strings.CutPrefix(sc.Text(), "[GNUPG:] "); ok {
				lines = append(lines, l)
			}
		}
		_, _ = io.Copy(io.Discard, sr)
		statusDone <- lines
	}()
	err = cmd.Start()
	sw.Close()
	if err != nil {
		sr.Close()
		g.t.Fatalf("gpgtest: start gpg: %v", err)
	}
	err = cmd.Wait()
	status := <-statusDone
	sr.Close()
	return &Result{Stdout: stdout.Bytes(), Stderr: stderr.String(), Status: status, Err: err}
}

// must runs gpg and fails the test when it exits non-zero.
func (g *GPG) must(stdin []byte, args ...string) *Result {
	g.t.Helper()
	r := g.Run(stdin, args...)
	if r.Err != nil {
		g.t.Fatalf("gpg %s: %v\n%s\nstatus: %s", strings.Join(args, " "), r.Err, r.Stderr, strings.Join(r.Status, "\n"))
	}
	return r
}

// GenKey makes a key without passphrase for uid ("Name <addr>") and returns
// its fingerprint. algo is "ed25519" (signing primary key and a cv25519
// encryption subkey), "rsa3072" or "rsa4096" (RSA primary and subkey).
func (g *GPG) GenKey(uid, algo string) string {
	g.t.Helper()
	sub := map[string]string{"ed25519": "cv25519", "rsa3072": "rsa3072", "rsa4096": "rsa4096"}[algo]
	if sub == "" {
		g.t.Fatalf("gpgtest: GenKey: unknown algorithm %q", algo)
	}
	r := g.Run(nil, "--passphrase", "", "--quick-gen-key", uid, algo, "sign,cert", "never")
	if r.Err != nil {
		g.t.Fatalf("gpg quick-gen-key: %v\n%s", r.Err, r.Stderr)
	}
	a := r.Args("KEY_CREATED")
	if len(a) < 2 {
		g.t.Fatalf("gpg quick-gen-key: no KEY_CREATED status: %v", r.Status)
	}
	fpr := a[1]
	if r := g.Run(nil, "--passphrase", "", "--quick-add-key", fpr, sub, "encr", "never"); r.Err != nil {
		g.t.Fatalf("gpg quick-add-key: %v\n%s", r.Err, r.Stderr)
	}
	return fpr
}

// Import imports armored or binary keys, public or secret.
func (g *GPG) Import(keys []byte) *Result {
	g.t.Helper()
	return g.must(keys, "--import")
}

// Export returns the armored public key of fpr.
func (g *GPG) Export(fpr string) []byte {
	g.t.Helper()
	return g.must(nil, "--armor", "--export", fpr).Stdout
}

// ExportSecret returns the armored secret key of fpr, protected as it is in
// the keyring.
func (g *GPG) ExportSecret(fpr string) []byte {
	g.t.Helper()
	return g.must(nil, "--armor", "--export-secret-keys", fpr).Stdout
}

// Encrypt encrypts data to the key to (armored), signed by signer when it
// is not empty (one OpenPGP message: sign-then-encrypt).
func (g *GPG) Encrypt(data []byte, to, signer string) []byte {
	g.t.Helper()
	args := []string{"--armor", "--recipient", to}
	if signer != "" {
		args = append(args, "--local-user", signer, "--sign")
	}
	return g.must(data, append(args, "--encrypt")...).Stdout
}

// SignMode selects the kind of signature Sign makes.
type SignMode int

const (
	Detached     SignMode = iota // armored detached signature (PGP/MIME)
	Clearsign                    // cleartext-signed text
	Inline                       // armored signed PGP MESSAGE
	DetachedText                 // armored detached text-mode (0x01) signature, as mutt makes
)

// Sign signs data with signer's key.
func (g *GPG) Sign(data []byte, signer string, mode SignMode) []byte {
	g.t.Helper()
	args := []string{"--armor", "--local-user", signer, "--digest-algo", "SHA256"}
	switch mode {
	case Detached:
		args = append(args, "--detach-sign")
	case DetachedText:
		args = append(args, "--textmode", "--detach-sign")
	case Clearsign:
		args = append(args, "--clearsign")
	case Inline:
		args = append(args, "--sign")
	}
	return g.must(data, args...).Stdout
}

// Decrypt decrypts (and verifies, when signed) an OpenPGP message.
func (g *GPG) Decrypt(data []byte) *Result {
	g.t.Helper()
	return g.Run(data, "--decrypt")
}

// Verify checks a detached signature over data.
func (g *GPG) Verify(data, sig []byte) *Result {
	g.t.Helper()
	dir, err := os.MkdirTemp("", "gpgv")
	if err != nil {
		g.t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	dataFile, sigFile := filepath.Join(dir, "data"), filepath.Join(dir, "data.asc")
	if err := os.WriteFile(dataFile, data, 0o600); err != nil {
		g.t.Fatal(err)
	}
	if err := os.WriteFile(sigFile, sig, 0o600); err != nil {
		g.t.Fatal(err)
	}
	return g.Run(nil, "--verify", sigFile, dataFile)
}

// KeyStates makes a key for uid and returns it as it is after
// --quick-set-expire to first and then, a day later (gpg's clock faked),
// to second: two states of the same primary key, the second later, as a
// holder's refreshed key is.
func (g *GPG) KeyStates(uid, first, second string) (fpr string, older, newer []byte) {
	g.t.Helper()
	fpr = g.GenKey(uid, "ed25519")
	g.must(nil, "--quick-set-expire", fpr, first)
	older = g.Export(fpr)
	day := time.Now().UTC().Add(24*time.Hour).Format("20060102T150405") + "!"
	g.must(nil, "--faked-system-time", day, "--quick-set-expire", fpr, second)
	return fpr, older, g.Export(fpr)
}
