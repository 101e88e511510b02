package main

import (
	"context"
	"fmt"
	"os"

	"github.com/secgate/secgate/store"
)

func runBackup(ctx context.Context, a *app, c *command, args []string) error {
	fs := c.flagSet(a)
	sel := configFlag(fs)
	asJSON := jsonFlag(fs)
	pos, err := c.parse(a, fs, args, 1)
	if err != nil {
		return err
	}
	dst := pos[0]
	cfg, err := sel.one()
	if err != nil {
		return err
	}
	if _, err := os.Stat(cfg.Gateway.Database); err != nil {
		return fmt.Errorf("gateway.database: %w (run secgate init first)", err)
	}
	if _, err := os.Stat(dst); err == nil {
		return fmt.Errorf("%s exists; a backup never overwrites a file", dst)
	}
	db, err := store.Open(ctx, cfg.Gateway.Database)
	if err != nil {
		return err
	}
	err = db.Backup(ctx, dst)
	if cerr := db.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := os.Chmod(dst, 0o600); err != nil {
		return err
	}
	fi, err := os.Stat(dst)
	if err != nil {
		return err
	}
	if *asJSON {
		return a.printJSON(map[string]any{"database": cfg.Gateway.Database, "backup": dst, "bytes": fi.Size()})
	}
	fmt.Fprintf(a.stdout, "backup of %s written to %s (%d bytes)\n", cfg.Gateway.Database, dst, fi.Size())
	return nil
}
