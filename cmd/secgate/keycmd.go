package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/secgate/secgate/crypto"
	"github.com/secgate/secgate/distlist"
)

// keyJSON is a stored key in JSON output.
type keyJSON struct {
	Fingerprint string     `json:"fingerprint"`
	Emails      []string   `json:"emails"`
	Expires     *time.Time `json:"expires"` // null: never
	Imported    *time.Time `json:"imported,omitempty"`
	Holders     []string   `json:"holders"`
	Status      string     `json:"status"` // "ok" or the problem
	Armored     string     `json:"armored,omitempty"`
}

// keyProblem names what is wrong with a key in a few words.
func keyProblem(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, crypto.ErrRevoked):
		return "revoked"
	case errors.Is(err, crypto.ErrNoEncryptKey), errors.Is(err, distlist.ErrNoEncryptKey):
		return "no encryption subkey"
	case errors.Is(err, distlist.ErrNoKey):
		return "no key"
	case errors.Is(err, crypto.ErrExpired):
		return "expired"
	}
	return oneLine(err)
}

func runKeyImport(ctx context.Context, a *app, c *command, args []string) error {
	fs := c.flagSet(a)
	sel := configFlag(fs)
	asJSON := jsonFlag(fs)
	list := fs.String("list", "", "also put the key's holder on `LIST` (needs -address)")
	addr := fs.String("address", "", "the `ADDRESS` the key is for; it must be among the key's user IDs")
	name := fs.String("name", "", "display `NAME` of the list entry (with -list)")
	mismatch := fs.Bool("allow-mismatch", false, "accept a key none of whose user IDs carries the address")
	pos, err := c.parse(a, fs, args, 1)
	if err != nil {
		return err
	}
	if *list != "" && *addr == "" {
		return errors.New("-list needs -address")
	}
	armored, err := os.ReadFile(pos[0])
	if err != nil {
		return err
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
	var (
		k       *crypto.Key
		warns   []string
		problem string // why the list entry's key cannot be used, with -list
	)
	if *list != "" {
		l, err := v.dir.List(ctx, *list)
		if errors.Is(err, distlist.ErrNotFound) {
			return fmt.Errorf("no list %q (create it with secgate list create)", *list)
		}
		if err != nil {
			return err
		}
		if l.Kind == distlist.KindTeam {
			return fmt.Errorf("%s is the team list: team members are configured in [[distlist.member]]", *list)
		}
		// A key that cannot be used now is recorded all the same, with a
		// warning, so that it can be renewed later.
		if k, _, err = v.dir.CheckKey(armored, distlist.ImportOptions{Address: *addr, AllowMismatch: *mismatch}); err != nil {
			return err
		}
		if warns, err = v.dir.AddRecipient(ctx, nil, *list, distlist.RecipientSpec{Name: *name, Address: *addr, Key: armored,
			AllowMismatch: *mismatch, Source: distlist.SourceCLI}); err != nil {
			return err
		}
		if problem, err = entryKeyProblem(ctx, v.dir, *list, *addr); err != nil {
			return err
		}
	} else if k, warns, err = v.dir.ImportKey(ctx, nil, armored, distlist.ImportOptions{Address: *addr, AllowMismatch: *mismatch}); err != nil {
		return err
	}
	ki, err := v.dir.ShowKey(ctx, k.Fingerprint())
	if err != nil {
		return err
	}
	kj := keyJSON{Fingerprint: ki.Fingerprint, Emails: nonNil(ki.Emails), Expires: jsonTime(ki.Expires), Imported: jsonTime(ki.Imported),
		Holders: []string{}, Status: keyProblem(k.Check(time.Now()))}
	if *asJSON {
		return a.printJSON(map[string]any{"key": kj, "list": *list, "address": *addr, "warnings": nonNil(warns)})
	}
	printKeyWarnings(a, *list, *addr, warns, problem)
	fmt.Fprintf(a.stdout, "imported key %s (%s), expires %s, status %s\n", ki.Fingerprint, strings.Join(ki.Emails, ", "), expiry(ki.Expires), kj.Status)
	if *list != "" {
		fmt.Fprintf(a.stdout, "%s is on list %s with this key\n", *addr, *list)
	}
	return nil
}

func expiry(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return fmtTime(t)
}

func runKeyShow(ctx context.Context, a *app, c *command, args []string) error {
	fs := c.flagSet(a)
	sel := configFlag(fs)
	asJSON := jsonFlag(fs)
	armor := fs.Bool("armor", false, "also print the armored public key")
	pos, err := c.parse(a, fs, args, 1)
	if err != nil {
		return err
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
	fpr := strings.ToUpper(strings.ReplaceAll(pos[0], " ", ""))
	if strings.Contains(pos[0], "@") {
		if fpr, err = fingerprintOf(ctx, v.dir, pos[0]); err != nil {
			return err
		}
	}
	ki, err := v.dir.ShowKey(ctx, fpr)
	if errors.Is(err, distlist.ErrNotFound) {
		return fmt.Errorf("no stored key %s (see secgate key check)", pos[0])
	}
	if err != nil {
		return err
	}
	status := "unreadable"
	if k, err := crypto.ParsePublicKey([]byte(ki.Armored)); err == nil {
		status = keyProblem(k.Check(time.Now()))
	} else {
		status += ": " + oneLine(err)
	}
	holders := []string{}
	if all, err := v.dir.CheckKeys(ctx, time.Now()); err == nil {
		for _, ks := range all {
			if ks.Fingerprint == ki.Fingerprint {
				holders = ks.Holders
			}
		}
	}
	kj := keyJSON{Fingerprint: ki.Fingerprint, Emails: nonNil(ki.Emails), Expires: jsonTime(ki.Expires), Imported: jsonTime(ki.Imported),
		Holders: holders, Status: status}
	if *armor {
		kj.Armored = ki.Armored
	}
	if *asJSON {
		return a.printJSON(kj)
	}
	out := a.stdout
	field := func(k, v string) { fmt.Fprintf(out, "%-12s %s\n", k+":", v) }
	field("fingerprint", ki.Fingerprint)
	field("user IDs", dash(strings.Join(ki.Emails, ", ")))
	field("expires", expiry(ki.Expires))
	field("imported", fmtTime(ki.Imported))
	field("status now", status)
	field("used by", dash(strings.Join(holders, "; ")))
	if *armor {
		fmt.Fprintf(out, "\n%s", ki.Armored)
	}
	return nil
}

// fingerprintOf finds the key used for addr: a member's, else a list
// entry's.
func fingerprintOf(ctx context.Context, dir *distlist.Directory, addr string) (string, error) {
	m, err := dir.MemberByAddress(ctx, addr)
	if err == nil {
		return m.Fingerprint, nil
	}
	if !errors.Is(err, distlist.ErrNotFound) {
		return "", err
	}
	lists, err := dir.Lists(ctx)
	if err != nil {
		return "", err
	}
	for _, li := range lists {
		l, err := dir.List(ctx, li.Name)
		if err != nil {
			return "", err
		}
		for _, r := range l.Recipients {
			if strings.EqualFold(r.Address, addr) && r.Key != nil {
				return r.Key.Fingerprint(), nil
			}
		}
	}
	return "", fmt.Errorf("no member or list entry %s with a key (see secgate list show)", addr)
}

// parseDate reads a -through date: YYYY-MM-DD (end of that day, UTC) or
// RFC 3339.
func parseDate(s string) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t.Add(24*time.Hour - time.Second), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q: want YYYY-MM-DD or RFC 3339 (2026-12-31T16:00:00Z)", s)
	}
	return t, nil
}

