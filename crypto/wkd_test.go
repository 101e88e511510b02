package crypto

import (
	"bytes"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/secgate/secgate/internal/gpgtest"
)

// TestWKDHash: the draft's own example, and the ASCII-only lower-casing
// (a non-ASCII letter is hashed as it is).
func TestWKDHash(t *testing.T) {
	for _, tt := range []struct{ local, want string }{
		{"Joe.Doe", "iy9q119eutrkn8s1mk4r39qejnbu3n5q"}, // draft-koch-openpgp-webkey-service §3.1
		{"joe.doe", "iy9q119eutrkn8s1mk4r39qejnbu3n5q"},
	} {
		if got := WKDHash(tt.local); got != tt.want {
			t.Errorf("WKDHash(%q) = %q, want %q", tt.local, got, tt.want)
		}
	}
	if WKDHash("Ä") == WKDHash("ä") {
		t.Error("non-ASCII letters were lower-cased; the draft maps only A-Z")
	}
}

// wksClient returns the path of gpg-wks-client (in gpg's libexec
// directory), or skips nothing: the test needs it as gpg needs gpg.
func wksClient(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("gpgconf", "--list-dirs", "libexecdir").Output()
	if err != nil {
		t.Fatalf("gpgconf: %v (install gnupg, or run make test)", err)
	}
	p := filepath.Join(strings.TrimSpace(string(out)), "gpg-wks-client")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("gpg-wks-client: %v", err)
	}
	return p
}

// TestWKDLikeGnuPG: gpg-wks-client names each address's file as WKDHash
// does, and its --install-key tree holds the file where the advanced
// method's tree does; gpg imports the key the directory serves for an
// address and finds the one user ID of that address (a key with two
// addresses publishes each alone).
func TestWKDLikeGnuPG(t *testing.T) {
	g := gpgtest.New(t)
	fpr := g.GenKey("Security <Security@Example.ORG>", "ed25519")
	if r := g.Run(nil, "--quick-add-uid", fpr, "Other Project <vmt@example.org>"); r.Err != nil {
		t.Fatalf("add uid: %v %s", r.Err, r.Stderr)
	}
	k, err := ParsePublicKey(g.Export(fpr))
	if err != nil {
		t.Fatal(err)
	}
	wks := wksClient(t)
	w := NewWKD()
	for _, addr := range []string{"Security@Example.ORG", "vmt@example.org"} {
		if err := w.Add(addr, k); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(wks, "--print-wkd-hash", addr).Output()
		if err != nil {
			t.Fatalf("print-wkd-hash: %v", err)
		}
		theirs := strings.Fields(string(out))[0]
		local, _, _ := strings.Cut(addr, "@")
		if WKDHash(local) != theirs {
			t.Errorf("%s: hash %s, gpg-wks-client %s", addr, WKDHash(local), theirs)
		}
	}
	if err := w.Add("nobody@example.org", k); err == nil {
		t.Error("a key without the address's user ID was published")
	}

	// gpg-wks-client's own tree for the first address.
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "key.asc")
	if err := os.WriteFile(keyFile, g.Export(fpr), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "wkd"), 0o700); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(wks, "--install-key", "-C", filepath.Join(dir, "wkd"), keyFile, "Security@Example.ORG")
	cmd.Env = append(os.Environ(), "GNUPGHOME="+g.Home)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("install-key: %v\n%s", err, out)
	}
	files := w.Files()
	matches, _ := filepath.Glob(filepath.Join(dir, "wkd", "example.org", "hu", "*"))
	if len(matches) != 1 {
		t.Fatalf("gpg-wks-client wrote %v", matches)
	}
	ours := ".well-known/openpgpkey/example.org/hu/" + filepath.Base(matches[0])
	if _, ok := files[ours]; !ok {
		t.Fatalf("no %s among our files %v", ours, keysOf(files))
	}
	for _, p := range []string{".well-known/openpgpkey/example.org/policy", ".well-known/openpgpkey/policy",
		".well-known/openpgpkey/hu/" + filepath.Base(matches[0])} {
		if _, ok := files[p]; !ok {
			t.Errorf("no %s", p)
		}
	}

	// Served by both methods; gpg imports what is served.
	srv := httptest.NewServer(w)
	defer srv.Close()
	for _, tc := range []struct{ host, path, uid string }{
		{"openpgpkey.example.org", "/.well-known/openpgpkey/example.org/hu/" + WKDHash("security") + "?l=Security", "Security@Example.ORG"},
		{"example.org:443", "/.well-known/openpgpkey/hu/" + WKDHash("vmt") + "?l=vmt", "vmt@example.org"},
	} {
		req, _ := http.NewRequest("GET", srv.URL+tc.path, nil)
		req.Host = tc.host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/octet-stream" || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
			t.Fatalf("%s%s: %d %v", tc.host, tc.path, resp.StatusCode, resp.Header)
		}
		h := gpgtest.New(t)
		if r := h.Import(body); !r.Has("IMPORT_OK") {
			t.Fatalf("gpg import of the served key: %v", r.Status)
		}
		r := h.Run(nil, "--with-colons", "--list-keys", fpr)
		var uids []string
		for _, l := range strings.Split(string(r.Stdout), "\n") {
			if f := strings.Split(l, ":"); f[0] == "uid" {
				uids = append(uids, f[9])
			}
		}
		if len(uids) != 1 || !strings.Contains(uids[0], "<"+tc.uid+">") {
			t.Errorf("%s: gpg sees user IDs %q, want only the one of %s", tc.host, uids, tc.uid)
		}
	}
	for _, bad := range []struct{ host, path string }{
		{"openpgpkey.example.org", "/.well-known/openpgpkey/example.org/hu/" + WKDHash("nobody")},
		{"example.net", "/.well-known/openpgpkey/hu/" + WKDHash("vmt")},
		{"openpgpkey.example.org", "/.well-known/openpgpkey/example.org/../../../etc/passwd"},
		{"openpgpkey.example.org", "/index.html"},
	} {
		req, _ := http.NewRequest("GET", srv.URL+bad.path, nil)
		req.Host = bad.host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s%s: %d, want 404", bad.host, bad.path, resp.StatusCode)
		}
	}
}

func keysOf(m map[string][]byte) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

// TestAutocryptHeader: the field's keydata is the key gpg imports, with
// the user ID of the address alone, and a reader that ignores whitespace
// (as Autocrypt asks) rebuilds it from the folded words.
func TestAutocryptHeader(t *testing.T) {
	k := testKey(t, "team")
	v, err := k.AutocryptHeader("Team@Example.org")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(v, "addr=team@example.org; prefer-encrypt=mutual; keydata=") {
		t.Fatalf("header %q", v)
	}
	for _, w := range strings.Fields(v) {
		if len(w) > 78 {
			t.Errorf("word of %d characters cannot fold: %q", len(w), w)
		}
	}
	_, kd, _ := strings.Cut(v, "keydata=")
	bin, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(kd), ""))
	if err != nil {
		t.Fatal(err)
	}
	g := gpgtest.New(t)
	if r := g.Import(bin); !r.Has("IMPORT_OK") {
		t.Fatalf("gpg import: %v", r.Status)
	}
	if r := g.Run(nil, "--list-keys", k.Fingerprint()); r.Err != nil || !bytes.Contains(r.Stdout, []byte("team@example.org")) {
		t.Fatalf("gpg does not list %s: %v %s", k.Fingerprint(), r.Err, r.Stdout)
	}
	if _, err := k.AutocryptHeader("other@example.org"); err == nil {
		t.Error("an Autocrypt header for an address the key does not carry")
	}
}
