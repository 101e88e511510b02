package main

import (
	"math"
	"os"
	"runtime/debug"
	"strings"
	"testing"
)

func TestMemoryLimitConfig(t *testing.T) {
	valid, err := os.ReadFile("testdata/config/valid.toml")
	if err != nil {
		t.Fatal(err)
	}
	with := func(v string) string {
		return strings.Replace(string(valid), "[gateway]\n", "[gateway]\nmemory_limit_mib = "+v+"\n", 1)
	}
	cfg, err := ParseConfig("x.toml", valid)
	if err != nil || cfg.Gateway.MemoryLimitMiB != 96 {
		t.Fatalf("default: %d, %v; want 96", cfg.Gateway.MemoryLimitMiB, err)
	}
	for _, v := range []string{"0", "48", "4096"} {
		if _, err := ParseConfig("x.toml", []byte(with(v))); err != nil {
			t.Errorf("memory_limit_mib = %s: %v", v, err)
		}
	}
	for _, v := range []string{"1", "47", "-5"} {
		_, err := ParseConfig("x.toml", []byte(with(v)))
		if err == nil || !strings.Contains(err.Error(), "gateway.memory_limit_mib") {
			t.Errorf("memory_limit_mib = %s: err = %v, want one naming gateway.memory_limit_mib", v, err)
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
