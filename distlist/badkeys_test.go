package distlist

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/secgate/secgate/crypto"
	"github.com/secgate/secgate/distlist/smtpsink"
)

// Kinds of keys that cannot be used for encryption, made by badKey.
const (
	keyGood          = "good"           // valid, does not expire
	keyExpired       = "expired"        // primary key and subkey expired a year ago
	keySubkeyExpired = "subkey-expired" // primary valid forever, its one encryption subkey expired
	keyRevoked       = "revoked"        // revoked by its holder
	keySignOnly      = "sign-only"      // no encryption subkey at all
	keyLapses        = "lapses"         // encryption subkey valid at t0, expired an hour later
)

// badKey returns an OpenPGP entity (with its private keys) for email of the
// given kind, usable or not at t0, and its armored public key.
func badKey(t *testing.T, email, kind string) (*openpgp.Entity, []byte) {
	t.Helper()
	created := t0.Add(-48 * time.Hour)
	if kind == keyExpired {
		created = t0.AddDate(-2, 0, 0)
	}
	at := func(tm time.Time, life time.Duration) *packet.Config {
		return &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA, Time: func() time.Time { return tm }, KeyLifetimeSecs: uint32(life / time.Second)}
	}
	var life time.Duration
	if kind == keyExpired {
		life = 365 * 24 * time.Hour
	}
	e, err := openpgp.NewEntity(strings.Split(email, "@")[0], "", email, at(created, life))
	if err != nil {
		t.Fatal(err)
	}
	switch kind {
	case keySubkeyExpired, keyLapses, keySignOnly:
		e.Subkeys = nil
	}
	switch kind {
	case keySubkeyExpired:
		err = e.AddEncryptionSubkey(at(created, 24*time.Hour))
	case keyLapses:
		err = e.AddEncryptionSubkey(at(created, 48*time.Hour+30*time.Minute))
	case keyRevoked:
		err = e.RevokeKey(packet.KeyCompromised, "lost laptop", at(t0.Add(-time.Hour), 0))
	}
	if err != nil {
		t.Fatal(err)
	}
	return e, serializePublic(t, e)
}

func serializePublic(t *testing.T, e *openpgp.Entity) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := armor.Encode(&buf, openpgp.PublicKeyType, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Serialize(w); err != nil {
		t.Fatal(err)
	}
	w.Close()
	return buf.Bytes()
}

// renew gives e a fresh encryption subkey that does not expire, as its
// holder does when the old one ran out: same fingerprint, usable again.
func renew(t *testing.T, e *openpgp.Entity) []byte {
	t.Helper()
	if err := e.AddEncryptionSubkey(&packet.Config{Algorithm: packet.PubKeyAlgoEdDSA, Time: func() time.Time { return t0.Add(-time.Hour) }}); err != nil {
		t.Fatal(err)
	}
	return serializePublic(t, e)
}

