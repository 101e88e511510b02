package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/secgate/secgate/crypto"
	"github.com/secgate/secgate/store"
)

// initResult is what init reports, also as JSON.
type initResult struct {
	Config      string `json:"config"`
	Database    string `json:"database"`
	KeyFile     string `json:"team_key"`
	PublicFile  string `json:"team_public_key"`
	Fingerprint string `json:"fingerprint"`
	Imported    bool   `json:"imported"`
	PublicKey   string `json:"public_key"`
}

func runInit(ctx context.Context, a *app, c *command, args []string) error {
	fs := c.flagSet(a)
	sel := configFlag(fs)
	path := &sel.path
	asJSON := jsonFlag(fs)
	domain := fs.String("domain", "", "mail `DOMAIN` the gateway serves (required)")
	team := fs.String("team", "", "team `ADDRESS` (default security@DOMAIN)")
	name := fs.String("name", "", "`NAME` in the team key's user ID (default \"DOMAIN security team\")")
	passFile := fs.String("passphrase-file", "", "`FILE` whose first line is the team key's passphrase")
	passEnv := fs.String("passphrase-env", "", "environment `VARIABLE` holding the passphrase (default SECGATE_PASSPHRASE)")
	algo := fs.String("algo", "x25519", "key algorithm of a generated key: x25519 (curve25519) or rsa")
	bits := fs.Int("bits", 3072, "RSA key size: 3072 or 4096")
	importKey := fs.String("import", "", "import this armored private key `FILE` instead of generating one")
	imapAddr := fs.String("imap", "", "IMAP server host:port (default imap.DOMAIN:993)")
	smtpAddr := fs.String("smtp", "", "submission server host:port (default smtp.DOMAIN:587)")
	force := fs.Bool("force", false, "overwrite an existing configuration file; an existing team key (unlocked with the passphrase) and database are kept and used")
	dataDir := fs.String("data-dir", "", "`DIR` for the database and the team key, written as absolute paths (for a service whose configuration directory is read-only, e.g. /var/lib/secgate); default data/ beside the configuration")
	if _, err := c.parse(a, fs, args, 0); err != nil {
		return err
	}
	ko := keyOptions{force: *force, importKey: *importKey, name: *name, algo: *algo, bits: *bits}
	if sel.project != "" {
		return initProject(ctx, a, fs, sel, ko, *asJSON)
	}
	if *domain == "" {
		return errors.New("-domain is required (see secgate help init)")
	}
	if *passFile != "" && *passEnv != "" {
		return errors.New("give -passphrase-file or -passphrase-env, not both")
	}
	if *algo != "x25519" && *algo != "curve25519" && *algo != "rsa" {
		return fmt.Errorf("-algo %q: want x25519 or rsa", *algo)
	}
	if *algo == "rsa" && *bits != 3072 && *bits != 4096 {
		return fmt.Errorf("-bits %d: want 3072 or 4096", *bits)
	}
	if _, err := os.Stat(*path); err == nil && !*force {
		return fmt.Errorf("%s exists; use -force to overwrite it (the key and database are kept)", *path)
	}

	cfg := DefaultConfig()
	if *dataDir != "" {
		d, err := filepath.Abs(*dataDir)
		if err != nil {
			return err
		}
		cfg.Gateway.DataDir = d
		cfg.Gateway.Database = filepath.Join(d, "secgate.db")
		cfg.TeamKey.Path = filepath.Join(d, "team-key.asc")
	}
	cfg.Gateway.Domain = *domain
	cfg.Gateway.Team = *team
	if cfg.Gateway.Team == "" {
		cfg.Gateway.Team = "security@" + *domain
	}
	if *passFile != "" {
		cfg.TeamKey.PassphraseFile, cfg.TeamKey.PassphraseEnv = *passFile, ""
	} else if *passEnv != "" {
		cfg.TeamKey.PassphraseEnv = *passEnv
	}
	cfg.IMAP.Address = *imapAddr
	if cfg.IMAP.Address == "" {
		cfg.IMAP.Address = "imap." + *domain + ":993"
	}
	cfg.SMTP.Address = *smtpAddr
	if cfg.SMTP.Address == "" {
		cfg.SMTP.Address = "smtp." + *domain + ":587"
	}
	cfg.IMAP.User, cfg.SMTP.User = cfg.Gateway.Team, cfg.Gateway.Team
	cfg.IMAP.PasswordFile, cfg.SMTP.PasswordFile = "imap.pass", "smtp.pass"
	if errs := cfg.Validate(); len(errs) > 0 {
		var all []error
		for _, e := range errs {
			e.File = *path
			all = append(all, e)
		}
		return errors.Join(all...)
	}

	// Work on a copy with absolute paths; the file keeps relative ones.
	dir, err := filepath.Abs(filepath.Dir(*path))
	if err != nil {
		return err
	}
	abs := cfg
	if *passFile != "" {
		// -passphrase-file is relative to where init runs; the
		// configuration stores it relative to its own directory when it
		// is inside it, absolute otherwise.
		p, err := filepath.Abs(*passFile)
		if err != nil {
			return err
		}
		cfg.TeamKey.PassphraseFile = p
		if rel, err := filepath.Rel(dir, p); err == nil && !strings.HasPrefix(rel, "..") {
			cfg.TeamKey.PassphraseFile = rel
		}
		abs.TeamKey.PassphraseFile = p
	}
	abs.resolve(dir)
	pass, err := abs.Passphrase(a.getenv)
	if err != nil {
		return fmt.Errorf("%w (the passphrase locks the team key)", err)
	}
	if len(pass) < 12 {
		return errors.New("the passphrase is shorter than 12 characters")
	}
	keyName := *name
	if keyName == "" {
		keyName = *domain + " security team"
	}
	ko.name = keyName
	res, public, keep, err := makeKeyAndDatabase(ctx, &abs, pass, ko)
	if err != nil {
		return err
	}
	res.Config = *path

	header := exampleHeader + "#\n# Written by secgate init. Still to do: put the IMAP and SMTP passwords in\n# imap.pass and smtp.pass (mode 0600), check the server addresses, then run\n# secgate config check.\n"
	if err := writeConfigFile(*path, &cfg, header); err != nil {
		return err
	}

	if *asJSON {
		return a.printJSON(res)
	}
	verb := "generated"
	switch {
	case res.Imported:
		verb = "imported"
	case keep:
		verb = "kept the existing"
	}
	fmt.Fprintf(a.stdout, "wrote %s\ncreated database %s\n%s team key %s\n  private (locked): %s\n  public:           %s\n\nPublish this key (fingerprint %s) where reporters find it, e.g. on your security page:\n\n%s\n",
		*path, res.Database, verb, res.Fingerprint, res.KeyFile, res.PublicFile, res.Fingerprint, public)
	fmt.Fprintf(a.stdout, "Next: add the team members and the embargo and public lists to %s with their key files\n"+
		"(the commented [[distlist.member]] and [[distlist.list]] show how), write the IMAP and SMTP passwords to\n"+
		"imap.pass and smtp.pass (chmod 600), then run\n  secgate config check -config %s\n", *path, *path)
	return nil
}

