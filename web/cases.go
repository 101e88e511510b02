package web

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/secgate/secgate/cases"
	"github.com/secgate/secgate/schedule"
)

// caseRow is a case in the list, and the head of its page.
type caseRow struct {
	Project  string
	Ref      string
	URL      string
	State    string
	Closed   bool
	Severity string // "HIGH 8.1", or "–"
	CVE      string
	Lead     string // the member's name
	Policy   string
	Received time.Time
	T0       time.Time // the planned disclosure; zero when none
	Next     string    // the next step, "" when none
	Due      time.Time
	Overdue  bool
}

// caseFilter is the list's filter, from the query string.
type caseFilter struct {
	State   string // open (default), closed, all
	Project string
	Lead    string
}

func (f caseFilter) keep(r caseRow) bool {
	switch {
	case f.State == "open" && r.Closed, f.State == "closed" && !r.Closed:
		return false
	case f.Project != "" && f.Project != r.Project:
		return false
	case f.Lead != "" && f.Lead != r.Lead:
		return false
	}
	return true
}

type casesData struct {
	Filter   caseFilter
	Projects []string
	Leads    []string
	Rows     []caseRow
	Total    int
}

func (h *Handler) casesPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := caseFilter{State: q.Get("state"), Project: q.Get("project"), Lead: q.Get("lead")}
	if !slices.Contains([]string{"open", "closed", "all"}, f.State) {
		f.State = "open"
	}
	d := casesData{Filter: f}
	leads := map[string]bool{}
	for _, p := range h.projects {
		d.Projects = append(d.Projects, p.Name)
		rows, err := h.caseRows(r.Context(), p)
		if err != nil {
			h.fail(w, http.StatusInternalServerError, "The cases cannot be read.", err)
			return
		}
		d.Total += len(rows)
		for _, row := range rows {
			if row.Lead != "–" {
				leads[row.Lead] = true
			}
			if f.keep(row) {
				d.Rows = append(d.Rows, row)
			}
		}
	}
	for l := range leads {
		d.Leads = append(d.Leads, l)
	}
	slices.Sort(d.Leads)
	// The next due first; cases with nothing due after them, newest first.
	slices.SortStableFunc(d.Rows, func(a, b caseRow) int {
		switch {
		case a.Due.IsZero() != b.Due.IsZero():
			if a.Due.IsZero() {
				return 1
			}
			return -1
		case !a.Due.IsZero():
			return a.Due.Compare(b.Due)
		}
		return b.Received.Compare(a.Received)
	})
	h.render(w, http.StatusOK, "cases", "Cases", d)
}

// caseRows reads every case of p with its next step.
func (h *Handler) caseRows(ctx context.Context, p Project) ([]caseRow, error) {
	list, err := p.Cases.List(ctx, cases.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("web: cases of %s: %w", p.Name, err)
	}
	names, err := memberNames(ctx, p)
	if err != nil {
		return nil, err
	}
	rows := make([]caseRow, 0, len(list))
	for _, c := range list {
		steps, err := p.Timeline.Steps(ctx, c)
		if err != nil {
			return nil, fmt.Errorf("web: timeline of %s: %w", c.Ref, err)
		}
		rows = append(rows, h.caseRow(p, c, names, steps))
	}
	return rows, nil
}

// memberNames maps members' fingerprints to their names.
func memberNames(ctx context.Context, p Project) (map[string]string, error) {
	team, err := p.Directory.Team(ctx)
	if err != nil {
		return nil, fmt.Errorf("web: team of %s: %w", p.Name, err)
	}
	names := map[string]string{}
	for _, m := range team {
		names[strings.ToUpper(m.Fingerprint)] = cmp.Or(m.Name, m.Address)
	}
	return names, nil
}

func (h *Handler) caseRow(p Project, c *cases.Case, names map[string]string, steps []schedule.Step) caseRow {
	now := h.clock.Now()
	row := caseRow{Project: p.Name, Ref: c.Ref, URL: "/case/" + url.PathEscape(p.Name) + "/" + url.PathEscape(c.Ref),
		State: string(c.State), Closed: c.Terminal(), Severity: "–", CVE: cmp.Or(c.CVE, "–"), Lead: "–",
		Policy: cmp.Or(c.Policy, "–"), Received: c.Received, T0: c.DiscloseAt}
	if c.Severity != "" {
		row.Severity = c.Severity
		if c.CVSSScore > 0 {
			row.Severity = fmt.Sprintf("%s %.1f", c.Severity, c.CVSSScore)
		}
	}
	if c.Lead != "" {
		row.Lead = cmp.Or(names[strings.ToUpper(c.Lead)], shortFingerprint(c.Lead))
	}
	if row.Closed {
		return row
	}
	for _, st := range steps {
		if st.State == schedule.StepPlanned && (row.Due.IsZero() || st.Due.Before(row.Due)) {
			row.Next, row.Due = st.What, st.Due
		}
	}
	if row.Next == "" && awaitsEvaluation(c.State) {
		if by, _ := p.Timeline.Deadlines(c.Policy, c.Received); !by.IsZero() {
			row.Next, row.Due = "evaluate the report", by
		}
	}
	row.Overdue = !row.Due.IsZero() && row.Due.Before(now)
	return row
}

// awaitsEvaluation: the report is not evaluated yet in state s.
func awaitsEvaluation(s cases.State) bool {
	return s == cases.StateNew || s == cases.StateIncomplete
}

func shortFingerprint(f string) string {
	if len(f) > 16 {
		return f[len(f)-16:]
	}
	return f
}