// TestSyncKeepsUnusableKeys: members and distributors whose keys are
// expired, revoked or without a usable encryption subkey are loaded, each
// marked unusable with its reason and named in a warning; a key that lapses
// between two starts does not stop the second one; such recipients get
// nothing and are reported as skipped; a renewed key makes them usable.
func TestSyncKeepsUnusableKeys(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, smtpsink.Options{}, nil)
	dir := t.TempDir()
	entities := map[string]*openpgp.Entity{}
	file := func(email, kind string) string {
		ent, pub := badKey(t, email, kind)
		entities[email] = ent
		name := strings.Split(email, "@")[0] + ".asc"
		if err := os.WriteFile(filepath.Join(dir, name), pub, 0o600); err != nil {
			t.Fatal(err)
		}
		return name
	}
	cfg := Config{BaseDir: dir,
		Members: []MemberConfig{
			{Name: "Alice", Address: "alice@team.example", KeyFile: file("alice@team.example", keyGood), Role: RoleLead, Rota: 1},
			{Name: "Carol", Address: "carol@team.example", KeyFile: file("carol@team.example", keyRevoked), Role: RoleLead, Rota: 2},
			{Name: "Dave", Address: "dave@team.example", KeyFile: file("dave@team.example", keySubkeyExpired), Rota: 3},
		},
		Lists: []ListConfig{{Name: "embargo", Kind: KindEmbargo, Recipients: []RecipientConfig{
			{Name: "Good", Address: "good@distro.example", KeyFile: file("good@distro.example", keyGood)},
			{Name: "Old", Address: "old@distro.example", KeyFile: file("old@distro.example", keyExpired)},
			{Name: "Sub", Address: "sub@distro.example", KeyFile: file("sub@distro.example", keySubkeyExpired)},
			{Name: "Signer", Address: "signer@distro.example", KeyFile: file("signer@distro.example", keySignOnly)},
			{Name: "Soon", Address: "soon@distro.example", KeyFile: file("soon@distro.example", keyLapses)},
		}}},
	}
	warns, err := e.dir.Sync(ctx, cfg)
	if err != nil {
		t.Fatalf("sync with unusable keys: %v", err)
	}
	want := map[string]error{
		"carol@team.example":    crypto.ErrRevoked,
		"dave@team.example":     crypto.ErrNoEncryptKey,
		"old@distro.example":    crypto.ErrExpired,
		"sub@distro.example":    crypto.ErrNoEncryptKey,
		"signer@distro.example": crypto.ErrNoEncryptKey,
	}
	checkWarnings := func(warns []string, want map[string]error) {
		t.Helper()
		for addr, reason := range want {
			n := 0
			for _, w := range warns {
				if strings.Contains(w, addr) {
					n++
					if !strings.Contains(w, reason.Error()) {
						t.Errorf("warning about %s does not give the reason %q: %s", addr, reason, w)
					}
				}
			}
			if n != 1 {
				t.Errorf("%d warnings name %s, want 1: %q", n, addr, warns)
			}
		}
		if len(warns) != len(want) {
			t.Errorf("%d warnings, want %d: %q", len(warns), len(want), warns)
		}
	}
	checkWarnings(warns, want)
	checkLoaded := func(want map[string]error) {
		t.Helper()
		team, err := e.dir.Team(ctx)
		if err != nil || len(team) != 3 {
			t.Fatalf("team: %d members, %v; want all 3", len(team), err)
		}
		l, err := e.dir.List(ctx, "embargo")
		if err != nil || len(l.Recipients) != 5 {
			t.Fatalf("embargo list: %+v, %v; want all 5", l, err)
		}
		got := map[string]error{}
		for _, m := range team {
			if m.Key == nil {
				t.Errorf("member %s loaded without its key", m.Address)
			}
			got[m.Address] = m.KeyErr
		}
		for _, r := range l.Recipients {
			if r.Key == nil {
				t.Errorf("recipient %s loaded without its key", r.Address)
			}
			got[r.Address] = r.KeyErr
		}
		for addr, err := range got {
			if want[addr] == nil && err != nil {
				t.Errorf("%s: marked unusable (%v), want usable", addr, err)
			}
			if want[addr] != nil && !errors.Is(err, want[addr]) {
				t.Errorf("%s: KeyErr %v, want %v", addr, err, want[addr])
			}
		}
	}
	checkLoaded(want)

	// The weekly key report names each, with the reason.
	rep, err := e.dir.KeyReport(ctx, 0, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	bad, _, _ := strings.Cut(rep, "Keys that expire within")
	for addr, reason := range want {
		if !strings.Contains(bad, addr+"): ") || !strings.Contains(bad, reason.Error()) {
			t.Errorf("the key report does not list %s as unusable (%v):\n%s", addr, reason, rep)
		}
	}

	// At send time they are skipped, with the reason.
	l, _ := e.dir.List(ctx, "embargo")
	team, _ := e.dir.Team(ctx)
	to := l.Recipients
	for _, m := range team {
		to = append(to, Recipient{Name: m.Name, Address: m.Address, Key: m.Key})
	}
	skipped := e.enqueue(Mail{Kind: "embargo-notice", NoticeID: "n1", Encrypt: true, Content: textContent("embargoed", "text"), Recipients: to})
	gotSkipped := map[string]string{}
	for _, s := range skipped {
		gotSkipped[s.Recipient.Address] = s.Reason
	}
	for addr := range want {
		if gotSkipped[addr] == "" {
			t.Errorf("%s was not skipped", addr)
		}
	}
	if len(skipped) != len(want) {
		t.Errorf("skipped %v, want %d", gotSkipped, len(want))
	}
	if rows := e.rows("n1"); len(rows) != 3 || rows["good@distro.example"].ID == 0 || rows["soon@distro.example"].ID == 0 || rows["alice@team.example"].ID == 0 {
		t.Errorf("rows %v, want good, soon and alice", rows)
	}

	// A key lapses while the gateway is down: the next start loads it.
	e.clock.Advance(2 * time.Hour)
	want["soon@distro.example"] = crypto.ErrNoEncryptKey
	warns, err = e.dir.Sync(ctx, cfg)
	if err != nil {
		t.Fatalf("sync after a key lapsed: %v", err)
	}
	checkWarnings(warns, want)
	checkLoaded(want)
	// The notice queued while its key was good is stopped right before
	// sending, and the outbox tells (EventKeyInvalid, which the gateway
	// turns into an alert to the lead); the others go out.
	e.drain()
	rows := e.rows("n1")
	if rows["soon@distro.example"].State != StateFailed || rows["good@distro.example"].State != StateSent || rows["alice@team.example"].State != StateSent {
		t.Errorf("after the key lapsed: soon %s, good %s, alice %s; want failed, sent, sent",
			rows["soon@distro.example"].State, rows["good@distro.example"].State, rows["alice@team.example"].State)
	}
	if ev := e.Events(); len(ev) != 1 || ev[0].Kind != EventKeyInvalid || ev[0].Recipient != "soon@distro.example" {
		t.Errorf("events %+v, want one key-invalid for soon@distro.example", ev)
	}

	// A renewed key (same fingerprint, new encryption subkey) imported
	// later makes the member and the entry usable again.
	for _, addr := range []string{"dave@team.example", "soon@distro.example"} {
		if _, _, err := e.dir.ImportKey(ctx, nil, renew(t, entities[addr]), ImportOptions{Address: addr}); err != nil {
			t.Fatalf("import the renewed key of %s: %v", addr, err)
		}
		delete(want, addr)
	}
	// So does a new key given for the entry.
	_, pub := badKey(t, "sub@distro.example", keyGood)
	if w, err := e.dir.AddRecipient(ctx, nil, "embargo", RecipientSpec{Name: "Sub", Address: "sub@distro.example", Key: pub, Source: SourceCLI}); err != nil || len(w) != 0 {
		t.Fatalf("new key for sub@distro.example: warnings %q, %v", w, err)
	}
	delete(want, "sub@distro.example")
	checkLoaded(want)
}

