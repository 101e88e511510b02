package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/secgate/secgate/crypto"
	"github.com/secgate/secgate/distlist"
)

// publishedAddresses are the addresses a project's team key is published
// for: its team address, its From address and its further addresses, each
// once (not the bounce address: nobody writes to it).
func (c *Config) publishedAddresses() []string {
	var out []string
	for _, a := range append([]string{c.Gateway.Team, c.packageDistlist().From}, c.Project.Addresses...) {
		addr, err := distlist.CanonicalAddress(a)
		if err != nil || slices.Contains(out, addr) {
			continue
		}
		out = append(out, addr)
	}
	return out
}

// buildWKD returns the Web Key Directory of the projects ps, with a line
// for each address: where its key is, or why it is not published.
func buildWKD(ps []*Config) (*crypto.WKD, []string, error) {
	w := crypto.NewWKD()
	var lines []string
	for _, p := range ps {
		k, err := teamPublicKey(p)
		if err != nil {
			return nil, nil, fmt.Errorf("project %s: %w", p.Name, err)
		}
		for _, addr := range p.publishedAddresses() {
			if err := w.Add(addr, k); err != nil {
				lines = append(lines, fmt.Sprintf("not published  %s: the team key %s has no user ID with this address", addr, k.Fingerprint()))
				continue
			}
			local, domain, _ := strings.Cut(addr, "@")
			lines = append(lines, fmt.Sprintf("published      %s  %s  .well-known/openpgpkey/%s/hu/%s", addr, k.Fingerprint(), domain, crypto.WKDHash(local)))
		}
	}
	return w, lines, nil
}

func runWKDExport(ctx context.Context, a *app, c *command, args []string) error {
	fs := c.flagSet(a)
	sel := configFlag(fs)
	pos, err := c.parse(a, fs, args, 1)
	if err != nil {
		return err
	}
	ps, err := sel.projects()
	if err != nil {
		return err
	}
	w, lines, err := buildWKD(ps)
	if err != nil {
		return err
	}
	if len(w.Domains()) == 0 {
		return fmt.Errorf("no team key carries any of its project's addresses: nothing to publish")
	}
	if err := writeWKD(pos[0], w.Files()); err != nil {
		return err
	}
	for _, l := range lines {
		fmt.Fprintln(a.stdout, l)
	}
	for _, d := range w.Domains() {
		fmt.Fprintf(a.stdout, "serve %s as the web root of https://openpgpkey.%s/ (advanced method)\n", pos[0], d)
	}
	if ds := w.Domains(); len(ds) == 1 {
		fmt.Fprintf(a.stdout, "or of https://%s/ (direct method)\n", ds[0])
	}
	return nil
}

// writeWKD writes files under dir/.well-known/openpgpkey, replacing what
// an earlier export left there as a whole: it is built beside it and
// renamed into place, so a key no longer published does not linger and a
// web server never serves half a tree.
func writeWKD(dir string, files map[string][]byte) error {
	base := filepath.Join(dir, ".well-known")
	if err := os.MkdirAll(base, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(base, ".openpgpkey-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	var paths []string
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		rel, ok := strings.CutPrefix(p, ".well-known/openpgpkey/")
		if !ok {
			return fmt.Errorf("unexpected path %s", p)
		}
		f := filepath.Join(tmp, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(f, files[p], 0o644); err != nil {
			return err
		}
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	old := filepath.Join(base, "openpgpkey")
	if err := os.RemoveAll(old); err != nil {
		return err
	}
	if err := os.Rename(tmp, old); err != nil {
		return err
	}
	return nil
}
