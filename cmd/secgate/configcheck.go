package main

import (
	"database/sql"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/secgate/secgate/distlist"
	"github.com/secgate/secgate/schedule"
	"github.com/secgate/secgate/templates"
)

// What `secgate config check` checks beyond each section's own values:
// the parts that only make sense together. A gateway with no member to
// copy reports to, or a scheduler that names a list nobody defined, starts
// and then does nothing useful: config check says so, with the line.

// checkWhole returns the problems of the configuration as a whole. lists
// are the distribution lists the database already holds (made with
// `secgate list create`), nil when there is no database yet.
func (c *Config) checkWhole(dbLists map[string]string) []*ConfigError {
	var errs []*ConfigError
	bad := func(key, format string, args ...any) {
		errs = append(errs, &ConfigError{Key: key, Msg: fmt.Sprintf(format, args...)})
	}
	dc := c.packageDistlist()
	if len(dc.Members) == 0 {
		bad("distlist", "no [[distlist.member]]: reports would reach nobody")
	} else if !slices.ContainsFunc(dc.Members, func(m distlist.MemberConfig) bool { return m.Role == "lead" && !m.Away }) {
		bad("distlist.member", `no member has role = "lead" and is present: no case could get a fix lead`)
	}
	for _, m := range dc.Members {
		if m.Address == "" {
			bad("distlist.member", "member %q has no address", m.Name)
		} else if err := validAddress(m.Address); err != nil {
			bad("distlist.member", "member %q: %v", m.Name, err)
		}
	}
	kinds := map[string]string{}
	for n, k := range dbLists {
		kinds[n] = k
	}
	for _, l := range dc.Lists {
		kinds[l.Name] = l.Kind
		for _, r := range l.Recipients {
			if err := validAddress(r.Address); err != nil {
				bad("distlist.list", "list %q, recipient %q: %v", l.Name, r.Name, err)
			}
		}
	}
	sc := c.Schedule.WithDefaults()
	if msg := notEmbargoList(kinds, sc.EmbargoList); msg != "" {
		bad("schedule.embargo_list", "%s", msg)
	}
	errs = append(errs, checkAudiences(sc, kinds)...)
	for _, p := range sc.PublicLists {
		if k, ok := kinds[p]; !ok {
			bad("schedule.public_lists", "list %q is not defined under [[distlist.list]] (nor created with secgate list create)", p)
		} else if k != "public" {
			bad("schedule.public_lists", "list %q is %s list, not a public one", p, withArticle(k))
		}
	}
	return errs
}

// wholeWarnings are what works but may not be meant.
func (c *Config) wholeWarnings() []string {
	var w []string
	sc := c.Schedule.WithDefaults()
	if sc.ArtifactsDir != "" && sc.Artifacts.CNAOrgID == "" {
		w = append(w, "schedule.artifacts.cna_org_id is empty: no CVE JSON 5 record is written at disclosure (the lead is told each time)")
	}
	return w
}

// wholeProblems runs checkWhole with the lists of the database, each
// problem with its file and line.
func (c *Config) wholeProblems() []error {
	dbLists, err := databaseLists(c.Gateway.Database)
	if err != nil {
		return []error{err}
	}
	if c.src != nil {
		// Each problem in the file that set its key (a project file,
		// or the top file it inherits from).
		var out []error
		for _, e := range c.checkWhole(dbLists) {
			e.File, e.Line = c.locate(e.Key)
			out = append(out, e)
		}
		return out
	}
	text, err := os.ReadFile(c.File)
	if err != nil {
		return []error{err}
	}
	lines := keyLines(text)
	var out []error
	for _, e := range c.checkWhole(dbLists) {
		e.File, e.Line = c.File, lines.find(e.Key)
		out = append(out, e)
	}
	return out
}

// databaseLists reads the lists the database holds, read-only; nil when
// there is no database yet.
func databaseLists(path string) (map[string]string, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, nil
	}
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		return nil, err
	}
	defer db.Close()
	rows, err := db.Query(`SELECT name, kind FROM dir_list`)
	if err != nil {
		return nil, fmt.Errorf("database %s: %w", path, err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var n, k string
		if err := rows.Scan(&n, &k); err != nil {
			return nil, err
		}
		out[n] = k
	}
	return out, rows.Err()
}

// writePolicies prints every policy the configuration resolves to, the
// default one marked, as a table: what `config check` shows so that an
// override's effect is seen before a case meets it.
func writePolicies(w io.Writer, cfg *Config) error {
	sc := cfg.Schedule.WithDefaults()
	ps, err := sc.Resolve()
	if err != nil {
		return err
	}
	names := make([]string, 0, len(ps))
	for n := range ps {
		names = append(names, n)
	}
	slices.Sort(names)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "policy\tnotice\tbusiness days\tpre-release\tevaluate\tfix\tretrospective\tdisclosure\tweekdays\tother")
	for _, n := range names {
		p := ps[n]
		mark := ""
		if n == sc.Policy {
			mark = " (default)"
		}
		var other []string
		if p.RequireCVE {
			other = append(other, "require_cve")
		}
		if p.PreAnnounce {
			other = append(other, "pre_announce")
		}
		if len(p.Audiences) > 0 {
			other = append(other, "audiences "+strings.Join(p.Audiences, ","))
		}
		if p.OutOfBandFrom > 0 {
			other = append(other, fmt.Sprintf("out_of_band_from %.1f", p.OutOfBandFrom))
		}
		if len(p.Holidays) > 0 {
			other = append(other, templates.Count(len(p.Holidays), "holiday"))
		}
		fmt.Fprintf(tw, "%s%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", n, mark,
			span(p.MinNotice, p.MaxNotice), dayspan(p.MinNoticeBusinessDays, p.MaxNoticeBusinessDays),
			dur(p.PreReleaseNotice), dur(p.EvaluationDeadline), dur(p.FixDeadline),
			span(p.RetrospectiveFrom, p.RetrospectiveTo), or(p.DisclosureTime, "any time"),
			or(strings.Join(p.Weekdays, ","), "any day"), or(strings.Join(other, ", "), "-"))
	}
	return tw.Flush()
}

// withArticle puts "a" or "an" before a list kind.
func withArticle(kind string) string {
	if kind != "" && strings.IndexByte("aeiou", kind[0]) >= 0 {
		return "an " + kind
	}
	return "a " + kind
}

func span(lo, hi time.Duration) string {
	if lo == 0 && hi == 0 {
		return "-"
	}
	return dur(lo) + "–" + dur(hi)
}

func dayspan(lo, hi int) string {
	if lo == 0 && hi == 0 {
		return "-"
	}
	return fmt.Sprintf("%d–%d", lo, hi)
}

// dur writes a policy duration in days or hours, as the seeds do.
func dur(d time.Duration) string {
	switch {
	case d == 0:
		return "-"
	case d%schedule.Day == 0:
		return fmt.Sprintf("%dd", d/schedule.Day)
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	}
	return d.String()
}

func or(s, alt string) string {
	if s == "" {
		return alt
	}
	return s
}
