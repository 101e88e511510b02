package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"context"
)

// errUnavailable is the error of `secgate status` when the running gateway
// reports a part unwell: the exit code says so to scripts.
var errUnavailable = errors.New("the gateway reports itself unavailable")

// runStatus asks the running gateway for its health (/healthz on [metrics]
// listen) and prints each part, its state and since when: of every
// project, or of the one -project names.
func runStatus(ctx context.Context, a *app, c *command, args []string) error {
	fs := c.flagSet(a)
	sel := configFlag(fs)
	asJSON := jsonFlag(fs)
	if _, err := c.parse(a, fs, args, 0); err != nil {
		return err
	}
	set, err := sel.load()
	if err != nil {
		return err
	}
	listen := set.Top.Metrics.Listen
	if listen == "" {
		return errors.New("[metrics] listen is empty: the gateway serves no health to ask")
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+listen+"/healthz", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("is secgate serve running? %w", err)
	}
	defer resp.Body.Close()
	var rep healthReport
	if err := json.NewDecoder(resp.Body).Decode(&rep); err != nil {
		return fmt.Errorf("health of %s: %w", listen, err)
	}
	if sel.project != "" {
		ph, ok := rep.Projects[sel.project]
		if !ok {
			return fmt.Errorf("the gateway on %s does not serve project %s (is it running with this configuration?)", listen, sel.project)
		}
		rep = healthReport{Status: ph.Status, Checked: rep.Checked, Components: ph.Components,
			Projects: map[string]projectHealth{sel.project: ph}}
	}
	if *asJSON {
		if err := a.printJSON(rep); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(a.stdout, "secgate %s (checked %s)\n", rep.Status, rep.Checked.UTC().Format(time.RFC3339))
		if rep.Components != nil {
			printComponents(a, "  ", rep.Components)
		} else {
			// Several projects: each with its parts.
			names := make([]string, 0, len(rep.Projects))
			for n := range rep.Projects {
				names = append(names, n)
			}
			slices.Sort(names)
			for _, n := range names {
				ph := rep.Projects[n]
				fmt.Fprintf(a.stdout, "  project %s (%s): %s\n", n, ph.Team, ph.Status)
				printComponents(a, "    ", ph.Components)
			}
		}
	}
	if rep.Status != "ok" {
		return errUnavailable
	}
	return nil
}

// printComponents prints each part, its state and since when.
func printComponents(a *app, indent string, comps map[string]component) {
	names := make([]string, 0, len(comps))
	for n := range comps {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		comp := comps[n]
		mark := "ok  "
		if !comp.OK {
			mark = "DOWN"
		}
		since := ""
		if !comp.Since.IsZero() {
			since = " since " + comp.Since.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(a.stdout, "%s%s %-10s %s%s", indent, mark, n, comp.State, since)
		if comp.Detail != "" {
			fmt.Fprintf(a.stdout, ": %s", strings.TrimSpace(comp.Detail))
		}
		fmt.Fprintln(a.stdout)
	}
}
