package main

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/secgate/secgate/internal/clock"
	"github.com/secgate/secgate/store"
	"github.com/secgate/secgate/web"
)

// browser is headless Chromium (Debian's chromium, which
// scripts/install-deps.sh installs): the tests load the pages in it, read
// the DOM it rendered and keep screenshots. The pages carry no script and
// their Content-Security-Policy lets none run, so they are seen as with
// JavaScript off (Chromium's own switch for it also stops --dump-dom).
type browser struct {
	bin, profile, artifacts string
}

// newBrowser finds Chromium; it fails (never skips) when it is missing.
// Screenshots go to $SECGATE_ARTIFACTS when set, else to a temporary
// directory; the test log names it.
func newBrowser(t *testing.T) *browser {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("headless Chromium is not installed (scripts/install-deps.sh installs it): %v", err)
	}
	art := os.Getenv("SECGATE_ARTIFACTS")
	if art == "" {
		art = t.TempDir()
	} else if err := os.MkdirAll(art, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("browser screenshots in %s", art)
	return &browser{bin: bin, profile: t.TempDir(), artifacts: art}
}

func (b *browser) run(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	base := []string{"--headless", "--disable-gpu", "--no-sandbox", "--disable-dev-shm-usage", "--no-first-run",
		"--user-data-dir=" + b.profile, "--hide-scrollbars"}
	out, err := exec.CommandContext(ctx, b.bin, append(base, args...)...).Output()
	if err != nil {
		t.Fatalf("chromium %s: %v", strings.Join(args, " "), err)
	}
	return string(out)
}

// dom loads url and returns the DOM Chromium rendered.
func (b *browser) dom(t *testing.T, url string) string {
	t.Helper()
	return b.run(t, "--dump-dom", url)
}

// screenshot loads url in a window w by h and keeps a PNG of it as name.
func (b *browser) screenshot(t *testing.T, url, name string, w, h int) string {
	t.Helper()
	path := filepath.Join(b.artifacts, name+".png")
	b.run(t, "--screenshot="+path, "--window-size="+strconv.Itoa(w)+","+strconv.Itoa(h), url)
	fi, err := os.Stat(path)
	if err != nil || fi.Size() < 1000 {
		t.Fatalf("screenshot %s: %v", path, err)
	}
	return path
}

