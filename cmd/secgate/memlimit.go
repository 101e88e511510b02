package main

import (
	"fmt"
	"math"
	"runtime/debug"
)

// minMemoryLimitMiB is the smallest [gateway] memory_limit_mib accepted:
// the gateway itself takes about 20 MiB.
const minMemoryLimitMiB = 48

// applyMemoryLimit sets the runtime's soft memory limit from [gateway]
// memory_limit_mib, unless GOMEMLIMIT is set in the environment, and
// returns the limit in force in bytes (math.MaxInt64: none).
func applyMemoryLimit(g GatewayConfig, getenv func(string) string) int64 {
	if getenv("GOMEMLIMIT") == "" {
		limit := int64(math.MaxInt64)
		if g.MemoryLimitMiB > 0 {
			limit = int64(g.MemoryLimitMiB) << 20
		}
		debug.SetMemoryLimit(limit)
	}
	return debug.SetMemoryLimit(-1)
}

// memoryLimitText shows a limit from applyMemoryLimit for a log line.
func memoryLimitText(limit int64) string {
	if limit == math.MaxInt64 {
		return "none"
	}
	return fmt.Sprintf("%d MiB", limit>>20)
}