// TestAddUnusableKey: an entry added with a key that cannot be used now is
// recorded, with a warning, and marked unusable; a key that is no key, a
// secret key or another person's key is still refused.
func TestAddUnusableKey(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, smtpsink.Options{}, nil)
	if err := e.dir.CreateList(ctx, nil, "embargo", KindEmbargo, SourceCLI); err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{keyExpired, keySubkeyExpired, keyRevoked, keySignOnly} {
		t.Run(kind, func(t *testing.T) {
			addr := kind + "@distro.example"
			_, pub := badKey(t, addr, kind)
			warns, err := e.dir.AddRecipient(ctx, nil, "embargo", RecipientSpec{Address: addr, Key: pub})
			if err != nil {
				t.Fatalf("add: %v", err)
			}
			if len(warns) != 1 || !strings.Contains(warns[0], "not usable") {
				t.Errorf("warnings %q, want one that the key is not usable", warns)
			}
			maddr := kind + "@team.example"
			_, mpub := badKey(t, maddr, kind)
			if warns, err := e.dir.AddMember(ctx, nil, MemberSpec{Address: maddr, Key: mpub}); err != nil || len(warns) != 1 {
				t.Fatalf("add member: warnings %q, %v", warns, err)
			}
			m, err := e.dir.MemberByAddress(ctx, maddr)
			if err != nil || m.KeyErr == nil {
				t.Errorf("member %s: %v, KeyErr %v; want it marked unusable", maddr, err, m.KeyErr)
			}
		})
	}
	l, err := e.dir.List(ctx, "embargo")
	if err != nil || len(l.Recipients) != 4 {
		t.Fatalf("list %+v %v", l, err)
	}
	for _, r := range l.Recipients {
		if r.Key == nil || r.KeyErr == nil {
			t.Errorf("%s: key %v, KeyErr %v; want the key, marked unusable", r.Address, r.Key, r.KeyErr)
		}
	}

	_, good := badKey(t, "x@distro.example", keyGood)
	priv := testKey(t, "y@distro.example", "x25519", false)
	secret, err := priv.ArmorPrivate([]byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		spec RecipientSpec
		err  error
	}{
		{"garbage", RecipientSpec{Address: "x@distro.example", Key: []byte("not a key")}, nil},
		{"secret key", RecipientSpec{Address: "y@distro.example", Key: []byte(secret)}, ErrSecretKey},
		{"another's key", RecipientSpec{Address: "z@distro.example", Key: good}, ErrAddressMismatch},
		{"no key", RecipientSpec{Address: "x@distro.example"}, ErrNoKey},
	} {
		_, err := e.dir.AddRecipient(ctx, nil, "embargo", tt.spec)
		if err == nil || tt.err != nil && !errors.Is(err, tt.err) {
			t.Errorf("%s: err %v, want %v", tt.name, err, tt.err)
		}
	}
}

