package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/secgate/secgate/crypto"
	"github.com/secgate/secgate/distlist"
	"github.com/secgate/secgate/intake"
	"github.com/secgate/secgate/store"
)

// defaultOverlap is how long a rotated-out team key still opens new mail.
const defaultOverlap = 30 * 24 * time.Hour

// previousKeyDir is where the team keys rotated out are kept, locked with
// the passphrase, one file per fingerprint: beside the team key.
func (c *Config) previousKeyDir() string {
	return filepath.Join(filepath.Dir(c.TeamKey.Path), "previous-team-keys")
}

// loadPreviousKeys unlocks the team keys rotated out of cfg with pass.
func loadPreviousKeys(cfg *Config, pass []byte) ([]*crypto.Key, error) {
	files, err := filepath.Glob(filepath.Join(cfg.previousKeyDir(), "*.asc"))
	if err != nil {
		return nil, err
	}
	slices.Sort(files)
	var keys []*crypto.Key
	for _, f := range files {
		k, err := crypto.LoadPrivateKey(f, pass)
		if err != nil {
			return nil, fmt.Errorf("previous team key %s: %w", f, err)
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// keyRotation is one row of team_key_history.
type keyRotation struct {
	Fingerprint  string
	Successor    string
	Rotated      time.Time
	OverlapUntil time.Time
	Retired      time.Time // zero: not retired
	PublicKey    string
	Statement    string
}

// opensMail reports whether the rotated-out key still opens new mail at now.
func (r keyRotation) opensMail(now time.Time) bool {
	return r.Retired.IsZero() && now.Before(r.OverlapUntil)
}

type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// readRotations returns the team key's rotations, oldest first.
func readRotations(ctx context.Context, q queryer) ([]keyRotation, error) {
	rows, err := q.QueryContext(ctx, `SELECT fingerprint, successor, rotated, overlap_until, retired, public_key, statement
		FROM team_key_history ORDER BY rotated, fingerprint`)
	if err != nil {
		return nil, fmt.Errorf("team key history: %w", err)
	}
	defer rows.Close()
	var out []keyRotation
	for rows.Next() {
		var r keyRotation
		var rotated, until, retired int64
		if err := rows.Scan(&r.Fingerprint, &r.Successor, &rotated, &until, &retired, &r.PublicKey, &r.Statement); err != nil {
			return nil, fmt.Errorf("team key history: %w", err)
		}
		r.Rotated, r.OverlapUntil = store.Time(rotated), store.Time(until)
		if retired != 0 {
			r.Retired = store.Time(retired)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// checkRotations fails when team (carrying its previous keys) does not
// match what the database records: a team key that was rotated out still
// in team_key.path (a rotation that did not finish), or a rotated-out key
// whose file is missing (what was stored for it could not be read).
func checkRotations(cfg *Config, team *crypto.Key, rs []keyRotation) error {
	for _, r := range rs {
		switch {
		case r.Fingerprint == team.Fingerprint():
			return fmt.Errorf("team_key.path %s holds key %s, which was rotated out on %s for %s: run secgate key rotate again to finish the rotation",
				cfg.TeamKey.Path, r.Fingerprint, r.Rotated.UTC().Format(time.DateOnly), r.Successor)
		case !slices.Contains(team.Previous(), r.Fingerprint):
			return fmt.Errorf("the team key %s rotated out on %s is missing from %s: what was stored before then cannot be read; restore %s.asc there",
				r.Fingerprint, r.Rotated.UTC().Format(time.DateOnly), cfg.previousKeyDir(), r.Fingerprint)
		}
	}
	return nil
}

// inboundPrevious returns the rotated-out keys of team that open new mail
// at now, read from the database at each call so that secgate key retire
// takes effect in a running gateway.
func inboundPrevious(ctx context.Context, db *store.DB, team *crypto.Key) func(now time.Time) []*crypto.Key {
	return func(now time.Time) []*crypto.Key {
		if len(team.Previous()) == 0 {
			return nil
		}
		rs, err := readRotations(ctx, db.Reader())
		if err != nil {
			return nil // fail closed: the current key alone
		}
		var keys []*crypto.Key
		for _, r := range rs {
			if r.opensMail(now) {
				keys = append(keys, team.PreviousKey(r.Fingerprint))
			}
		}
		return keys
	}
}

func runKeyRotate(ctx context.Context, a *app, c *command, args []string) error {
	fs := c.flagSet(a)
	sel := configFlag(fs)
	name := fs.String("name", "", "`NAME` in the new key's user ID (default: the current key's)")
	algo := fs.String("algo", "x25519", "algorithm of the new key: x25519 (curve25519) or rsa")
	bits := fs.Int("bits", 3072, "RSA key size: 3072 or 4096")
	importKey := fs.String("import", "", "use this armored private key `FILE` (unlocked by the same passphrase, or unprotected) instead of generating one")
	overlap := fs.Duration("overlap", defaultOverlap, "how long mail encrypted to the old key still opens")
	if _, err := c.parse(a, fs, args, 0); err != nil {
		return err
	}
	cfg, err := sel.one()
	if err != nil {
		return err
	}
	pass, err := cfg.Passphrase(a.getenv)
	if err != nil {
		return err
	}
	old, err := crypto.LoadPrivateKey(cfg.TeamKey.Path, pass)
	if err != nil {
		return fmt.Errorf("team_key.path %s: %w", cfg.TeamKey.Path, err)
	}
	db, err := store.Open(ctx, cfg.Gateway.Database)
	if err != nil {
		return err
	}
	defer db.Close()
	rs, err := readRotations(ctx, db.Reader())
	if err != nil {
		return err
	}
	pending := cfg.TeamKey.Path + ".new"
	for _, r := range rs {
		if r.Fingerprint == old.Fingerprint() {
			return finishRotation(a, cfg, r, pending, pass)
		}
	}

	name2 := *name
	if name2 == "" {
		name2 = old.Name()
	}
	newKey, err := makeTeamKey(cfg.Gateway.Team, keyOptions{name: name2, algo: *algo, bits: *bits, importKey: *importKey}, pass)
	if err != nil {
		return err
	}
	if newKey.Fingerprint() == old.Fingerprint() {
		return errors.New("the new key is the current team key")
	}
	now := time.Now()
	until := now.Add(*overlap)
	text := transitionText(cfg, old, newKey, now, until)
	statement, err := crypto.TransitionStatement([]byte(text), old, newKey, now)
	if err != nil {
		return err
	}
	oldPublic, err := old.ArmorPublic()
	if err != nil {
		return err
	}
	newPublic, err := newKey.ArmorPublic()
	if err != nil {
		return err
	}

	// 1. The old key is kept, as it is locked, where serve finds it.
	locked, err := os.ReadFile(cfg.TeamKey.Path)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.previousKeyDir(), 0o700); err != nil {
		return err
	}
	if err := writeSynced(filepath.Join(cfg.previousKeyDir(), old.Fingerprint()+".asc"), locked); err != nil {
		return err
	}
	// 2. The new key, locked, beside the current one.
	newLocked, err := newKey.ArmorPrivate(pass)
	if err != nil {
		return err
	}
	if err := writeSynced(pending, []byte(newLocked)); err != nil {
		return err
	}
	// 3. The rotation and the announcements commit together.
	dir := distlist.NewDirectory(db, nil, nil)
	dc := cfg.packageDistlist()
	ob, err := distlist.NewOutbox(ctx, distlist.OutboxOptions{DB: db, Directory: dir, TeamKey: newKey, Config: dc})
	if err != nil {
		return err
	}
	recipients, err := transitionRecipients(ctx, dir)
	if err != nil {
		return err
	}
	var skipped []string
	err = db.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO team_key_history (fingerprint, successor, rotated, overlap_until, public_key, statement)
			VALUES (?, ?, ?, ?, ?, ?)`, old.Fingerprint(), newKey.Fingerprint(), store.Millis(now), store.Millis(until), oldPublic, string(statement)); err != nil {
			return fmt.Errorf("team key history: %w", err)
		}
		mailer := &intake.OutboxAdapter{Outbox: ob, Directory: dir, From: dc.From}
		skipped, err = mailer.Enqueue(ctx, tx, intake.OutMail{
			Kind: "key-transition", NoticeID: "key-transition-" + old.Fingerprint(), Encrypt: true,
			Subject: "The " + cfg.Project.Name + " security team key changes",
			Body:    text + "\nThe statement signed by both keys and the new public key are attached.\n",
			Attachments: []intake.Attachment{
				{Filename: "key-transition-" + now.UTC().Format("2006-01-02") + ".asc", ContentType: "text/plain", Data: statement},
				{Filename: newKey.Fingerprint() + ".asc", ContentType: "application/pgp-keys", Data: []byte(newPublic)},
			},
			Recipients: recipients,
		})
		return err
	})
	if err != nil {
		return err
	}
	// 4. The new key takes the team key's place.
	if err := os.Rename(pending, cfg.TeamKey.Path); err != nil {
		return fmt.Errorf("team key rotated in the database, but %s could not replace %s: %w (run secgate key rotate again to finish)", pending, cfg.TeamKey.Path, err)
	}
	stPath := filepath.Join(cfg.Gateway.DataDir, "key-transition-"+old.Fingerprint()+".asc")
	if err := writeSynced(stPath, statement); err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "team key rotated: %s -> %s\n", old.Fingerprint(), newKey.Fingerprint())
	fmt.Fprintf(a.stdout, "mail encrypted to the old key opens until %s (secgate key retire ends this earlier)\n", until.UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(a.stdout, "the old key is kept in %s: what was stored before stays readable\n", cfg.previousKeyDir())
	fmt.Fprintf(a.stdout, "transition statement (signed by both keys): %s\n", stPath)
	fmt.Fprintf(a.stdout, "announcement queued to %d member(s) and distributor(s)\n", len(recipients)-len(skipped))
	for _, s := range skipped {
		fmt.Fprintf(a.stdout, "  not told (no usable key): %s\n", s)
	}
	fmt.Fprintln(a.stdout, "restart secgate serve; publish the new key (secgate wkd export, key_url)")
	return nil
}

// finishRotation completes a rotation the database records but whose new
// key did not yet replace the old one in team_key.path.
func finishRotation(a *app, cfg *Config, r keyRotation, pending string, pass []byte) error {
	k, err := crypto.LoadPrivateKey(pending, pass)
	if err != nil {
		return fmt.Errorf("key %s was rotated out for %s, but %s does not hold it: %w", r.Fingerprint, r.Successor, pending, err)
	}
	if k.Fingerprint() != r.Successor {
		return fmt.Errorf("key %s was rotated out for %s, but %s holds %s", r.Fingerprint, r.Successor, pending, k.Fingerprint())
	}
	if err := os.Rename(pending, cfg.TeamKey.Path); err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "finished the rotation of %s: team key %s -> %s\n", r.Rotated.UTC().Format(time.DateOnly), r.Fingerprint, r.Successor)
	return nil
}

// transitionText is the statement both keys sign.
func transitionText(cfg *Config, old, newKey *crypto.Key, now, until time.Time) string {
	var b strings.Builder
	fmt.Fprintf(&b, "OpenPGP key transition statement of the %s security team <%s>\n\n", cfg.Project.Name, cfg.Gateway.Team)
	fmt.Fprintf(&b, "Date: %s\n", now.UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(&b, "Old key: %s\n", old.Fingerprint())
	fmt.Fprintf(&b, "New key: %s\n\n", newKey.Fingerprint())
	b.WriteString("From this date the team signs with the new key. Please encrypt what you\n")
	b.WriteString("send to the team to the new key from now on. Mail encrypted to the old key\n")
	fmt.Fprintf(&b, "still reaches the team until %s.\n\n", until.UTC().Format("2006-01-02 15:04 UTC"))
	b.WriteString("This statement is signed by both keys: check the old key's signature with\n")
	b.WriteString("the key you hold, then the new key's fingerprint above.\n")
	return b.String()
}

// transitionRecipients are everyone told of a rotation: the team and every
// recipient of an encrypted list, each once.
func transitionRecipients(ctx context.Context, dir *distlist.Directory) ([]intake.Recipient, error) {
	team, err := dir.Team(ctx)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []intake.Recipient
	add := func(name, addr string, k *crypto.Key) {
		if seen[addr] {
			return
		}
		seen[addr] = true
		r := intake.Recipient{Name: name, Address: addr}
		if k != nil {
			r.Member = k
		}
		out = append(out, r)
	}
	for _, m := range team {
		add(m.Name, m.Address, m.Key)
	}
	lists, err := dir.Lists(ctx)
	if err != nil {
		return nil, err
	}
	for _, li := range lists {
		l, err := dir.List(ctx, li.Name)
		if err != nil {
			return nil, err
		}
		if !l.Encrypt {
			continue
		}
		for _, r := range l.Recipients {
			add(r.Name, r.Address, r.Key)
		}
	}
	return out, nil
}

// writeSynced writes data to path (0600) and flushes it to disk.
func writeSynced(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func runKeyRetire(ctx context.Context, a *app, c *command, args []string) error {
	fs := c.flagSet(a)
	sel := configFlag(fs)
	if _, err := c.parse(a, fs, args, 0); err != nil {
		return err
	}
	cfg, err := sel.one()
	if err != nil {
		return err
	}
	db, err := store.Open(ctx, cfg.Gateway.Database)
	if err != nil {
		return err
	}
	defer db.Close()
	now := time.Now()
	var retired []string
	err = db.Tx(ctx, func(tx *sql.Tx) error {
		rs, err := readRotations(ctx, tx)
		if err != nil {
			return err
		}
		for _, r := range rs {
			if !r.opensMail(now) {
				continue
			}
			if _, err := tx.ExecContext(ctx, `UPDATE team_key_history SET retired = ? WHERE fingerprint = ?`, store.Millis(now), r.Fingerprint); err != nil {
				return err
			}
			retired = append(retired, r.Fingerprint)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(retired) == 0 {
		fmt.Fprintln(a.stdout, "no rotated-out team key opens mail: nothing to retire")
		return nil
	}
	for _, f := range retired {
		fmt.Fprintf(a.stdout, "retired %s: mail encrypted to it now gets the wrong-key answer; what was stored for it stays readable\n", f)
	}
	return nil
}

// teamVerifier is the team's public key with those of the keys it
// succeeded (team_key_history): what checks an audit head signed before
// or after a rotation, without the passphrase.
func (v *view) teamVerifier(ctx context.Context) (*crypto.Key, error) {
	team, err := teamPublicKey(v.cfg)
	if err != nil {
		return nil, err
	}
	rs, err := readRotations(ctx, v.db.Reader())
	if err != nil {
		return nil, err
	}
	var prev []*crypto.Key
	for _, r := range rs {
		k, err := crypto.ParsePublicKey([]byte(r.PublicKey))
		if err != nil {
			return nil, fmt.Errorf("team key history %s: %w", r.Fingerprint, err)
		}
		prev = append(prev, k)
	}
	return team.WithPrevious(prev...), nil
}
