package gpgtest

import (
	"os"
	"path/filepath"
	"strings"
)

var osStat = os.Stat

// agentsFor lists the PIDs of processes whose command line names home.
func agentsFor(home string) []string {
	var pids []string
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err == nil && strings.Contains(string(b), home) {
			pids = append(pids, filepath.Base(filepath.Dir(p)))
		}
	}
	return pids
}
