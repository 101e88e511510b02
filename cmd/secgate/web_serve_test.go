package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/secgate/secgate/web"
)

// freeAddr returns a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// withWeb writes f's configuration with metrics on a free port and the
// [web] section given, and returns its path.
func withWeb(t *testing.T, f *fixture, section string) string {
	t.Helper()
	b, err := os.ReadFile(f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	b = regexp.MustCompile(`(?m)^listen = "127\.0\.0\.1:9464"$`).ReplaceAll(b, []byte(`listen = "`+freeAddr(t)+`"`))
	b = bytes.Replace(b, []byte("\n[web]\n"), []byte("\n[web]\n"+section+"\n"), 1)
	b = bytes.Replace(b, []byte("\nlisten = \"\"\n"), []byte("\n"), 1) // the [web] one, empty
	b = regexp.MustCompile(`(?m)^(tls_cert|tls_key|client_ca) = ""\n`).ReplaceAll(b, nil)
	path := strings.TrimSuffix(f.cfg, ".toml") + "-web.toml"
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestServeWeb: secgate serve serves the view on web.listen, with the
// security headers, the fixture's case on the list and its page, until
// it is stopped.
func TestServeWeb(t *testing.T) {
	f := newFixture(t)
	f.gatewayConfig(t)
	addr := freeAddr(t)
	path := withWeb(t, f, `listen = "`+addr+`"`)
	ctx, cancel := context.WithCancel(context.Background())
	var stderr bytes.Buffer
	done := make(chan int, 1)
	go func() {
		a := &app{stdin: strings.NewReader(""), stdout: io.Discard, stderr: &stderr,
			getenv: func(k string) string { return f.env[k] }}
		done <- run(ctx, []string{"serve", "-config", path}, a)
	}()
	defer func() {
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("serve exit %d: %s", code, stderr.String())
			}
		case <-time.After(30 * time.Second):
			t.Error("serve did not stop")
		}
	}()
	var body string
	var resp *http.Response
	for deadline := time.Now().Add(30 * time.Second); ; {
		var err error
		if resp, err = http.Get("http://" + addr + "/?state=all"); err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			body = string(b)
			break
		}
		select {
		case code := <-done:
			t.Fatalf("serve exited %d: %s", code, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the view never answered: %v", err)
		}
		time.Sleep(50 * time.Millisecond) // polling a real server started by serve
	}
	if resp.StatusCode != 200 || !strings.Contains(body, `data-ref="`+f.ref+`"`) {
		t.Fatalf("GET /: %d\n%s", resp.StatusCode, body)
	}
	for k, v := range web.Headers {
		if resp.Header.Get(k) != v {
			t.Errorf("%s: %q", k, resp.Header.Get(k))
		}
	}
	for _, s := range sealed {
		if strings.Contains(body, s) {
			t.Errorf("the list shows %q", s)
		}
	}
	m := regexp.MustCompile(`href="(/case/[^"]+)"`).FindStringSubmatch(body)
	if m == nil {
		t.Fatal("no link to the case")
	}
	r2, err := http.Get("http://" + addr + m[1])
	if err != nil || r2.StatusCode != 200 {
		t.Fatalf("GET %s: %v %v", m[1], r2, err)
	}
	r2.Body.Close()
	if r, err := http.Post("http://"+addr+"/", "text/plain", strings.NewReader("x")); err != nil || r.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /: %v %v", r, err)
	}
}

// TestServeWebRefused: what the operator must fix stops serve at once
// with one clear line: the view on a non-loopback address without client
// certificates, a client CA without the view's certificate, a taken port.
func TestServeWebRefused(t *testing.T) {
	f := newFixture(t)
	f.gatewayConfig(t)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	for _, tc := range []struct {
		name, section, want string
	}{
		{"not loopback", `listen = "0.0.0.0:9465"`, `web.listen: "0.0.0.0" is not a loopback address`},
		{"client CA alone", "listen = \"0.0.0.0:9465\"\nclient_ca = \"ca.pem\"", "web.listen: client_ca needs tls_cert and tls_key"},
		{"taken port", `listen = "` + taken.Addr().String() + `"`, "web.listen: cannot listen on " + taken.Addr().String()},
		{"same as metrics", "", "is also served by another listener"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := withWeb(t, f, tc.section)
			if tc.section == "" {
				b, _ := os.ReadFile(path)
				metrics := regexp.MustCompile(`(?m)^listen = ".*"$`).Find(b)
				if err := os.WriteFile(path, bytes.Replace(b, []byte("\n[web]\n"), []byte("\n[web]\n"+string(metrics)+"\n"), 1), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			start := time.Now()
			code, _, stderr := runCLI(t, f.env, "serve", "-config", path)
			if code != 1 || !strings.Contains(stderr, tc.want) || strings.Contains(stderr, "secgate serving") {
				t.Errorf("exit %d, stderr %q; want 1 and %q", code, stderr, tc.want)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("serve took %s to give up", d)
			}
		})
	}
}
