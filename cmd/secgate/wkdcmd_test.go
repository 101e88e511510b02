package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/secgate/secgate/crypto"
	"github.com/secgate/secgate/internal/gpgtest"
)

// TestWKDExport: secgate wkd export writes the team key where a Web Key
// Directory client looks for the team address (gpg-wks-client names the
// same file, and gpg imports it as the team key with the address), says
// which further address is not published because the key does not carry
// it, and replaces an earlier export as a whole (a file no longer
// published does not linger).
func TestWKDExport(t *testing.T) {
	_, cfgPath, _ := initDir(t)
	raw, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	raw = []byte(strings.Replace(string(raw), "\naddresses = []\n", "\naddresses = [\"vmt@example.org\"]\n", 1))
	if err := os.WriteFile(cfgPath, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	team, err := teamPublicKey(cfg)
	if err != nil {
		t.Fatal(err)
	}
	www := filepath.Join(t.TempDir(), "www")
	stale := filepath.Join(www, ".well-known", "openpgpkey", "example.org", "hu", "stale")
	if err := os.MkdirAll(filepath.Dir(stale), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(stale, []byte("old key"), 0o644); err != nil {
		t.Fatal(err)
	}

	code, out, stderr := runCLI(t, nil, "wkd", "export", "-config", cfgPath, www)
	if code != 0 {
		t.Fatalf("wkd export: exit %d: %s", code, stderr)
	}
	hash := crypto.WKDHash("security")
	for _, want := range []string{
		"published      security@example.org  " + team.Fingerprint() + "  .well-known/openpgpkey/example.org/hu/" + hash,
		"not published  vmt@example.org: the team key " + team.Fingerprint() + " has no user ID with this address",
		"web root of https://openpgpkey.example.org/ (advanced method)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("the earlier export's file is still there: %v", err)
	}

	libexec, err := exec.Command("gpgconf", "--list-dirs", "libexecdir").Output()
	if err != nil {
		t.Fatal(err)
	}
	wks, err := exec.Command(filepath.Join(strings.TrimSpace(string(libexec)), "gpg-wks-client"), "--print-wkd-url", "security@example.org").Output()
	if err != nil {
		t.Fatalf("gpg-wks-client: %v", err)
	}
	// https://openpgpkey.example.org/.well-known/openpgpkey/example.org/hu/HASH?l=security
	_, path, _ := strings.Cut(strings.TrimSpace(string(wks)), "openpgpkey.example.org/")
	path, _, _ = strings.Cut(path, "?")
	for _, p := range []string{path, ".well-known/openpgpkey/hu/" + hash} {
		key, err := os.ReadFile(filepath.Join(www, filepath.FromSlash(p)))
		if err != nil {
			t.Fatalf("gpg-wks-client looks for %s: %v", p, err)
		}
		g := gpgtest.New(t)
		if r := g.Import(key); !r.Has("IMPORT_OK") {
			t.Fatalf("gpg import %s: %v", p, r.Status)
		}
		if r := g.Run(nil, "--list-keys", "security@example.org"); r.Err != nil || !strings.Contains(string(r.Stdout), team.Fingerprint()) {
			t.Errorf("gpg does not find the team key for the address in %s: %v %s", p, r.Err, r.Stdout)
		}
	}
}

// TestWebServesWKD: with [web] wkd the view's listener answers Web Key
// Directory requests (the advanced method's, named by the domain's Host)
// with the team key, and leaves every other path to the view.
func TestWebServesWKD(t *testing.T) {
	_, cfgPath, _ := initDir(t)
	cfg, err := LoadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	team, err := teamPublicKey(cfg)
	if err != nil {
		t.Fatal(err)
	}
	view := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
	h, err := withWKD(view, []*Config{cfg})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	get := func(host, path string) (*http.Response, []byte) {
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	resp, body := get("openpgpkey.example.org", "/.well-known/openpgpkey/example.org/hu/"+crypto.WKDHash("security")+"?l=security")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("WKD: %d", resp.StatusCode)
	}
	if k, err := crypto.ParsePublicKey(body); err != nil || k.Fingerprint() != team.Fingerprint() {
		t.Fatalf("WKD key: %v", err)
	}
	if resp, _ := get("127.0.0.1", "/"); resp.StatusCode != http.StatusTeapot {
		t.Errorf("the view's page answered %d by the WKD handler", resp.StatusCode)
	}
}