// keyOptions are init's flags about the team key.
type keyOptions struct {
	force           bool
	importKey, name string // name: of the key's user ID
	algo            string
	bits            int
}

// makeTeamKey imports the team key from ko.importKey (unlocked by pass, or
// unprotected) or generates one for addr with ko's algorithm and name: the
// choices of init and of key rotate.
func makeTeamKey(addr string, ko keyOptions, pass []byte) (*crypto.Key, error) {
	if ko.importKey != "" {
		armored, err := os.ReadFile(ko.importKey)
		if err != nil {
			return nil, fmt.Errorf("import key: %w", err)
		}
		key, err := crypto.ParsePrivateKey(armored, pass)
		if err != nil {
			return nil, fmt.Errorf("import key %s (it must be unlocked by the same passphrase, or unprotected): %w", ko.importKey, err)
		}
		return key, nil
	}
	a := strings.TrimPrefix(ko.algo, "curve")
	if a == "25519" {
		a = "x25519"
	}
	key, err := crypto.GenerateKey(ko.name, addr, crypto.GenerateOptions{Algorithm: a, Bits: ko.bits, Created: time.Now()})
	if err != nil {
		return nil, fmt.Errorf("generate team key: %w", err)
	}
	return key, nil
}

// makeKeyAndDatabase generates the team key of abs (or imports it, or with
// force keeps the one there, which pass must unlock), locks it with pass
// and writes it and its public half, and creates the database. It returns
// what init reports, the armored public key and whether the key was kept.
func makeKeyAndDatabase(ctx context.Context, abs *Config, pass []byte, ko keyOptions) (initResult, string, bool, error) {
	fail := func(err error) (initResult, string, bool, error) { return initResult{}, "", false, err }
	keep := false // the existing team key is kept
	if _, err := os.Stat(abs.TeamKey.Path); err == nil {
		switch {
		case !ko.force:
			return fail(fmt.Errorf("team key %s exists (a gateway was set up here): -force rewrites only the configuration and keeps the key and database; to start afresh, move the data directory away", abs.TeamKey.Path))
		case ko.importKey != "":
			return fail(fmt.Errorf("team key %s exists; move it away to import another (a key is never overwritten)", abs.TeamKey.Path))
		}
		keep = true
	}
	res := initResult{Database: abs.Gateway.Database, KeyFile: abs.TeamKey.Path}
	var (
		key *crypto.Key
		err error
	)
	switch {
	case keep:
		key, err = crypto.LoadPrivateKey(abs.TeamKey.Path, pass)
		if err != nil {
			return fail(fmt.Errorf("team key %s exists and is kept, but the passphrase does not unlock it: %w", abs.TeamKey.Path, err))
		}
	default:
		if key, err = makeTeamKey(abs.Gateway.Team, ko, pass); err != nil {
			return fail(err)
		}
		res.Imported = ko.importKey != ""
	}
	if err := key.Check(time.Now()); err != nil {
		return fail(fmt.Errorf("team key %s: %w", key.Fingerprint(), err))
	}
	locked, err := key.ArmorPrivate(pass)
	if err != nil {
		return fail(fmt.Errorf("lock team key: %w", err))
	}
	public, err := key.ArmorPublic()
	if err != nil {
		return fail(fmt.Errorf("export public key: %w", err))
	}
	res.Fingerprint, res.PublicKey = key.Fingerprint(), public
	if err := os.MkdirAll(abs.Gateway.DataDir, 0o700); err != nil {
		return fail(fmt.Errorf("create data directory: %w", err))
	}
	for _, d := range []string{filepath.Dir(abs.TeamKey.Path), filepath.Dir(abs.Gateway.Database)} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fail(fmt.Errorf("create key directory: %w", err))
		}
	}

	if !keep {
		if err := writeNew(abs.TeamKey.Path, []byte(locked), 0o600); err != nil {
			return fail(fmt.Errorf("write team key: %w", err))
		}
	}
	res.PublicFile = strings.TrimSuffix(abs.TeamKey.Path, ".asc") + ".pub.asc"
	if err := os.WriteFile(res.PublicFile, []byte(public), 0o644); err != nil {
		return fail(fmt.Errorf("write public key: %w", err))
	}

	db, err := store.Open(ctx, abs.Gateway.Database)
	if err != nil {
		return fail(fmt.Errorf("create database: %w", err))
	}
	if err := db.Close(); err != nil {
		return fail(fmt.Errorf("create database: %w", err))
	}
	if err := os.Chmod(abs.Gateway.Database, 0o600); err != nil {
		return fail(err)
	}
	return res, public, keep, nil
}