// webFixture serves the view of the fixture's gateway after its
// disclosure (real data: a case with a plan, notices sent, missed and
// withdrawn, outbox rows in several states, a quarantined message, an
// expired key), as the view sees it at now.
func webFixture(t *testing.T, now time.Time) (f *fixture, base, caseURL string) {
	t.Helper()
	f = newFixture(t)
	f.disclosure(t)
	cfg, _ := f.gatewayConfig(t)
	db, err := store.Open(context.Background(), cfg.Gateway.Database)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	p, err := webProject(cfg, db)
	if err != nil {
		t.Fatal(err)
	}
	h, err := web.New(web.Options{Projects: []web.Project{p}, Clock: clock.NewFake(now)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return f, srv.URL, "/case/" + p.Name + "/" + f.ref
}

// sealed are the fixture's texts stored encrypted, and the addresses
// that are neither the team's nor a list's: no page may show them.
var sealed = []string{"SECRET", "-TEXT", "BODY-MUST-NOT-SHOW", "upload traversal", "poc.sh", "rita@example.net", "mallory@example.net",
	"Olga renews her key"}

// TestWebViewInBrowser loads every page of the view of a gateway with
// real data in headless Chromium, with JavaScript off, and checks the
// DOM it rendered: the cases with their next step, the case's timeline
// picture with now marked, the audit chain, the recipients-by-notices
// matrix, the outbox by state, the quarantine with its reason, the keys
// with the expired one first; nothing stored encrypted, no reporter's
// address; every form field labelled. Screenshots are kept.
func TestWebViewInBrowser(t *testing.T) {
	now := time.Date(2030, 1, 25, 16, 0, 0, 0, time.UTC)
	f, base, caseURL := webFixture(t, now)
	b := newBrowser(t)
	pages := []struct {
		name, path string
		want       []string
	}{
		{"cases", "/?state=all", []string{`data-ref="` + f.ref + `"`, "<td class=\"state\">fix-released</td>", "CRITICAL 9.8",
			"<td class=\"lead\">Alice</td>", "retrospective reminder (window opens)", "1 of 1 cases."}},
		{"cases-closed", "/?state=closed", []string{"0 of 1 cases.", "No case matches.", `<label for="f-state">`, `<label for="f-project">`, `<label for="f-lead">`}},
		{"case", caseURL, []string{`<svg id="timeline"`, `id="now-mark"`, "report received", "evaluation deadline",
			"embargo notice", "announcement (T0)", "retrospective reminder", `id="audit" class="ok"`, `<table id="matrix">`,
			"dana@example.org", "temperror@distro.example", "not acknowledged", "missed", "withdrawn"}},
		{"outbox", "/outbox", []string{`id="outbox-failed"`, `id="outbox-sent"`, `id="outbox-deferred"`, "dana@example.org", "embargo-notice"}},
		{"quarantine", "/quarantine", []string{"rate limit: 31 messages in 1h0m0s", "other address 1"}},
		{"keys", "/keys", []string{f.fprs["Olga"], "expired"}},
	}
	for _, pg := range pages {
		t.Run(pg.name, func(t *testing.T) {
			dom := b.dom(t, base+pg.path)
			for _, w := range pg.want {
				if !strings.Contains(dom, w) {
					t.Errorf("%s: the rendered page lacks %q", pg.path, w)
				}
			}
			for _, s := range sealed {
				if strings.Contains(dom, s) {
					t.Errorf("%s: the page shows %q, which is stored encrypted or is not the team's to show", pg.path, s)
				}
			}
			checkAccessible(t, pg.path, dom)
			b.screenshot(t, base+pg.path, pg.name, 1280, 900)
		})
	}
	t.Run("now is marked between the past and the planned", func(t *testing.T) {
		dom := b.dom(t, base+caseURL)
		now := regexp.MustCompile(`id="now-mark"[^>]*x1="(\d+)"|x1="(\d+)"[^>]*id="now-mark"`).FindStringSubmatch(dom)
		if now == nil {
			t.Fatalf("no now mark in %s", dom)
		}
		nx, _ := strconv.Atoi(now[1] + now[2])
		for _, m := range regexp.MustCompile(`<g class="ev (\w+)"><circle cx="(\d+)"`).FindAllStringSubmatch(dom, -1) {
			x, _ := strconv.Atoi(m[2])
			if m[1] == "planned" && x < nx {
				t.Errorf("a planned step is drawn before now (x %d < %d)", x, nx)
			}
			if m[1] == "done" && x > nx {
				t.Errorf("a step that happened is drawn after now (x %d > %d)", x, nx)
			}
		}
	})
}

// checkAccessible checks what a keyboard and a screen reader need: the
// page's language, a skip link to the main content first, a label for
// every form field, a caption or heading for every table, no positive
// tabindex (the order is the document's), and nothing clickable that is
// not a link or a button.
func checkAccessible(t *testing.T, path, dom string) {
	t.Helper()
	if !strings.Contains(dom, `<html lang="en">`) {
		t.Errorf("%s: no page language", path)
	}
	if i, j := strings.Index(dom, `class="skip" href="#main"`), strings.Index(dom, "<nav"); i < 0 || i > j {
		t.Errorf("%s: the first link is not the skip link to the content", path)
	}
	for _, m := range regexp.MustCompile(`<(select|input)[^>]*id="([^"]+)"`).FindAllStringSubmatch(dom, -1) {
		if !strings.Contains(dom, `<label for="`+m[2]+`">`) {
			t.Errorf("%s: the %s %s has no label", path, m[1], m[2])
		}
	}
	if n, l := strings.Count(dom, "<select"), len(regexp.MustCompile(`<select[^>]*id=`).FindAllString(dom, -1)); n != l {
		t.Errorf("%s: %d select(s) without an id to label", path, n-l)
	}
	if regexp.MustCompile(`tabindex="[1-9]`).MatchString(dom) || strings.Contains(dom, "onclick") || strings.Contains(dom, "<script") {
		t.Errorf("%s: a positive tabindex, a click handler or a script", path)
	}
	if strings.Contains(dom, " style=") {
		t.Errorf("%s: an inline style attribute (the CSP refuses it)", path)
	}
}

// TestWebProjectSealed: the view's case reader is built without the team
// key: the case's encrypted fields read sealed, while what is stored in
// clear is there.
func TestWebProjectSealed(t *testing.T) {
	f := newFixture(t)
	cfg, _ := f.gatewayConfig(t)
	db, err := store.Open(context.Background(), cfg.Gateway.Database)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	p, err := webProject(cfg, db)
	if err != nil {
		t.Fatal(err)
	}
	c, err := p.Cases.Get(context.Background(), f.ref)
	if err != nil {
		t.Fatal(err)
	}
	if all := fmt.Sprintf("%+v", *c); strings.Contains(all, "-TEXT") {
		t.Errorf("the view's reader decrypted the case: %s", all)
	}
	if c.Severity != "CRITICAL" || c.Ref != f.ref {
		t.Errorf("the clear fields are missing: %s %s", c.Ref, c.Severity)
	}
}
