package web

import (
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// cssRules reads the stylesheet: each selector's declarations.
func cssRules(t *testing.T) map[string]map[string]string {
	t.Helper()
	css, err := assets.ReadFile("assets/style.css")
	if err != nil {
		t.Fatal(err)
	}
	rules := map[string]map[string]string{}
	for _, m := range regexp.MustCompile(`(?s)([^{}]+)\{([^}]*)\}`).FindAllStringSubmatch(string(css), -1) {
		decl := map[string]string{}
		for _, d := range strings.Split(m[2], ";") {
			if k, v, ok := strings.Cut(d, ":"); ok {
				decl[strings.TrimSpace(k)] = strings.TrimSpace(v)
			}
		}
		sel := strings.TrimSpace(regexp.MustCompile(`(?s)/\*.*?\*/`).ReplaceAllString(m[1], ""))
		for _, s := range strings.Split(sel, ",") {
			rules[strings.TrimSpace(s)] = decl
		}
	}
	return rules
}

// luminance is the relative luminance of a #rgb or #rrggbb colour (WCAG 2).
func luminance(t *testing.T, hex string) float64 {
	t.Helper()
	hex = strings.TrimPrefix(strings.Fields(hex)[0], "#")
	if len(hex) == 3 {
		hex = string([]byte{hex[0], hex[0], hex[1], hex[1], hex[2], hex[2]})
	}
	if len(hex) != 6 {
		t.Fatalf("colour %q", hex)
	}
	var c [3]float64
	for i := range c {
		v, err := strconv.ParseUint(hex[2*i:2*i+2], 16, 8)
		if err != nil {
			t.Fatal(err)
		}
		s := float64(v) / 255
		if s <= 0.03928 {
			c[i] = s / 12.92
		} else {
			c[i] = math.Pow((s+0.055)/1.055, 2.4)
		}
	}
	return 0.2126*c[0] + 0.7152*c[1] + 0.0722*c[2]
}

func contrast(t *testing.T, a, b string) float64 {
	la, lb := luminance(t, a), luminance(t, b)
	return (max(la, lb) + 0.05) / (min(la, lb) + 0.05)
}

// TestContrast: every text colour of the stylesheet on the background it
// is drawn on has a contrast of at least 4.5:1 (WCAG AA), and the
// timeline's marks at least 3:1 on the picture's background.
func TestContrast(t *testing.T) {
	r := cssRules(t)
	get := func(sel, prop string) string {
		v := r[sel][prop]
		if v == "" {
			t.Fatalf("the stylesheet has no %s for %s", prop, sel)
		}
		return v
	}
	text, white := get("body", "color"), get("body", "background")
	for _, tc := range []struct {
		what   string
		fg, bg string
		min    float64
	}{
		{"text", text, white, 4.5},
		{"links", get("a", "color"), white, 4.5},
		{"header links", get("header a", "color"), get("header", "background"), 4.5},
		{"header clock", get("header .now", "color"), get("header", "background"), 4.5},
		{"table heads", text, get("thead th", "background"), 4.5},
		{"overdue rows", text, get("tr.overdue td", "background"), 4.5},
		{"keys before T0", text, get("tr.before-t0 td", "background"), 4.5},
		{"sent copies", text, get("td.d-sent", "background"), 4.5},
		{"failed copies", text, get("td.d-failed", "background"), 4.5},
		{"copies to send", text, get("td.d-queued", "background"), 4.5},
		{"sealed note", get(".sealed", "color"), white, 4.5},
		{"errors", get(".error", "color"), white, 4.5},
		{"audit verified", get("#audit.ok", "color"), white, 4.5},
		{"audit broken", get("#audit.bad", "color"), white, 4.5},
		{"no copy", get("td.none", "color"), white, 4.5},
		{"legend done", get(".key.done", "color"), white, 4.5},
		{"legend planned", get(".key.planned", "color"), white, 4.5},
		{"legend failed", get(".key.failed", "color"), white, 4.5},
		{"legend cancelled", get(".key.cancelled", "color"), white, 4.5},
		{"legend deadline", get(".key.deadline", "color"), white, 4.5},
		{"focus ring", strings.Fields(get("a:focus", "outline"))[2], white, 3},
		{"mark done", get(".ev.done circle", "fill"), get("#timeline", "background"), 3},
		{"mark planned", get(".ev.planned circle", "stroke"), get("#timeline", "background"), 3},
		{"mark failed", get(".ev.failed circle", "fill"), get("#timeline", "background"), 3},
		{"mark cancelled", get(".ev.cancelled circle", "fill"), get("#timeline", "background"), 3},
		{"mark deadline", get(".ev.deadline circle", "stroke"), get("#timeline", "background"), 3},
	} {
		if c := contrast(t, tc.fg, tc.bg); c < tc.min {
			t.Errorf("%s: %s on %s has a contrast of %.2f, under %.1f", tc.what, tc.fg, tc.bg, c, tc.min)
		}
	}
}
