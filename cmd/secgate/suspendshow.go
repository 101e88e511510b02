package main

import (
	"context"
	"fmt"
	"io"

	"github.com/secgate/secgate/cases"
	"github.com/secgate/secgate/distlist"
)

// suspendedReasons maps each suspended distributor's address to the
// reason of the suspension.
func suspendedReasons(ctx context.Context, dir *distlist.Directory) (map[string]string, error) {
	sus, err := dir.Suspensions(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(sus))
	for _, s := range sus {
		out[s.Address] = s.Reason
	}
	return out, nil
}

// printDistributors shows, after list show's table, the suspended
// distributors (/list suspend: no notice reaches them, of any case on any
// list) and the applications waiting for a decision (/apply), those of
// list only when list is not "".
func printDistributors(ctx context.Context, out io.Writer, v *view, list string) error {
	sus, err := v.dir.Suspensions(ctx)
	if err != nil {
		return err
	}
	if len(sus) > 0 {
		fmt.Fprintln(out, "\nsuspended (no notice of any case reaches them until /list reinstate ADDRESS):")
		names := memberNames(ctx, v.dir)
		for _, s := range sus {
			fmt.Fprintf(out, "  %s since %s by %s: %s\n", s.Address, fmtSecond(s.Since), who(names, s.Actor), s.Reason)
		}
	}
	w, err := v.workflow()
	if err != nil {
		return err
	}
	apps, err := w.Applications(ctx, cases.AppPending)
	if err != nil {
		return err
	}
	first := true
	for _, ap := range apps {
		if list != "" && ap.List != list {
			continue
		}
		if first {
			fmt.Fprintln(out, "\napplications waiting (/list approve APP-ID or /list deny APP-ID REASON):")
			first = false
		}
		fmt.Fprintf(out, "  %s  %s to %s, key %s, received %s\n", ap.Ref, ap.Address, ap.List, ap.Fingerprint, fmtSecond(ap.Received))
	}
	return nil
}
