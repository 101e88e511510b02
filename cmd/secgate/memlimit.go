package main

import (
	"fmt"
	"math"
	"runtime/debug"
	"strconv"
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

// The accepted range of [gateway] gc_percent.
const (
	minGCPercent = 25
	maxGCPercent = 1000
)

// applyGCPercent sets the collector's target from [gateway] gc_percent,
// unless GOGC is set in the environment, and returns the target in force
// for a log line. The default, 200, halves the collections of the
// runtime's own default while the memory limit keeps a big message's peak
// where it was (measured by `secgate bench`).
func applyGCPercent(g GatewayConfig, getenv func(string) string) string {
	if v := getenv("GOGC"); v != "" {
		return v + " (GOGC)"
	}
	debug.SetGCPercent(g.GCPercent)
	return strconv.Itoa(g.GCPercent)
}

// memoryLimitText shows a limit from applyMemoryLimit for a log line.
func memoryLimitText(limit int64) string {
	if limit == math.MaxInt64 {
		return "none"
	}
	return fmt.Sprintf("%d MiB", limit>>20)
}
