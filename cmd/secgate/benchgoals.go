package main

import (
	"fmt"
	"io"
)

// printGoalsTail prints the goals, one a line with the given column
// widths, how many were met, the notes and the total time: the end of
// the output of secgate bench -projects and -history.
func printGoalsTail(w io.Writer, goals []benchGoal, notes []string, total benchSeconds, whatWidth, goalWidth, valueWidth int) {
	fmt.Fprintf(w, "\nGoals\n")
	met := 0
	for _, g := range goals {
		mark := "MISSED"
		if g.Met {
			mark, met = "met", met+1
		}
		fmt.Fprintf(w, "    %-*s goal %-*s measured %-*s %s\n", whatWidth, g.What, goalWidth, g.Goal, valueWidth, g.Value, mark)
	}
	fmt.Fprintf(w, "    %d of %d goals met\n", met, len(goals))
	for _, n := range notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	fmt.Fprintf(w, "total: %.1f s\n", total)
}

// busyNote says, when the load average of m was high, that the machine
// was busy; "" otherwise.
func busyNote(m benchMachine) string {
	if cores := float64(m.Cores); m.LoadStart > cores/2 || m.LoadEnd > cores*1.5 {
		return fmt.Sprintf("the machine was busy (load average %.1f at the start, %.1f at the end, on %d cores)", m.LoadStart, m.LoadEnd, m.Cores)
	}
	return ""
}
