package main

import (
	"context"
	"fmt"

	"github.com/secgate/secgate/distlist"
)

// runKeyRefresh looks every member's and recipient's key up in the Web Key
// Directory of their domain now, as serve does weekly with [distlist]
// key_refresh, and prints one line per key.
func runKeyRefresh(ctx context.Context, a *app, c *command, args []string) error {
	fs := c.flagSet(a)
	sel := configFlag(fs)
	asJSON := jsonFlag(fs)
	if _, err := c.parse(a, fs, args, 0); err != nil {
		return err
	}
	return eachView(ctx, a, sel, *asJSON, false, func(a *app, v *view) error {
		rs, err := v.dir.RefreshKeys(ctx, distlist.WKD{})
		if err != nil {
			return err
		}
		if *asJSON {
			return a.printJSON(map[string]any{"keys": rs})
		}
		for _, r := range rs {
			fmt.Fprintf(a.stdout, "%-14s %s %s", r.Outcome, r.Fingerprint, r.Address)
			if r.Detail != "" {
				fmt.Fprintf(a.stdout, ": %s", r.Detail)
			}
			fmt.Fprintln(a.stdout)
		}
		return nil
	})
}