func runKeyCheck(ctx context.Context, a *app, c *command, args []string) error {
	fs := c.flagSet(a)
	sel := configFlag(fs)
	asJSON := jsonFlag(fs)
	through := fs.String("through", "", "check that every key stays usable through `DATE` (YYYY-MM-DD); default: now plus distlist.key_warning")
	if _, err := c.parse(a, fs, args, 0); err != nil {
		return err
	}
	projects, err := sel.projects()
	if err != nil {
		return err
	}
	return perProject(a, projects, *asJSON, func(a *app, cfg *Config) error {
		v, err := openView(ctx, a, cfg, false)
		if err != nil {
			return err
		}
		defer v.Close()
		until := time.Now().Add(v.cfg.packageDistlist().KeyWarning)
		if *through != "" {
			if until, err = parseDate(*through); err != nil {
				return fmt.Errorf("-through %w", err)
			}
		}
		all, err := v.dir.CheckKeys(ctx, until)
		if err != nil {
			return err
		}
		// The team key signs everything and reporters encrypt to it: it is
		// checked too.
		if team, err := teamPublicKey(v.cfg); err == nil {
			ts := distlist.KeyStatus{Holders: []string{"team key " + v.cfg.Gateway.Team}, Err: team.CheckThrough(time.Now(), until)}
			ts.Fingerprint, ts.Emails = team.Fingerprint(), team.Emails()
			if t, ok := team.Expires(); ok {
				ts.Expires = t
			}
			if arm, err := team.ArmorPublic(); err == nil {
				ts.Armored = arm
			}
			all = append([]distlist.KeyStatus{ts}, all...)
		} else {
			return err
		}
		bad := 0
		out := make([]keyJSON, 0, len(all))
		for _, ks := range all {
			status := keyProblem(ks.Err)
			if ks.Err != nil {
				bad++
				if k, perr := crypto.ParsePublicKey([]byte(ks.Armored)); perr == nil && k.Check(time.Now()) == nil {
					status = "usable now, but " + status + " by " + until.UTC().Format(time.DateOnly)
				}
			}
			out = append(out, keyJSON{Fingerprint: ks.Fingerprint, Emails: nonNil(ks.Emails), Expires: jsonTime(ks.Expires),
				Holders: ks.Holders, Status: status})
		}
		if *asJSON {
			if err := a.printJSON(map[string]any{"through": until.UTC(), "keys": out, "problems": bad}); err != nil {
				return err
			}
		} else {
			fmt.Fprintf(a.stdout, "keys in use, checked now and through %s:\n", fmtTime(until))
			tw := newTable(a.stdout)
			fmt.Fprintln(tw, "FINGERPRINT\tEXPIRES\tSTATUS\tUSED BY")
			for _, k := range out {
				exp := "never"
				if k.Expires != nil {
					exp = fmtTime(*k.Expires)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", k.Fingerprint, exp, k.Status, strings.Join(k.Holders, "; "))
			}
			tw.Flush()
		}
		if bad > 0 {
			return fmt.Errorf("%d of %d key(s) not usable through %s", bad, len(all), until.UTC().Format(time.DateOnly))
		}
		if !*asJSON {
			fmt.Fprintf(a.stdout, "all %d key(s) usable through %s\n", len(all), until.UTC().Format(time.DateOnly))
		}
		return nil
	})
}

func runKeyReport(ctx context.Context, a *app, c *command, args []string) error {
	fs := c.flagSet(a)
	sel := configFlag(fs)
	asJSON := jsonFlag(fs)
	if _, err := c.parse(a, fs, args, 0); err != nil {
		return err
	}
	return eachView(ctx, a, sel, *asJSON, false, func(a *app, v *view) error {
		team, err := v.teamVerifier(ctx)
		if err != nil {
			return err
		}
		text, err := v.dir.KeyReport(ctx, v.cfg.packageDistlist().KeyWarning, team, nil)
		if err != nil {
			return err
		}
		w, err := v.workflow()
		if err != nil {
			return err
		}
		audit, err := keyAuditReport(ctx, v.cfg, w, team)
		if err != nil {
			return err
		}
		if *asJSON {
			return a.printJSON(map[string]any{"report": text, "empty": text == "", "audit": audit.text, "audit_verified": !audit.broken})
		}
		if text == "" {
			fmt.Fprintln(a.stdout, "nothing to report: every key in use is valid beyond the warning period and no address is flagged")
		} else {
			fmt.Fprint(a.stdout, text)
			if !strings.HasSuffix(text, "\n") {
				fmt.Fprintln(a.stdout)
			}
		}
		if audit.text != "" {
			fmt.Fprint(a.stdout, "\n"+audit.text)
		}
		return nil
	})
}
