package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// cmpOr is the first of a and b that is not empty.
func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// projectNameRE is a project's short name as project add takes it.
var projectNameRE = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

// runProjectAdd writes a new project's file into the gateway's projects
// directory: its name, team address, passphrase source and policy. It
// makes no key and no database (secgate init -project does), and
// configures no member or list: config check then says what is missing.
func runProjectAdd(ctx context.Context, a *app, c *command, args []string) error {
	fs := c.flagSet(a)
	sel := configFlag(fs)
	team := fs.String("team", "", "the project's security `ADDRESS` (required)")
	passFile := fs.String("passphrase-file", "", "`FILE` holding the passphrase of the project's team key (relative to the project file)")
	passEnv := fs.String("passphrase-env", "", "environment `VARIABLE` holding the passphrase of the project's team key")
	policy := fs.String("policy", "", "the disclosure `POLICY` of its cases (knative, kata, kubeedge or one the top file defines)")
	prefix := fs.String("case-prefix", "", "the `PREFIX` of its case references (KN: KN-2026-0001)")
	imapUser := fs.String("imap-user", "", "the `LOGIN` of its own mailbox on the top file's IMAP server (default: the team address; \"-\": it reads the shared mailbox)")
	smtpUser := fs.String("smtp-user", "", "the `LOGIN` it sends with on the top file's submission server (default: the team address)")
	rest, err := c.parse(a, fs, args, 1)
	if err != nil {
		return err
	}
	name := rest[0]
	switch {
	case sel.project != "":
		return errors.New("project add takes the new project's NAME as its argument, not -project")
	case !projectNameRE.MatchString(name):
		return fmt.Errorf("project name %q: lower-case letters and digits, words joined by '-' (knative, kata-containers)", name)
	case *team == "":
		return errors.New("-team ADDRESS is required: the address the project's reports are sent to")
	case (*passFile == "") == (*passEnv == ""):
		return errors.New("give one of -passphrase-file FILE and -passphrase-env VARIABLE: the passphrase locks the project's team key")
	}
	dir, err := projectsDir(sel.path)
	if err != nil {
		return err
	}
	if set, err := LoadProjects(sel.path); err == nil && set.Project(name) != nil {
		return fmt.Errorf("project %s exists already (%s)", name, set.Project(name).File)
	}
	path := filepath.Join(dir, name+".toml")
	var b strings.Builder
	fmt.Fprintf(&b, "# Project %s, written by secgate project add. Add its members and lists\n", name)
	fmt.Fprintf(&b, "# ([[distlist.member]], [[distlist.list]]), then: secgate config check\n\n")
	fmt.Fprintf(&b, "[project]\nname = %s\n", strconv.Quote(name))
	if *prefix != "" {
		fmt.Fprintf(&b, "case_prefix = %s\n", strconv.Quote(*prefix))
	}
	fmt.Fprintf(&b, "\n[gateway]\nteam = %s\n\n[team_key]\n", strconv.Quote(*team))
	if *passFile != "" {
		fmt.Fprintf(&b, "passphrase_file = %s\n", strconv.Quote(*passFile))
	} else {
		fmt.Fprintf(&b, "passphrase_env = %s\n", strconv.Quote(*passEnv))
	}
	if *imapUser != "-" {
		fmt.Fprintf(&b, "\n[imap]\nuser = %s\n", strconv.Quote(cmpOr(*imapUser, *team)))
	}
	fmt.Fprintf(&b, "\n[smtp]\nuser = %s\n", strconv.Quote(cmpOr(*smtpUser, *team)))
	if *policy != "" {
		fmt.Fprintf(&b, "\n[schedule]\npolicy = %s\n", strconv.Quote(*policy))
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, os.ErrExist) {
		return fmt.Errorf("%s exists already", path)
	}
	if err != nil {
		return err
	}
	if _, err := f.WriteString(b.String()); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return err
	}
	// The new file must load with the others, or it goes again.
	if _, err := LoadProjects(sel.path); err != nil {
		os.Remove(path)
		return fmt.Errorf("the new project does not load with the others, nothing written: %w", err)
	}
	fmt.Fprintf(a.stdout, "wrote %s\nNext: secgate init -config %s -project %s (its team key and database), add its members and lists, then secgate config check\n",
		path, sel.path, name)
	return nil
}

// projectsDir is the projects directory the top file at path names,
// resolved against the file's directory.
func projectsDir(path string) (string, error) {
	text, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read configuration: %w", err)
	}
	var top struct {
		Gateway struct {
			Projects string `toml:"projects"`
		} `toml:"gateway"`
	}
	if _, err := toml.Decode(string(text), &top); err != nil {
		return "", fmt.Errorf("configuration %s: %w", path, err)
	}
	dir := top.Gateway.Projects
	if dir == "" {
		return "", fmt.Errorf("%s serves one project ([gateway] projects is not set): name a projects directory there first, and move this project's settings into a file in it", path)
	}
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(filepath.Dir(path), dir)
	}
	return dir, nil
}