// TestUnreadableStoredKey: a stored key that no longer parses (a library
// update, a damaged row) costs its holder their mail, not the whole team:
// the member and the list entry are loaded, keyless and marked unusable.
func TestUnreadableStoredKey(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, smtpsink.Options{}, nil)
	ka := testKey(t, "alice@team.example", "x25519", false)
	kb := testKey(t, "bob@team.example", "x25519", false)
	for _, k := range []*crypto.Key{ka, kb} {
		if _, err := e.dir.AddMember(ctx, nil, MemberSpec{Address: k.Emails()[0], Key: armorPub(t, k)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.dir.CreateList(ctx, nil, "embargo", KindEmbargo, SourceCLI); err != nil {
		t.Fatal(err)
	}
	if _, err := e.dir.AddRecipient(ctx, nil, "embargo", RecipientSpec{Address: "bob@team.example", Key: armorPub(t, kb)}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.Writer().Exec(`UPDATE dir_key SET armored = 'damaged' WHERE fingerprint = ?`, kb.Fingerprint()); err != nil {
		t.Fatal(err)
	}
	team, err := e.dir.Team(ctx)
	if err != nil || len(team) != 2 {
		t.Fatalf("team %+v, %v; want both members", team, err)
	}
	for _, m := range team {
		if bad := m.Address == "bob@team.example"; bad != (m.KeyErr != nil) || bad != (m.Key == nil) {
			t.Errorf("%s: key %v, KeyErr %v", m.Address, m.Key, m.KeyErr)
		}
	}
	if m, err := e.dir.MemberByAddress(ctx, "bob@team.example"); err != nil || m.KeyErr == nil {
		t.Errorf("bob: %v, KeyErr %v", err, m.KeyErr)
	}
	l, err := e.dir.List(ctx, "embargo")
	if err != nil || len(l.Recipients) != 1 || l.Recipients[0].Key != nil || l.Recipients[0].KeyErr == nil {
		t.Fatalf("list %+v, %v", l, err)
	}
}

// TestCheckConfig reads the key files of a configuration as Sync does,
// without a database: unusable keys are problems to warn about, one per
// entry with its reason; what Sync refuses is an error.
func TestCheckConfig(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
		return name
	}
	_, good := badKey(t, "alice@team.example", keyGood)
	_, revoked := badKey(t, "carol@team.example", keyRevoked)
	_, old := badKey(t, "old@distro.example", keyExpired)
	_, sub := badKey(t, "sub@distro.example", keySubkeyExpired)
	secret, err := testKey(t, "s@distro.example", "x25519", false).ArmorPrivate([]byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	base := Config{BaseDir: dir,
		Members: []MemberConfig{
			{Address: "alice@team.example", KeyFile: write("alice.asc", good)},
			{Address: "carol@team.example", KeyFile: write("carol.asc", revoked)},
		},
		Lists: []ListConfig{
			{Name: "embargo", Kind: KindEmbargo, Recipients: []RecipientConfig{
				{Address: "old@distro.example", KeyFile: write("old.asc", old)},
				{Address: "sub@distro.example", KeyFile: filepath.Join(dir, write("sub.asc", sub))},
			}},
			{Name: "announce", Kind: KindPublic, Recipients: []RecipientConfig{{Address: "announce@lists.example"}}},
		}}
	probs, err := CheckConfig(base, t0)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		holder, file string
		err          error
	}{
		{"member carol@team.example", "carol.asc", crypto.ErrRevoked},
		{"list embargo: old@distro.example", "old.asc", crypto.ErrExpired},
		{"list embargo: sub@distro.example", filepath.Join(dir, "sub.asc"), crypto.ErrNoEncryptKey},
	}
	if len(probs) != len(want) {
		t.Fatalf("problems %v, want %d", probs, len(want))
	}
	for i, w := range want {
		p := probs[i]
		if p.Holder != w.holder || p.KeyFile != w.file || p.Fingerprint == "" || !errors.Is(p.Err, w.err) {
			t.Errorf("problem %d: %+v, want %s in %s: %v", i, p, w.holder, w.file, w.err)
		}
		if s := p.String(); !strings.Contains(s, w.holder) || !strings.Contains(s, p.Fingerprint) || strings.Contains(s, "\n") {
			t.Errorf("problem %d reads %q", i, s)
		}
	}

	for _, tt := range []struct {
		name  string
		tweak func(*Config)
		want  string
	}{
		{"missing file", func(c *Config) { c.Members[0].KeyFile = "missing.asc" }, "alice@team.example"},
		{"secret key", func(c *Config) { c.Members[0].KeyFile = write("secret.asc", []byte(secret)) }, "secret key"},
		{"another's key", func(c *Config) { c.Members[1].KeyFile = "alice.asc" }, "carol@team.example"},
		{"member without key", func(c *Config) { c.Members[0].KeyFile = "" }, "alice@team.example"},
		{"encrypted entry without key", func(c *Config) { c.Lists[0].Recipients[0].KeyFile = "" }, "old@distro.example"},
		{"garbage", func(c *Config) { c.Members[0].KeyFile = write("garbage.asc", []byte("garbage")) }, "alice@team.example"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := base
			cfg.Members = append([]MemberConfig(nil), base.Members...)
			cfg.Lists = append([]ListConfig(nil), base.Lists...)
			cfg.Lists[0].Recipients = append([]RecipientConfig(nil), base.Lists[0].Recipients...)
			tt.tweak(&cfg)
			_, err := CheckConfig(cfg, t0)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err %v, want one naming %q", err, tt.want)
			}
			// Sync refuses the same configuration.
			e := newEnv(t, smtpsink.Options{}, nil)
			if _, err := e.dir.Sync(context.Background(), cfg); err == nil {
				t.Errorf("Sync took what CheckConfig refuses")
			}
		})
	}
}