// initProject sets up a project of a gateway of several, whose file the
// operator wrote in the projects directory: its team key (generated,
// imported, or with -force kept) and its database. It writes no
// configuration.
func initProject(ctx context.Context, a *app, fs *flag.FlagSet, sel *configSel, ko keyOptions, asJSON bool) error {
	var bad []string
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "domain", "team", "passphrase-file", "passphrase-env", "imap", "smtp", "data-dir":
			bad = append(bad, "-"+f.Name)
		}
	})
	if len(bad) > 0 {
		return fmt.Errorf("with -project, init writes no configuration: %s go in the project's file (the passphrase in its [team_key])", strings.Join(bad, ", "))
	}
	set, err := sel.load()
	if err != nil {
		return err
	}
	if !set.Several() {
		return fmt.Errorf("-project: %s is one project's configuration, not a gateway of several ([gateway] projects): run secgate init without -project", sel.path)
	}
	cfg := set.Project(sel.project)
	pass, err := cfg.Passphrase(a.getenv)
	if err != nil {
		return fmt.Errorf("project %s: %w (the passphrase locks the team key)", cfg.Name, err)
	}
	if len(pass) < 12 {
		return fmt.Errorf("project %s: the passphrase is shorter than 12 characters", cfg.Name)
	}
	if ko.name == "" {
		ko.name = cfg.project("").Team
	}
	res, public, keep, err := makeKeyAndDatabase(ctx, cfg, pass, ko)
	if err != nil {
		return fmt.Errorf("project %s: %w", cfg.Name, err)
	}
	res.Config = cfg.File
	if asJSON {
		return a.printJSON(res)
	}
	verb := "generated"
	switch {
	case res.Imported:
		verb = "imported"
	case keep:
		verb = "kept the existing"
	}
	fmt.Fprintf(a.stdout, "project %s (%s):\ncreated database %s\n%s team key %s\n  private (locked): %s\n  public:           %s\n\nPublish this key (fingerprint %s) where reporters find it, e.g. on the project's security page:\n\n%s\n",
		cfg.Name, cfg.File, res.Database, verb, res.Fingerprint, res.KeyFile, res.PublicFile, res.Fingerprint, public)
	fmt.Fprintf(a.stdout, "Next: secgate config check -config %s\n", sel.path)
	return nil
}

// writeNew creates path with data; it fails if path exists.
func writeNew(path string, data []byte, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	return f.Close()
}

// writeConfigFile writes the annotated configuration atomically.
func writeConfigFile(path string, cfg *Config, header string) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return fmt.Errorf("write configuration: %w", err)
	}
	err = writeExampleConfig(f, cfg, header)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write configuration: %w", err)
	}
	return nil
}
