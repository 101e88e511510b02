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
	copies := []backupCopy{{src: cfg.Gateway.Database, dst: dst}}
	if arch := archiveFile(cfg.Gateway.Database); fileExists(arch) {
		// The project's database first, its archive after: a case that
		// left the first before its copy was made was in the archive
		// already, and the archive's copy, made later, holds it.
		copies = append(copies, backupCopy{src: arch, dst: archiveFile(dst)})
	}
	for _, c := range copies {
		if fileExists(c.dst) {
			return fmt.Errorf("%s exists; a backup never overwrites a file", c.dst)
		}
	}
	for i := range copies {
		if err := copies[i].write(ctx); err != nil {
			return err
		}
	}
	if *asJSON {
		out := map[string]any{"database": cfg.Gateway.Database, "backup": dst, "bytes": copies[0].bytes}
		if len(copies) > 1 {
			out["archive"], out["archive_backup"], out["archive_bytes"] = copies[1].src, copies[1].dst, copies[1].bytes
		}
		return a.printJSON(out)
	}
	for _, c := range copies {
		fmt.Fprintf(a.stdout, "backup of %s written to %s (%d bytes)\n", c.src, c.dst, c.bytes)
	}
	return nil
}

// backupCopy is one database a backup copies.
type backupCopy struct {
	src, dst string
	bytes    int64
}

func (c *backupCopy) write(ctx context.Context) error {
	db, err := store.Open(ctx, c.src)
	if err != nil {
		return err
	}
	err = db.Backup(ctx, c.dst)
	if cerr := db.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := os.Chmod(c.dst, 0o600); err != nil {
		return err
	}
	fi, err := os.Stat(c.dst)
	if err != nil {
		return err
	}
	c.bytes = fi.Size()
	return nil
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
