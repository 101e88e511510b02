package main

import (
	"context"
	"fmt"
	"io"

	"github.com/secgate/secgate/cases"
	"github.com/secgate/secgate/templates"
)

// printLeaks shows the leaks recorded on case caseID (/leak) for case
// show: how many, and with text (the team key unlocked) who recorded each,
// when, and what it says.
func printLeaks(ctx context.Context, out io.Writer, w *cases.Workflow, caseID int64, text bool, withName func(string) string) error {
	n, err := w.LeakCount(ctx, caseID)
	if err != nil || n == 0 {
		return err
	}
	if !text {
		fmt.Fprintf(out, "%-15s %s\n", "leaks:", templates.Count(n, "leak")+" recorded (encrypted; --text shows them)")
		return nil
	}
	leaks, err := w.Leaks(ctx, caseID)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\nleaks (%d):\n", len(leaks))
	for _, l := range leaks {
		fmt.Fprintf(out, "  %s by %s\n    who:  %s\n    what: %s\n", fmtSecond(l.At), withName(l.Actor), l.Who, l.What)
	}
	return nil
}
