package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
)

// runCLI runs secgate in-process with the given environment.
func runCLI(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	a := &app{
		stdin:  strings.NewReader(""),
		stdout: &out,
		stderr: &errOut,
		getenv: func(k string) string { return env[k] },
	}
	code = run(context.Background(), args, a)
	return code, out.String(), errOut.String()
}

func TestDispatch(t *testing.T) {
	tests := []struct {
		args   []string
		code   int
		stdout string // substring
		stderr string // substring; "" means stderr must be empty
	}{
		{[]string{"help"}, 0, "config check", ""},
		{[]string{"--help"}, 0, "usage: secgate COMMAND", ""},
		{[]string{"help", "backup"}, 0, "usage: secgate backup [flags] FILE", ""},
		{[]string{"help", "config", "check"}, 0, "-config FILE", ""},
		{[]string{"backup", "-h"}, 0, "-json", ""},
		{[]string{"help", "nope"}, 2, "", `unknown command "nope"`},
		{[]string{"help", "key"}, 0, "key import ", ""},
		{[]string{"help", "config"}, 0, "config reference ", ""},
		{[]string{"help", "outbox"}, 0, "usage: secgate outbox [flags]", ""},
		{[]string{"help", "outbox", "retry"}, 0, "usage: secgate outbox retry [flags] ID", ""},
		{[]string{"nope"}, 2, "", `secgate: unknown command "nope" (see secgate help)`},
		{[]string{"config"}, 2, "", "config needs a subcommand: check, example, reference (see secgate help config)"},
		{[]string{"config", "nope"}, 2, "", "config needs a subcommand"},
		{[]string{"init", "-bogus"}, 1, "", "secgate init: flag provided but not defined: -bogus (see secgate help init)"},
		{[]string{"backup"}, 1, "", "want 1 argument: FILE"},
		{[]string{"backup", "a", "b"}, 1, "", "want 1 argument"},
		{[]string{"config", "example", "extra"}, 1, "", "want no arguments"},
		{[]string{"config", "check", "-config", "testdata/config/bad_values.toml"}, 1, "bad_values.toml:17: smtp.parallel", "9 problems"},
		{[]string{"config", "check", "-config", "testdata/missing.toml"}, 1, "secgate init", "1 problem"},
		{[]string{"config", "example"}, 0, "[gateway]", ""},
		{[]string{"config", "reference"}, 0, "| Key | Type | Default | Description |", ""},
		{[]string{"demo", "-preset", "nope"}, 1, "", "-preset"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, "_"), func(t *testing.T) {
			code, stdout, stderr := runCLI(t, nil, tt.args...)
			if code != tt.code {
				t.Errorf("exit code %d, want %d (stderr %q)", code, tt.code, stderr)
			}
			if !strings.Contains(stdout, tt.stdout) {
				t.Errorf("stdout lacks %q:\n%s", tt.stdout, stdout)
			}
			if tt.stderr == "" && stderr != "" {
				t.Errorf("unexpected stderr %q", stderr)
			}
			if !strings.Contains(stderr, tt.stderr) {
				t.Errorf("stderr %q lacks %q", stderr, tt.stderr)
			}
			// Errors are one line, never a stack trace.
			if strings.Count(stderr, "\n") > 1 || strings.Contains(stderr, "goroutine") {
				t.Errorf("stderr is not one line: %q", stderr)
			}
		})
	}
}

// TestNoArguments: secgate alone is a usage error: the usage goes to
// stderr and the exit code is 2.
func TestNoArguments(t *testing.T) {
	code, stdout, stderr := runCLI(t, nil)
	if code != 2 || stdout != "" || !strings.Contains(stderr, "commands:") {
		t.Errorf("exit %d, stdout %q, stderr %q; want 2 and the usage on stderr", code, stdout, stderr)
	}
}

// TestHelpEveryCommand: `secgate help` works for every command and group
// the usage names.
func TestHelpEveryCommand(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range commands() {
		for _, name := range []string{c.Name, strings.Fields(c.Name)[0]} {
			if seen[name] {
				continue
			}
			seen[name] = true
			code, stdout, stderr := runCLI(t, nil, append([]string{"help"}, strings.Fields(name)...)...)
			if code != 0 || !strings.Contains(stdout, "usage: secgate "+name) || stderr != "" {
				t.Errorf("help %s: exit %d, stdout %q, stderr %q", name, code, stdout, stderr)
			}
		}
	}
}

func TestPanicIsOneLine(t *testing.T) {
	var out, errOut bytes.Buffer
	a := &app{stdout: &out, stderr: &errOut, getenv: func(string) string { return "" }}
	c := &command{Name: "boom", Run: func(context.Context, *app, *command, []string) error { panic("kaboom") }}
	code := runCommandForTest(a, c)
	if code != 1 || !strings.Contains(errOut.String(), "internal error: kaboom") || strings.Contains(errOut.String(), "goroutine") {
		t.Errorf("code %d, stderr %q", code, errOut.String())
	}
}

// runCommandForTest runs c through run's error and panic handling.
func runCommandForTest(a *app, c *command) int {
	return runWith(context.Background(), a, func() []*command { return []*command{c} }, []string{c.Name})
}

// TestHelpGolden keeps `secgate help` in testdata/help.golden, so a change
// of the command table shows in review. go test -update rewrites it.
func TestHelpGolden(t *testing.T) {
	_, got, _ := runCLI(t, nil, "help")
	golden := "testdata/help.golden"
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if got != string(want) {
		t.Errorf("secgate help:\n%s\nwant (%s):\n%s", got, golden, want)
	}
}
