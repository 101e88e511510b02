//go:build race

package crypto

// allocSlack widens the allocation bounds of the memory tests: the race
// detector's instrumentation makes small buffers escape and sync.Pool drop
// what it holds, so the same code allocates up to twice as much.
const allocSlack = 2
