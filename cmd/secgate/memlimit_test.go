package main

import (
	"math"
	"os"
	"runtime/debug"
	"strings"
	"testing"
)

// TestGatewayRuntimeConfig: the defaults, and the range each [gateway]
// runtime setting accepts, with errors that name the setting.
func TestGatewayRuntimeConfig(t *testing.T) {
	valid, err := os.ReadFile("testdata/config/valid.toml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		key       string
		get       func(GatewayConfig) int
		def       int
		good, bad []string
	}{
		{"memory_limit_mib", func(g GatewayConfig) int { return g.MemoryLimitMiB }, 96, []string{"0", "48", "4096"}, []string{"1", "47", "-5"}},
		{"gc_percent", func(g GatewayConfig) int { return g.GCPercent }, 200, []string{"25", "100", "1000"}, []string{"0", "24", "1001", "-1"}},
	} {
		with := func(v string) []byte {
			return []byte(strings.Replace(string(valid), "[gateway]\n", "[gateway]\n"+tc.key+" = "+v+"\n", 1))
		}
		cfg, err := ParseConfig("x.toml", valid)
		if err != nil || tc.get(cfg.Gateway) != tc.def {
			t.Errorf("%s default: %d, %v; want %d", tc.key, tc.get(cfg.Gateway), err, tc.def)
		}
		for _, v := range tc.good {
			if _, err := ParseConfig("x.toml", with(v)); err != nil {
				t.Errorf("%s = %s: %v", tc.key, v, err)
			}
		}
		for _, v := range tc.bad {
			_, err := ParseConfig("x.toml", with(v))
			if err == nil || !strings.Contains(err.Error(), "gateway."+tc.key) {
				t.Errorf("%s = %s: err = %v, want one naming gateway.%s", tc.key, v, err, tc.key)
			}
		}
	}
}

func TestApplyMemoryLimit(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	noEnv := func(string) string { return "" }
	tests := []struct {
		mib    int
		getenv func(string) string
		want   int64
	}{
		{96, noEnv, 96 << 20},
		{0, noEnv, math.MaxInt64},
		{64, noEnv, 64 << 20},
		// GOMEMLIMIT in the environment wins: the limit set before stays.
		{200, func(k string) string {
			if k == "GOMEMLIMIT" {
				return "1GiB"
			}
			return ""
		}, 64 << 20},
	}
	for _, tt := range tests {
		got := applyMemoryLimit(GatewayConfig{MemoryLimitMiB: tt.mib}, tt.getenv)
		if got != tt.want || debug.SetMemoryLimit(-1) != tt.want {
			t.Errorf("memory_limit_mib %d: limit %d, runtime has %d; want %d", tt.mib, got, debug.SetMemoryLimit(-1), tt.want)
		}
	}
	if s := memoryLimitText(math.MaxInt64); s != "none" {
		t.Errorf("memoryLimitText(none) = %q", s)
	}
	if s := memoryLimitText(96 << 20); s != "96 MiB" {
		t.Errorf("memoryLimitText(96 MiB) = %q", s)
	}
}

func TestApplyGCPercent(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	noEnv := func(string) string { return "" }
	if got := applyGCPercent(GatewayConfig{GCPercent: 300}, noEnv); got != "300" {
		t.Errorf("applied %q, want 300", got)
	}
	if p := debug.SetGCPercent(100); p != 300 {
		t.Errorf("runtime has %d, want 300", p)
	}
	// GOGC in the environment wins: the runtime keeps what it has.
	env := func(k string) string {
		if k == "GOGC" {
			return "150"
		}
		return ""
	}
	if got := applyGCPercent(GatewayConfig{GCPercent: 400}, env); got != "150 (GOGC)" {
		t.Errorf("applied %q, want the environment's", got)
	}
	if p := debug.SetGCPercent(100); p != 100 {
		t.Errorf("runtime has %d, want 100 (left alone)", p)
	}
}
