package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Linear fan-out (issue #22): the curve25519 fan-out to -n distributors,
// to -fanout-scale times as many, and to -n again, one right after the
// other in the same run; the ratio takes the mean of the two small ones,
// so that a load of a shared machine that rises or falls meanwhile weighs
// on both sizes alike.

// scaleResult is the fan-out to n and to n×scale distributors.
type scaleResult struct {
	Scale int          `json:"scale"`
	Base  fanOutResult `json:"base"`       // to -n distributors, run again right before Large
	Large fanOutResult `json:"large"`      // to -n × -fanout-scale distributors
	After fanOutResult `json:"base_after"` // to -n distributors again, right after Large
	Ratio float64      `json:"ratio"`      // Large.Total / the mean of Base.Total and After.Total: linear is the scale
	// The first read of the scaled list, which parses the keys of the
	// distributors not on the -n list (they are cached afterwards, as
	// the -n list's were by the first fan-out): the directory columns of
	// Base and Large are both reads with every key cached.
	FirstDirectory benchSeconds `json:"first_directory_seconds"`
	NewKeys        int          `json:"new_keys"`
}

// scaleList is the embargo list of the n×scale distributors.
const scaleList = "embargo-x25519-scale"

// scaling reports whether the bench runs the scaled fan-out.
func (b *bench) scaling() bool {
	return b.o.Scale > 1 && slices.Contains(b.o.Algos, "x25519")
}

// scaleSetup generates the keys of the scaled list (the first -n are
// those of the curve25519 list, the same distributors) and adds the list
// to lists.
func (b *bench) scaleSetup(created time.Time, keyDir string, lists *strings.Builder) error {
	if !b.scaling() {
		return nil
	}
	n := b.o.N * b.o.Scale
	more, err := benchGenerateKeys("x25519", n-b.o.N, created, func(i int) string { return benchDist("x25519", b.o.N+i) })
	if err != nil {
		return err
	}
	fmt.Fprintf(lists, "[[distlist.list]]\nname = %q\nkind = \"embargo\"\n\n", scaleList)
	for i := range n {
		file := fmt.Sprintf("keys/dist/x25519-%d.asc", i)
		if i >= b.o.N {
			pub, err := more[i-b.o.N].ArmorPublic()
			if err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(keyDir, "dist", filepath.Base(file)), []byte(pub), 0o600); err != nil {
				return err
			}
		}
		fmt.Fprintf(lists, "[[distlist.list.recipient]]\nname = \"Distributor %d\"\naddress = %q\nkey_file = %q\n\n", i, benchDist("x25519", i), file)
	}
	b.distinct["x25519-scale"] = n
	return nil
}

// fanOutScale runs the curve25519 fan-out to -n distributors again, then
// to the scaled list; nil when the bench does not scale.
func (b *bench) fanOutScale(ctx context.Context, entity []byte) (*scaleResult, error) {
	if !b.scaling() {
		return nil, nil
	}
	n := b.o.N * b.o.Scale
	r := &scaleResult{Scale: b.o.Scale}
	var err error
	b.step("fan-out to %d, then %d distributors (curve25519)\n", b.o.N, n)
	t := time.Now()
	if _, err := b.g.dir.List(ctx, scaleList); err != nil {
		return nil, err
	}
	r.FirstDirectory, r.NewKeys = benchSecs(time.Since(t)), n-b.o.N
	if r.Base, err = b.fanOutTo(ctx, "x25519", benchList("x25519"), b.o.N, "bench-scale-base"+b.suffix, entity); err != nil {
		return nil, err
	}
	if r.Large, err = b.fanOutTo(ctx, "x25519", scaleList, n, "bench-scale"+b.suffix, entity); err != nil {
		return nil, err
	}
	r.Large.DistinctKeys = b.distinct["x25519-scale"]
	if r.After, err = b.fanOutTo(ctx, "x25519", benchList("x25519"), b.o.N, "bench-scale-after"+b.suffix, entity); err != nil {
		return nil, err
	}
	r.Ratio = float64(r.Large.Total) / r.baseMean(func(f fanOutResult) float64 { return float64(f.Total) })
	return r, nil
}

// baseMean is the mean of a figure of the two fan-outs to -n.
func (r *scaleResult) baseMean(fig func(fanOutResult) float64) float64 {
	return (fig(r.Base) + fig(r.After)) / 2
}

// print writes one row of section (a).
func (f fanOutResult) print(w io.Writer) {
	fmt.Fprintf(w, "    %-11s %6d %6d %7.3f s %7.3f s %7.3f s %9.0f %6.2f s %8.3f s %d/%d (%d encrypted)\n", f.Algo, f.Recipients, f.DistinctKeys,
		float64(f.Enqueue), float64(f.Delivery), float64(f.Total), f.PerSecond, float64(f.CPU), float64(f.Directory), f.Delivered, f.Recipients, f.Encrypted)
}

// print writes the scaled fan-out's lines of section (a).
func (r *scaleResult) print(w io.Writer) {
	fmt.Fprintf(w, "    linear fan-out: curve25519 to %d, to %d, then to %d distributors again, one right after the other\n",
		r.Base.Recipients, r.Large.Recipients, r.After.Recipients)
	r.Base.print(w)
	r.Large.print(w)
	r.After.print(w)
	fmt.Fprintf(w, "    %d× the distributors took %.2f× the time (total), %.2f× the CPU, %.2f× reading the directory (against the mean of the two %d)\n",
		r.Scale, r.Ratio, float64(r.Large.CPU)/r.baseMean(func(f fanOutResult) float64 { return float64(f.CPU) }),
		float64(r.Large.Directory)/r.baseMean(func(f fanOutResult) float64 { return float64(f.Directory) }), r.Base.Recipients)
	fmt.Fprintf(w, "    (the directory read with every key parsed before; the first read of the %d list, parsing its %d new keys: %.3f s)\n",
		r.Large.Recipients, r.NewKeys, float64(r.FirstDirectory))
}

// goal is the linear fan-out goal: at most 1.1 times the scale.
func (r *scaleResult) goal() benchGoal {
	limit := 1.1 * float64(r.Scale)
	return benchGoal{
		What:  fmt.Sprintf("fan-out to %d vs %d (curve25519)", r.Large.Recipients, r.Base.Recipients),
		Goal:  fmt.Sprintf("≤ %.0f×", limit),
		Value: fmt.Sprintf("%.2f×", r.Ratio),
		Met:   r.Ratio <= limit && r.Large.Delivered == r.Large.Recipients,
	}
}
