package web

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/secgate/secgate/distlist"
	"github.com/secgate/secgate/internal/clock"
)

//go:embed assets
var assets embed.FS

// Options configure the view.
type Options struct {
	Projects []Project
	Clock    clock.Clock  // default: the real clock
	Logger   *slog.Logger // default: discard
}

// Handler serves the view.
type Handler struct {
	projects []Project
	clock    clock.Clock
	log      *slog.Logger
	pages    map[string]*template.Template
	mux      *http.ServeMux
}

// pageNames are the pages, each a template in assets with the layout.
var pageNames = []string{"cases", "case", "outbox", "quarantine", "keys", "error"}

// New returns the view of o.Projects.
func New(o Options) (*Handler, error) {
	if len(o.Projects) == 0 {
		return nil, errors.New("web: no project to show")
	}
	seen := map[string]bool{}
	for _, p := range o.Projects {
		if p.Cases == nil || p.Timeline == nil || p.Directory == nil || p.Outbox == nil || p.Quarantine == nil || p.Audit == nil {
			return nil, fmt.Errorf("web: project %s: a reader is missing", p.Name)
		}
		if seen[p.Name] {
			return nil, fmt.Errorf("web: project %s named twice", p.Name)
		}
		seen[p.Name] = true
	}
	h := &Handler{projects: o.Projects, clock: o.Clock, log: o.Logger, pages: map[string]*template.Template{}, mux: http.NewServeMux()}
	if h.clock == nil {
		h.clock = clock.Real{}
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	for _, name := range pageNames {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(assets, "assets/layout.html", "assets/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("web: page %s: %w", name, err)
		}
		h.pages[name] = t
	}
	h.mux.HandleFunc("GET /{$}", h.casesPage)
	h.mux.HandleFunc("GET /case/{project}/{ref}", h.casePage)
	h.mux.HandleFunc("GET /outbox", h.outboxPage)
	h.mux.HandleFunc("GET /quarantine", h.quarantinePage)
	h.mux.HandleFunc("GET /keys", h.keysPage)
	h.mux.HandleFunc("GET /calendar.ics", h.calendar)
	h.mux.HandleFunc("GET /style.css", h.style)
	h.mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		h.fail(w, http.StatusNotFound, "No such page.", nil)
	})
	return h, nil
}

// ContentSecurityPolicy allows the page's own stylesheet and images only:
// no script at all, no inline style, no framing, no forms to elsewhere.
const ContentSecurityPolicy = "default-src 'none'; img-src 'self' data:; style-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// Headers are set on every response.
var Headers = map[string]string{
	"Content-Security-Policy":      ContentSecurityPolicy,
	"Referrer-Policy":              "no-referrer",
	"X-Frame-Options":              "DENY",
	"X-Content-Type-Options":       "nosniff",
	"Cache-Control":                "no-store",
	"Cross-Origin-Opener-Policy":   "same-origin",
	"Cross-Origin-Resource-Policy": "same-origin",
}

// ServeHTTP sets the security headers and answers GET and HEAD only.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	for k, v := range Headers {
		w.Header().Set(k, v)
	}
	if r.TLS == nil && !loopbackHost(r.Host) {
		// DNS rebinding: a page that points its own name at 127.0.0.1
		// would read the view as its origin. Over TLS the certificate's
		// name stops it; in plain HTTP the Host must name loopback.
		h.fail(w, http.StatusMisdirectedRequest, "The view answers on a loopback name only (127.0.0.1, [::1], localhost).", nil)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		h.fail(w, http.StatusMethodNotAllowed, "The view is read-only: GET and HEAD only.", nil)
		return
	}
	h.mux.ServeHTTP(w, r)
}

// page is what every page's layout reads.
type page struct {
	Title string
	Nav   string // the navigation entry of the page
	Now   time.Time
	Data  any
}

// render writes page name with data; an error of the template is a 500.
func (h *Handler) render(w http.ResponseWriter, status int, name, title string, data any) {
	var buf bytes.Buffer
	if err := h.pages[name].Execute(&buf, page{Title: title, Nav: name, Now: h.clock.Now().UTC(), Data: data}); err != nil {
		h.log.Error("web: render", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// fail answers with an error page; err, when not nil, is logged and never
// shown.
func (h *Handler) fail(w http.ResponseWriter, status int, msg string, err error) {
	if err != nil {
		h.log.Error("web: "+msg, "err", err)
	}
	h.render(w, status, "error", http.StatusText(status), msg)
}

func (h *Handler) style(w http.ResponseWriter, r *http.Request) {
	data, err := assets.ReadFile("assets/style.css")
	if err != nil {
		h.fail(w, http.StatusInternalServerError, "The stylesheet is missing.", err)
		return
	}
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Write(data)
}

// project returns the project named name.
func (h *Handler) project(name string) (Project, bool) {
	for _, p := range h.projects {
		if p.Name == name {
			return p, true
		}
	}
	return Project{}, false
}

// timeFormat is how the view writes times (always UTC).
const timeFormat = "2006-01-02 15:04 UTC"

var funcs = template.FuncMap{
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "–"
		}
		return t.UTC().Format(timeFormat)
	},
	"iso": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
}

// loopbackHost reports whether a request's Host names a loopback address.
func loopbackHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return distlist.IsLoopback(strings.Trim(host, "[]"))
}
