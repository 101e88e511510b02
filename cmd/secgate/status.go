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
// listen) and prints each part, its state and since when.
func runStatus(ctx context.Context, a *app, c *command, args []string) error {
	fs := c.flagSet(a)
	path := configFlag(fs)
	asJSON := jsonFlag(fs)
	if _, err := c.parse(a, fs, args, 0); err != nil {
		return err
	}
	cfg, err := loadConfig(*path)
	if err != nil {
		return err
	}
	if cfg.Metrics.Listen == "" {
		return errors.New("[metrics] listen is empty: the gateway serves no health to ask")
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+cfg.Metrics.Listen+"/healthz", nil)
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
		return fmt.Errorf("health of %s: %w", cfg.Metrics.Listen, err)
	}
	if *asJSON {
		if err := a.printJSON(rep); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(a.stdout, "secgate %s (checked %s)\n", rep.Status, rep.Checked.UTC().Format(time.RFC3339))
		names := make([]string, 0, len(rep.Components))
		for n := range rep.Components {
			names = append(names, n)
		}
		slices.Sort(names)
		for _, n := range names {
			comp := rep.Components[n]
			mark := "ok  "
			if !comp.OK {
				mark = "DOWN"
			}
			since := ""
			if !comp.Since.IsZero() {
				since = " since " + comp.Since.UTC().Format(time.RFC3339)
			}
			fmt.Fprintf(a.stdout, "  %s %-10s %s%s", mark, n, comp.State, since)
			if comp.Detail != "" {
				fmt.Fprintf(a.stdout, ": %s", strings.TrimSpace(comp.Detail))
			}
			fmt.Fprintln(a.stdout)
		}
	}
	if rep.Status != "ok" {
		return errUnavailable
	}
	return nil
}
