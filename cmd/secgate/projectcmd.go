package main

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/secgate/secgate/cases"
)

// projectJSON is a project in JSON output.
type projectJSON struct {
	Name        string `json:"name"`
	Display     string `json:"display_name,omitempty"` // [project] name, as texts say it
	File        string `json:"file"`
	Team        string `json:"team"`
	Fingerprint string `json:"team_key_fingerprint,omitempty"`
	KeyFile     string `json:"team_key"`
	KeyProblem  string `json:"team_key_problem,omitempty"`
	Database    string `json:"database"`
	Policy      string `json:"policy"`
	Cases       *int   `json:"cases"` // null: no database yet
	// What project show adds.
	Mailbox string         `json:"mailbox,omitempty"`
	SMTP    string         `json:"smtp,omitempty"`
	Members []string       `json:"members,omitempty"`
	Lists   []listJSON     `json:"lists,omitempty"`
	States  map[string]int `json:"cases_by_state,omitempty"`
	Open    *int           `json:"open_cases,omitempty"`
}

// aboutProject reads what project list shows of cfg: its team key's
// fingerprint from the (locked) key file and its case count, read-only.
func aboutProject(cfg *Config) projectJSON {
	p := projectJSON{Name: cfg.Name, Display: cfg.Project.Name, File: cfg.File, Team: cfg.Gateway.Team, KeyFile: cfg.TeamKey.Path,
		Database: cfg.Gateway.Database, Policy: cfg.Schedule.Policy}
	if k, err := teamPublicKey(cfg); err == nil {
		p.Fingerprint = k.Fingerprint()
	} else {
		p.KeyProblem = oneLine(err)
	}
	if n, err := caseCount(cfg.Gateway.Database); err == nil && n >= 0 {
		p.Cases = &n
	}
	return p
}

func runProjectList(ctx context.Context, a *app, c *command, args []string) error {
	fs := c.flagSet(a)
	sel := configFlag(fs)
	asJSON := jsonFlag(fs)
	if _, err := c.parse(a, fs, args, 0); err != nil {
		return err
	}
	projects, err := sel.projects()
	if err != nil {
		return err
	}
	out := make([]projectJSON, 0, len(projects))
	for _, cfg := range projects {
		out = append(out, aboutProject(cfg))
	}
	if *asJSON {
		return a.printJSON(out)
	}
	tw := newTable(a.stdout)
	fmt.Fprintln(tw, "PROJECT\tTEAM\tTEAM KEY\tDATABASE\tPOLICY\tCASES")
	for _, p := range out {
		count := "no database yet"
		if p.Cases != nil {
			count = fmt.Sprint(*p.Cases)
		}
		fpr := p.Fingerprint
		if fpr == "" {
			fpr = "(" + p.KeyProblem + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", p.Name, p.Team, fpr, p.Database, p.Policy, count)
	}
	return tw.Flush()
}

func runProjectShow(ctx context.Context, a *app, c *command, args []string) error {
	fs := c.flagSet(a)
	sel := configFlag(fs)
	asJSON := jsonFlag(fs)
	pos, err := c.parse(a, fs, args, 1)
	if err != nil {
		return err
	}
	if sel.project != "" && sel.project != pos[0] {
		return fmt.Errorf("-project %s and the argument %s differ: give one", sel.project, pos[0])
	}
	sel.project = pos[0]
	cfg, err := sel.one()
	if err != nil {
		return err
	}
	p := aboutProject(cfg)
	p.Mailbox = cfg.IMAP.User + " on " + cfg.IMAP.Address
	if cfg.SharesMailbox {
		set, _ := sel.load()
		p.Mailbox += fmt.Sprintf(" (shared; addresses %s; default project %s)", strings.Join(cfg.routeAddresses(), ", "), set.DefaultProject())
	}
	p.SMTP = cfg.SMTP.User + " on " + cfg.SMTP.Address
	if p.Cases != nil {
		v, err := openView(ctx, a, cfg, false)
		if err != nil {
			return err
		}
		defer v.Close()
		team, err := v.dir.Team(ctx)
		if err != nil {
			return err
		}
		for _, m := range team {
			p.Members = append(p.Members, m.Address)
		}
		infos, err := v.dir.Lists(ctx)
		if err != nil {
			return err
		}
		for _, l := range infos {
			_, cfgd := configList(cfg, l.Name)
			p.Lists = append(p.Lists, listJSON{Name: l.Name, Kind: l.Kind, Encrypt: l.Encrypt, InConfig: cfgd, Count: l.Recipients})
		}
		p.States = map[string]int{}
		rows, err := v.db.Reader().QueryContext(ctx, `SELECT state, count(*) FROM cases GROUP BY state`)
		if err != nil {
			return err
		}
		for rows.Next() {
			var st string
			var n int
			if err := rows.Scan(&st, &n); err != nil {
				rows.Close()
				return err
			}
			p.States[st] = n
		}
		rows.Close()
		w, err := v.workflow()
		if err != nil {
			return err
		}
		open, err := w.List(ctx, cases.ListOptions{Open: true})
		if err != nil {
			return err
		}
		n := len(open)
		p.Open = &n
	} else {
		// Before the first start the directory is the configuration's.
		for _, m := range cfg.Distlist.Members {
			p.Members = append(p.Members, m.Address)
		}
	}
	if *asJSON {
		return a.printJSON(p)
	}
	out := a.stdout
	field := func(k, v string) { fmt.Fprintf(out, "%-14s %s\n", k+":", v) }
	fmt.Fprintf(out, "project %s\n", p.Name)
	field("name in texts", dash(p.Display))
	field("file", p.File)
	field("team", p.Team)
	if p.Fingerprint != "" {
		field("team key", p.Fingerprint+" ("+p.KeyFile+")")
	} else {
		field("team key", p.KeyFile+": "+p.KeyProblem)
	}
	field("database", p.Database)
	field("mailbox", p.Mailbox)
	field("smtp", p.SMTP)
	field("policy", p.Policy)
	field("members", dash(strings.Join(p.Members, ", ")))
	if p.Cases == nil {
		field("cases", "no database yet (secgate init -project "+p.Name+" creates it with the team key)")
		return nil
	}
	var lists []string
	for _, l := range p.Lists {
		lists = append(lists, fmt.Sprintf("%s (%s, %d)", l.Name, l.Kind, l.Count))
	}
	field("lists", dash(strings.Join(lists, ", ")))
	var states []string
	for st, n := range p.States {
		states = append(states, fmt.Sprintf("%d %s", n, st))
	}
	slices.Sort(states)
	count := fmt.Sprintf("%d, %d open", *p.Cases, *p.Open)
	if len(states) > 0 {
		count += " (" + strings.Join(states, ", ") + ")"
	}
	field("cases", count)
	return nil
}
