package main

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/secgate/secgate/cases"
	"github.com/secgate/secgate/distlist"
)

// keyLookupCheck is how often the gateway looks for keys asked for by
// address alone (/list add LIST ADDRESS without a key, or a configured
// entry with wkd = true); keyLookupTimeout bounds one lookup.
const (
	keyLookupCheck   = 10 * time.Second
	keyLookupTimeout = 45 * time.Second
)

// keyLooker fetches the keys asked for by address alone from their Web
// Key Directories, one at a time and outside any transaction, and tells
// every member what was found: the fingerprint to confirm, or why
// nothing can be used.
func (g *gateway) keyLooker(ctx context.Context) error {
	for {
		if err := g.lookUpKeys(ctx); err != nil && ctx.Err() == nil {
			g.log.Error("key lookup", "err", err)
		}
		t := g.clock.NewTimer(keyLookupCheck)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C():
		}
	}
}

// lookUpKeys runs every key request that is due. Each outcome is recorded
// in the same transaction as the mail that tells the team of it.
func (g *gateway) lookUpKeys(ctx context.Context) error {
	reqs, err := g.dir.DueKeyRequests(ctx)
	if err != nil || len(reqs) == 0 {
		return err
	}
	team, err := g.dir.Team(ctx)
	if err != nil {
		return err
	}
	for _, r := range reqs {
		lctx, cancel := context.WithTimeout(ctx, keyLookupTimeout)
		f := g.dir.FetchKey(lctx, g.keyLookup, r)
		cancel()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var state string
		err := g.db.Tx(ctx, func(tx *sql.Tx) (err error) {
			state, err = g.dir.RecordKey(ctx, tx, f)
			if err != nil {
				return err
			}
			subject, text := keyLookupMail(f, state, team)
			if subject == "" {
				return nil
			}
			return g.workflow.Alert(ctx, tx, cases.GatewayLog, subject, text)
		})
		if err != nil {
			return fmt.Errorf("key lookup %s: %w", r.Address, err)
		}
		if r.List == "" && state == distlist.LookupAdded {
			// A configured member's key: the configuration, loaded
			// again, makes them a member with it.
			if _, err := g.dir.Sync(ctx, g.cfg.packageDistlist()); err != nil {
				return fmt.Errorf("key lookup %s: %w", r.Address, err)
			}
		}
		g.log.Info("key lookup", "list", r.List, "address", r.Address, "fingerprint", f.Fingerprint, "err", f.Err)
		g.outbox.Kick()
	}
	return nil
}

// keyLookupMail is what every member is told of a lookup's outcome; ""
// when nothing is to be told yet (a failure that is tried again).
func keyLookupMail(f distlist.KeyFound, state string, team []distlist.Member) (subject, text string) {
	asked := "the configuration"
	if f.RequestedBy != distlist.ByConfig {
		asked = f.RequestedBy
		for _, m := range team {
			if strings.EqualFold(m.Fingerprint, f.RequestedBy) {
				asked = fmt.Sprintf("%s <%s>", m.Name, m.Address)
			}
		}
	}
	var b strings.Builder
	what := "added to the list " + f.List
	if f.List == "" {
		what = "configured as a team member"
	}
	fmt.Fprintf(&b, "%s was %s by address alone (asked by %s), so its key was looked up in the Web Key Directory of its domain.\n\n", f.Address, what, asked)
	key := func() {
		fmt.Fprintf(&b, "    fingerprint: %s\n", groupFingerprint(f.Fingerprint))
		fmt.Fprintf(&b, "    user IDs:    %s\n", strings.Join(f.Emails, ", "))
		expires := "never"
		if !f.Expires.IsZero() {
			expires = f.Expires.UTC().Format("2006-01-02")
		}
		fmt.Fprintf(&b, "    expires:     %s\n", expires)
		for _, w := range f.Warnings {
			fmt.Fprintf(&b, "    warning:     %s\n", w)
		}
	}
	switch state {
	case distlist.LookupFound:
		b.WriteString("It publishes this key:\n\n")
		key()
		fmt.Fprintf(&b, "\nA web server's word is not enough: check this fingerprint with the key's holder by another channel (a call, a signed mail from a key you already hold). Then send, signed:\n\n/list confirm %s %s %s\n\nUntil a member does, %s gets nothing.\n", f.List, f.Address, f.Fingerprint, f.Address)
		return fmt.Sprintf("Key found for %s (%s): confirm its fingerprint", f.Address, f.List), b.String()
	case distlist.LookupAdded:
		b.WriteString("It publishes the key the configuration confirms, which is in use now:\n\n")
		key()
		return fmt.Sprintf("%s: the key its Web Key Directory publishes is in use", f.Address), b.String()
	case distlist.LookupFailed:
		why := "the key found is not the one confirmed"
		if f.Err != nil {
			why = f.Err.Error()
		} else if f.Confirmed != "" {
			why = fmt.Sprintf("it publishes key %s, not the %s the configuration confirms", f.Fingerprint, f.Confirmed)
		}
		fmt.Fprintf(&b, "No key can be used, and %s is not added: %s.\n\n", f.Address, why)
		if f.List == "" || f.RequestedBy == distlist.ByConfig {
			b.WriteString("Check the fingerprint in the configuration with the key's holder, or give a key_file instead.\n")
		} else {
			fmt.Fprintf(&b, "Attach the holder's public key to /list add %s %s instead, after checking its fingerprint with them.\n", f.List, f.Address)
		}
		return fmt.Sprintf("No key for %s: not added", f.Address), b.String()
	}
	return "", ""
}

// groupFingerprint writes a fingerprint in groups of four, as gpg shows it.
func groupFingerprint(f string) string {
	var b strings.Builder
	for i := 0; i < len(f); i += 4 {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(f[i:min(i+4, len(f))])
	}
	return b.String()
}
