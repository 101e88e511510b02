package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/secgate/secgate/distlist"
	"github.com/secgate/secgate/templates"
)

// listJSON is a distribution list in JSON output.
type listJSON struct {
	Name       string          `json:"name"`
	Kind       string          `json:"kind"`
	Encrypt    bool            `json:"encrypt"`
	InConfig   bool            `json:"in_config"`
	Count      int             `json:"count"`
	Recipients []recipientJSON `json:"recipients,omitempty"`
}

type recipientJSON struct {
	Name        string     `json:"name,omitempty"`
	Address     string     `json:"address"`
	Fingerprint string     `json:"fingerprint,omitempty"`
	Expires     *time.Time `json:"key_expires,omitempty"`
	KeyProblem  string     `json:"key_problem,omitempty"`
	InConfig    bool       `json:"in_config"`
	Suspended   string     `json:"suspended,omitempty"` // the reason of a suspension (/list suspend): no notice reaches them
}

// configList returns the list called name in the configuration, if any.
func configList(cfg *Config, name string) (distlist.ListConfig, bool) {
	for _, l := range cfg.Distlist.Lists {
		if l.Name == name {
			return l, true
		}
	}
	return distlist.ListConfig{}, false
}

// inConfig reports whether addr is on list name in the configuration.
func inConfig(cfg *Config, name, addr string) bool {
	l, ok := configList(cfg, name)
	if !ok {
		return false
	}
	for _, r := range l.Recipients {
		if strings.EqualFold(r.Address, addr) {
			return true
		}
	}
	return false
}

func runListShow(ctx context.Context, a *app, c *command, args []string) error {
	fs := c.flagSet(a)
	sel := configFlag(fs)
	asJSON := jsonFlag(fs)
	pos, err := c.parse(a, fs, args, -1)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return fmt.Errorf("want at most one list name, got %q (see secgate help %s)", pos, c.Name)
	}
	projects, err := sel.projects()
	if err != nil {
		return err
	}
	// With several projects, each project's lists under its heading; a
	// list named, in each project that has one of that name.
	if len(projects) > 1 && len(pos) == 1 {
		var with []*Config
		for _, cfg := range projects {
			lists, err := databaseLists(cfg.Gateway.Database)
			if err != nil {
				return fmt.Errorf("project %s: %w", cfg.Name, err)
			}
			if _, ok := lists[pos[0]]; ok {
				with = append(with, cfg)
			}
		}
		if len(with) == 0 {
			return fmt.Errorf("no list %q in any of the %s (see secgate list show)", pos[0], templates.Count(len(projects), "project"))
		}
		projects = with
	}
	return perProject(a, projects, *asJSON, func(a *app, cfg *Config) error {
		return listShow(ctx, a, cfg, pos, asJSON)
	})
}

