// Command secgate is a mail gateway for coordinated vulnerability
// disclosure: it reads the security team's mailbox, turns encrypted reports
// into cases, and sends signed and per-recipient encrypted notices on a
// disclosure schedule.
//
// Usage:
//
//	secgate COMMAND [flags] [arguments]
//
// Run `secgate help` for the list of commands and `secgate help COMMAND`
// for the flags of one. Every command reads the configuration file given
// with -config (default secgate.toml).
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], &app{
		stdin:  os.Stdin,
		stdout: os.Stdout,
		stderr: os.Stderr,
		getenv: os.Getenv,
	})
	stop()
	os.Exit(code)
}
