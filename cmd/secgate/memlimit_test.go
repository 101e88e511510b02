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

func TestGCPercentConfig(t *testing.T) {
	valid, err := os.ReadFile("testdata/config/valid.toml")
	if err != nil {
		t.Fatal(err)
	}
	with := func(v string) string {
		return strings.Replace(string(valid), "[gateway]\n", "[gateway]\ngc_percent = "+v+"\n", 1)
	}
	cfg, err := ParseConfig("x.toml", valid)
	if err != nil || cfg.Gateway.GCPercent != 200 {
		t.Fatalf("default: %d, %v; want 200", cfg.Gateway.GCPercent, err)
	}
	for _, v := range []string{"25", "100", "1000"} {
		if _, err := ParseConfig("x.toml", []byte(with(v))); err != nil {
			t.Errorf("gc_percent = %s: %v", v, err)
		}
	}
	for _, v := range []string{"0", "24", "1001", "-1"} {
		_, err := ParseConfig("x.toml", []byte(with(v)))
		if err == nil || !strings.Contains(err.Error(), "gateway.gc_percent") {
			t.Errorf("gc_percent = %s: err = %v, want one naming gateway.gc_percent", v, err)
		}
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