// listShow shows a project's lists, or the one named in pos.
func listShow(ctx context.Context, a *app, cfg *Config, pos []string, asJSON *bool) error {
	v, err := openView(ctx, a, cfg, false)
	if err != nil {
		return err
	}
	defer v.Close()
	if len(pos) == 0 {
		infos, err := v.dir.Lists(ctx)
		if err != nil {
			return err
		}
		if *asJSON {
			out := make([]listJSON, 0, len(infos))
			for _, l := range infos {
				_, cfgd := configList(v.cfg, l.Name)
				out = append(out, listJSON{Name: l.Name, Kind: l.Kind, Encrypt: l.Encrypt, InConfig: cfgd, Count: l.Recipients})
			}
			return a.printJSON(out)
		}
		if len(infos) == 0 {
			fmt.Fprintln(a.stdout, "no lists (add them to the configuration or with secgate list create)")
			return nil
		}
		tw := newTable(a.stdout)
		fmt.Fprintln(tw, "LIST\tKIND\tENCRYPTED\tRECIPIENTS\tSOURCE")
		for _, l := range infos {
			src := "database"
			if _, ok := configList(v.cfg, l.Name); ok {
				src = "config"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", l.Name, l.Kind, yesNo(l.Encrypt), l.Recipients, src)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		if err := printDistributors(ctx, a.stdout, v, ""); err != nil {
			return err
		}
		bad, err := unusableKeys(ctx, v.dir, infos)
		if err != nil || len(bad) == 0 {
			return err
		}
		fmt.Fprintln(a.stdout, "\nkeys that cannot be used now (their holders get nothing encrypted until a usable key is imported):")
		for _, b := range bad {
			fmt.Fprintln(a.stdout, "  "+b)
		}
		return nil
	}
	name := pos[0]
	l, err := v.dir.List(ctx, name)
	if errors.Is(err, distlist.ErrNotFound) {
		return fmt.Errorf("no list %q (see secgate list show)", name)
	}
	if err != nil {
		return err
	}
	_, cfgd := configList(v.cfg, name)
	out := listJSON{Name: l.Name, Kind: l.Kind, Encrypt: l.Encrypt, InConfig: cfgd, Count: len(l.Recipients), Recipients: []recipientJSON{}}
	suspended, err := suspendedReasons(ctx, v.dir)
	if err != nil {
		return err
	}
	for _, r := range l.Recipients {
		rj := recipientJSON{Name: r.Name, Address: r.Address, InConfig: inConfig(v.cfg, name, r.Address), Suspended: suspended[r.Address]}
		if l.Kind == distlist.KindTeam {
			rj.InConfig = slices.ContainsFunc(v.cfg.Distlist.Members, func(m distlist.MemberConfig) bool {
				return strings.EqualFold(m.Address, r.Address)
			})
		}
		if r.Key != nil {
			rj.Fingerprint = r.Key.Fingerprint()
			if t, ok := r.Key.Expires(); ok {
				rj.Expires = jsonTime(t)
			}
		}
		if r.KeyErr != nil && (l.Encrypt || r.Key != nil) {
			rj.KeyProblem = keyProblem(r.KeyErr)
		}
		out.Recipients = append(out.Recipients, rj)
	}
	if *asJSON {
		return a.printJSON(out)
	}
	fmt.Fprintf(a.stdout, "list %s: %s, %s, %s\n", l.Name, l.Kind, map[bool]string{true: "encrypted to each recipient", false: "signed, not encrypted"}[l.Encrypt], templates.Count(len(l.Recipients), "recipient"))
	if len(out.Recipients) == 0 {
		return printDistributors(ctx, a.stdout, v, l.Name)
	}
	tw := newTable(a.stdout)
	fmt.Fprintln(tw, "\nADDRESS\tNAME\tKEY\tEXPIRES\tSOURCE")
	for _, r := range out.Recipients {
		exp := "never"
		if r.Expires != nil {
			exp = fmtTime(*r.Expires)
		}
		if r.Fingerprint == "" {
			exp = "-"
		}
		if r.KeyProblem != "" {
			exp += " (" + r.KeyProblem + ")"
		}
		src := "database"
		if r.InConfig {
			src = "config"
		}
		addr := r.Address
		if r.Suspended != "" {
			addr += " (SUSPENDED)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", addr, dash(r.Name), dash(r.Fingerprint), exp, src)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return printDistributors(ctx, a.stdout, v, l.Name)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func runListAdd(ctx context.Context, a *app, c *command, args []string) error {
	fs := c.flagSet(a)
	sel := configFlag(fs)
	asJSON := jsonFlag(fs)
	keyFile := fs.String("key", "", "armored public key `FILE` of the recipient (required on encrypted lists)")
	name := fs.String("name", "", "display `NAME` of the recipient")
	mismatch := fs.Bool("allow-mismatch", false, "accept a key none of whose user IDs carries the address")
	wkd := fs.Bool("wkd", false, "look the recipient's key up in the Web Key Directory of their domain (HTTPS) instead of -key")
	confirm := fs.String("fingerprint", "", "with -wkd: the `FINGERPRINT` a member checked with the key's holder; without it the key found is shown and nothing is added")
	pos, err := c.parse(a, fs, args, 2)
	if err != nil {
		return err
	}
	list, addr := pos[0], pos[1]
	var key []byte
	if *keyFile != "" {
		if key, err = os.ReadFile(*keyFile); err != nil {
			return fmt.Errorf("-key: %w", err)
		}
	}
	if *wkd && key != nil {
		return errors.New("give -key FILE or -wkd, not both")
	}
	cfg, err := sel.one()
	if err != nil {
		return err
	}
	v, err := openView(ctx, a, cfg, false)
	if err != nil {
		return err
	}
	defer v.Close()
	if *wkd {
		if key, err = confirmedWKDKey(ctx, a, v, addr, *confirm); err != nil {
			return err
		}
	}
	l, err := v.dir.List(ctx, list)
	if errors.Is(err, distlist.ErrNotFound) {
		return fmt.Errorf("no list %q (create it with secgate list create)", list)
	}
	if err != nil {
		return err
	}
	if l.Kind == distlist.KindTeam {
		return fmt.Errorf("%s is the team list: team members are configured in [[distlist.member]]", list)
	}
	if l.Encrypt && key == nil {
		return fmt.Errorf("list %s is encrypted: give the recipient's public key with -key FILE", list)
	}
	warns, err := v.dir.AddRecipient(ctx, nil, list, distlist.RecipientSpec{Name: *name, Address: addr, Key: key,
		AllowMismatch: *mismatch, Source: distlist.SourceCLI})
	if err != nil {
		return err
	}
	problem, err := entryKeyProblem(ctx, v.dir, list, addr)
	if err != nil {
		return err
	}
	if *asJSON {
		out := map[string]any{"list": list, "address": addr, "warnings": nonNil(warns)}
		if problem != "" {
			out["key_problem"] = problem
		}
		return a.printJSON(out)
	}
	printKeyWarnings(a, list, addr, warns, problem)
	fmt.Fprintf(a.stdout, "added %s to list %s\n", addr, list)
	if _, ok := configList(v.cfg, list); ok {
		fmt.Fprintf(a.stdout, "(list %s is in the configuration; entries added here are kept when the configuration is loaded)\n", list)
	}
	return nil
}

// entryKeyProblem returns why the key of addr on list cannot be used now,
// as list show says it, or "".
func entryKeyProblem(ctx context.Context, dir *distlist.Directory, list, addr string) (string, error) {
	l, err := dir.List(ctx, list)
	if err != nil {
		return "", err
	}
	for _, r := range l.Recipients {
		if distlist.SameAddress(r.Address, addr) && r.KeyErr != nil && l.Encrypt {
			return keyProblem(r.KeyErr), nil
		}
	}
	return "", nil
}

// printKeyWarnings prints the warnings of adding addr to list and, when its
// key cannot be used, what that means: the entry is recorded, to be
// renewed, and gets nothing encrypted meanwhile.
func printKeyWarnings(a *app, list, addr string, warns []string, problem string) {
	for _, w := range warns {
		fmt.Fprintf(a.stderr, "warning: %s\n", w)
	}
	if problem != "" {
		fmt.Fprintf(a.stderr, "warning: %s is on list %s but gets nothing encrypted (%s) until a usable key is imported: "+
			"secgate key import FILE for a renewed copy of the same key, secgate list add %s %s -key FILE for a new one\n",
			addr, list, problem, list, addr)
	}
}

// unusableKeys names each member and each entry of an encrypted list whose
// key cannot be used now, with the reason.
func unusableKeys(ctx context.Context, dir *distlist.Directory, lists []distlist.ListInfo) ([]string, error) {
	team, err := dir.Team(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	members := map[string]bool{}
	for _, m := range team {
		members[m.Address] = true
		if m.KeyErr != nil {
			out = append(out, fmt.Sprintf("member %s: %s", m.Address, keyProblem(m.KeyErr)))
		}
	}
	for _, li := range lists {
		if !li.Encrypt {
			continue
		}
		l, err := dir.List(ctx, li.Name)
		if err != nil {
			return nil, err
		}
		for _, r := range l.Recipients {
			if r.KeyErr != nil && !(l.Kind == distlist.KindTeam && members[r.Address]) {
				out = append(out, fmt.Sprintf("list %s: %s: %s", l.Name, r.Address, keyProblem(r.KeyErr)))
			}
		}
	}
	return out, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func runListRemove(ctx context.Context, a *app, c *command, args []string) error {
	fs := c.flagSet(a)
	sel := configFlag(fs)
	asJSON := jsonFlag(fs)
	pos, err := c.parse(a, fs, args, 2)
	if err != nil {
		return err
	}
	list, addr := pos[0], pos[1]
	cfg, err := sel.one()
	if err != nil {
		return err
	}
	v, err := openView(ctx, a, cfg, false)
	if err != nil {
		return err
	}
	defer v.Close()
	if err := v.dir.RemoveRecipient(ctx, nil, list, addr); errors.Is(err, distlist.ErrNotFound) {
		return fmt.Errorf("%s is not on list %s (see secgate list show %s)", addr, list, list)
	} else if err != nil {
		return err
	}
	back := inConfig(v.cfg, list, addr)
	if *asJSON {
		return a.printJSON(map[string]any{"list": list, "address": addr, "returns_from_config": back})
	}
	fmt.Fprintf(a.stdout, "removed %s from list %s\n", addr, list)
	if back {
		fmt.Fprintf(a.stdout, "note: %s is on list %s in %s: it comes back at the next start unless you remove it there too\n", addr, list, v.cfg.File)
	}
	return nil
}

func runListCreate(ctx context.Context, a *app, c *command, args []string) error {
	fs := c.flagSet(a)
	sel := configFlag(fs)
	asJSON := jsonFlag(fs)
	kind := fs.String("kind", "", "embargo (encrypted to each recipient), public (signed only) or team")
	pos, err := c.parse(a, fs, args, 1)
	if err != nil {
		return err
	}
	name := pos[0]
	switch *kind {
	case distlist.KindEmbargo, distlist.KindPublic, distlist.KindTeam:
	case "":
		return errors.New("-kind is required: embargo, public or team")
	default:
		return fmt.Errorf("-kind %q: want embargo, public or team", *kind)
	}
	cfg, err := sel.one()
	if err != nil {
		return err
	}
	v, err := openView(ctx, a, cfg, false)
	if err != nil {
		return err
	}
	defer v.Close()
	if l, err := v.dir.List(ctx, name); err == nil {
		return fmt.Errorf("list %s exists (%s, %d recipients)", name, l.Kind, len(l.Recipients))
	} else if !errors.Is(err, distlist.ErrNotFound) {
		return err
	}
	if err := v.dir.CreateList(ctx, nil, name, *kind, distlist.SourceCLI); err != nil {
		return err
	}
	if *asJSON {
		return a.printJSON(map[string]any{"list": name, "kind": *kind})
	}
	fmt.Fprintf(a.stdout, "created %s list %s; add recipients with secgate list add %s ADDRESS -key FILE\n", *kind, name, name)
	return nil
}

func runListDelete(ctx context.Context, a *app, c *command, args []string) error {
	fs := c.flagSet(a)
	sel := configFlag(fs)
	asJSON := jsonFlag(fs)
	pos, err := c.parse(a, fs, args, 1)
	if err != nil {
		return err
	}
	name := pos[0]
	cfg, err := sel.one()
	if err != nil {
		return err
	}
	v, err := openView(ctx, a, cfg, false)
	if err != nil {
		return err
	}
	defer v.Close()
	if err := v.dir.DeleteList(ctx, nil, name); errors.Is(err, distlist.ErrNotFound) {
		return fmt.Errorf("no list %q (see secgate list show)", name)
	} else if err != nil {
		return err
	}
	_, back := configList(v.cfg, name)
	if *asJSON {
		return a.printJSON(map[string]any{"list": name, "returns_from_config": back})
	}
	fmt.Fprintf(a.stdout, "deleted list %s and its entries\n", name)
	if back {
		fmt.Fprintf(a.stdout, "note: list %s is in %s: it comes back, with its configured entries, at the next start unless you remove it there too\n", name, v.cfg.File)
	}
	return nil
}

// confirmedWKDKey looks addr's key up in its Web Key Directory and returns
// it only when its fingerprint is the one a member confirmed: the key of
// an address is never taken on the word of a web server alone. Without a
// confirmed fingerprint it shows the key found and adds nothing.
func confirmedWKDKey(ctx context.Context, a *app, v *view, addr, confirmed string) ([]byte, error) {
	raw, err := a.lookup().Lookup(ctx, addr)
	if err != nil {
		return nil, err
	}
	k, warns, err := v.dir.CheckKey(raw, distlist.ImportOptions{Address: addr})
	if err != nil {
		return nil, fmt.Errorf("the key %s publishes is refused: %w", addr, err)
	}
	want := strings.ToUpper(strings.Join(strings.Fields(confirmed), ""))
	if want == "" {
		expires := "never"
		if t, ok := k.Expires(); ok {
			expires = t.UTC().Format("2006-01-02")
		}
		fmt.Fprintf(a.stdout, "found key %s for %s (user IDs %s, expires %s)\n", k.Fingerprint(), addr, strings.Join(k.Emails(), ", "), expires)
		for _, w := range warns {
			fmt.Fprintf(a.stdout, "warning: %s\n", w)
		}
		return nil, fmt.Errorf("not added: check the fingerprint with the key's holder, then run again with -fingerprint %s", k.Fingerprint())
	}
	if want != k.Fingerprint() {
		return nil, fmt.Errorf("not added: %s publishes key %s, not the %s you confirmed", addr, k.Fingerprint(), want)
	}
	return raw, nil
}
