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
	"github.com/secgate/secgate/store"
)

// signOnlyKey is a public key without an encryption subkey.
func signOnlyKey(t *testing.T, email string) []byte {
	t.Helper()
	e, err := openpgp.NewEntity("signer", "", email, &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA, Time: func() time.Time { return t0.Add(-time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	e.Subkeys = nil
	var buf bytes.Buffer
	w, _ := armor.Encode(&buf, openpgp.PublicKeyType, nil)
	if err := e.Serialize(w); err != nil {
		t.Fatal(err)
	}
	w.Close()
	return buf.Bytes()
}

func TestKeyImportChecks(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, smtpsink.Options{}, nil)
	ka := testKey(t, "alice@distro-a.example", "x25519", false)
	priv, err := ka.ArmorPrivate([]byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		key   []byte
		opts  ImportOptions
		err   error
		warns int
	}{
		{"good", armorPub(t, ka), ImportOptions{Address: "alice@distro-a.example", ForEncryption: true}, nil, 0},
		{"address case differs", armorPub(t, ka), ImportOptions{Address: "Alice@Distro-A.example"}, nil, 0},
		{"secret key", []byte(priv), ImportOptions{}, ErrSecretKey, 0},
		{"mismatch refused", armorPub(t, ka), ImportOptions{Address: "eve@x.example"}, ErrAddressMismatch, 0},
		{"mismatch allowed", armorPub(t, ka), ImportOptions{Address: "eve@x.example", AllowMismatch: true}, nil, 1},
		{"no encryption subkey", signOnlyKey(t, "s@x.example"), ImportOptions{Address: "s@x.example", ForEncryption: true}, ErrNoEncryptKey, 0},
		{"no encryption subkey, signing only use", signOnlyKey(t, "s@x.example"), ImportOptions{Address: "s@x.example"}, nil, 1},
		{"expired warns", armorPub(t, testKey(t, "old@x.example", "x25519", true)), ImportOptions{Address: "old@x.example", ForEncryption: true}, nil, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, warns, err := e.dir.ImportKey(ctx, nil, tt.key, tt.opts)
			if !errors.Is(err, tt.err) || (err == nil) != (tt.err == nil) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if len(warns) != tt.warns {
				t.Errorf("warnings %q, want %d", warns, tt.warns)
			}
			if err == nil {
				ki, err := e.dir.ShowKey(ctx, k.Fingerprint())
				if err != nil || ki.Fingerprint != k.Fingerprint() || !strings.Contains(ki.Armored, "PUBLIC KEY") {
					t.Errorf("ShowKey: %+v %v", ki, err)
				}
			}
		})
	}
	if _, _, err := e.dir.ImportKey(ctx, nil, []byte("not a key"), ImportOptions{}); err == nil {
		t.Error("garbage imported")
	}
}

func TestMembersAndLists(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, smtpsink.Options{}, nil)
	ka := testKey(t, "alice@secteam.example", "x25519", false)
	kb := testKey(t, "bob@secteam.example", "x25519", false)
	if _, err := e.dir.AddMember(ctx, nil, MemberSpec{Name: "Bob", Address: "bob@secteam.example", Role: RoleLead, Rota: 2, TZ: "Europe/Berlin", Key: armorPub(t, kb)}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.dir.AddMember(ctx, nil, MemberSpec{Name: "Alice", Address: "alice@secteam.example", Rota: 1, Key: armorPub(t, ka)}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.dir.AddMember(ctx, nil, MemberSpec{Address: "x@secteam.example", TZ: "Mars/Olympus", Key: armorPub(t, ka), AllowMismatch: true}); err == nil {
		t.Error("bad time zone accepted")
	}
	if _, err := e.dir.AddMember(ctx, nil, MemberSpec{Address: "eve@secteam.example", Key: armorPub(t, ka)}); !errors.Is(err, ErrAddressMismatch) {
		t.Errorf("mismatch: %v", err)
	}
	team, err := e.dir.Team(ctx)
	if err != nil || len(team) != 2 || team[0].Address != "alice@secteam.example" || team[1].Role != RoleLead || team[1].TZ != "Europe/Berlin" {
		t.Fatalf("team %+v %v", team, err)
	}
	if team[0].Key == nil || team[0].Key.Fingerprint() != ka.Fingerprint() {
		t.Error("member key not loaded")
	}
	m, err := e.dir.MemberByFingerprint(ctx, strings.ToLower(kb.Fingerprint()))
	if err != nil || m.Address != "bob@secteam.example" {
		t.Errorf("by fingerprint: %+v %v", m, err)
	}
	if _, err := e.dir.MemberByAddress(ctx, "nobody@secteam.example"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown member: %v", err)
	}
	if err := e.dir.SetAway(ctx, nil, "bob@secteam.example", true); err != nil {
		t.Fatal(err)
	}
	// A team list without entries is the team minus those away.
	if err := e.dir.CreateList(ctx, nil, "team", KindTeam, ""); err != nil {
		t.Fatal(err)
	}
	l, err := e.dir.List(ctx, "team")
	if err != nil || !l.Encrypt || len(l.Recipients) != 1 || l.Recipients[0].Address != "alice@secteam.example" {
		t.Fatalf("team list %+v %v", l, err)
	}
	if err := e.dir.CreateList(ctx, nil, "embargo", KindEmbargo, SourceCommand); err != nil {
		t.Fatal(err)
	}
	if _, err := e.dir.AddRecipient(ctx, nil, "embargo", RecipientSpec{Address: "sec@distro.example"}); !errors.Is(err, ErrNoKey) {
		t.Errorf("keyless entry on an encrypted list: %v", err)
	}
	// A key without an encryption subkey is recorded, marked unusable, so
	// that it can be replaced later (TestAddUnusableKey).
	if w, err := e.dir.AddRecipient(ctx, nil, "embargo", RecipientSpec{Address: "s@x.example", Key: signOnlyKey(t, "s@x.example")}); err != nil || len(w) != 1 {
		t.Errorf("sign-only key on an encrypted list: warnings %q, %v", w, err)
	}
	if err := e.dir.RemoveRecipient(ctx, nil, "embargo", "s@x.example"); err != nil {
		t.Fatal(err)
	}
	kd := testKey(t, "sec@distro.example", "rsa", false)
	if _, err := e.dir.AddRecipient(ctx, nil, "embargo", RecipientSpec{Name: "Distro", Address: "sec@distro.example", Key: armorPub(t, kd)}); err != nil {
		t.Fatal(err)
	}
	if err := e.dir.CreateList(ctx, nil, "announce", KindPublic, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := e.dir.AddRecipient(ctx, nil, "announce", RecipientSpec{Address: "announce@lists.example"}); err != nil {
		t.Fatal(err)
	}
	if err := e.dir.CreateList(ctx, nil, "x", "secret", ""); err == nil {
		t.Error("unknown kind accepted")
	}
	l, _ = e.dir.List(ctx, "embargo")
	if len(l.Recipients) != 1 || l.Recipients[0].Key == nil || l.Recipients[0].Name != "Distro" {
		t.Errorf("embargo %+v", l)
	}
	ls, _ := e.dir.Lists(ctx)
	if len(ls) != 3 || ls[0].Name != "announce" || ls[0].Encrypt {
		t.Errorf("lists %+v", ls)
	}
	if err := e.dir.RemoveRecipient(ctx, nil, "embargo", "sec@distro.example"); err != nil {
		t.Fatal(err)
	}
	if err := e.dir.RemoveRecipient(ctx, nil, "embargo", "sec@distro.example"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second remove: %v", err)
	}
	if err := e.dir.RemoveMember(ctx, nil, "bob@secteam.example"); err != nil {
		t.Fatal(err)
	}
	// per-case extras
	if _, err := e.dir.AddCaseExtra(ctx, nil, 7, "reporter", RecipientSpec{Address: "rep@elsewhere.example"}); err != nil {
		t.Fatal(err)
	}
	kx := testKey(t, "expert@elsewhere.example", "x25519", false)
	if _, err := e.dir.AddCaseExtra(ctx, nil, 7, "expert", RecipientSpec{Address: "expert@elsewhere.example", Key: armorPub(t, kx)}); err != nil {
		t.Fatal(err)
	}
	ex, err := e.dir.CaseExtras(ctx, 7)
	if err != nil || len(ex) != 2 || ex[0].Key == nil == (ex[1].Key == nil) {
		t.Fatalf("extras %+v %v", ex, err)
	}
}

func TestSync(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, smtpsink.Options{}, nil)
	dir := t.TempDir()
	write := func(name string, k *crypto.Key) string {
		os.WriteFile(filepath.Join(dir, name), armorPub(t, k), 0o600)
		return name
	}
	ka := testKey(t, "alice@secteam.example", "x25519", false)
	kd := testKey(t, "sec@distro.example", "rsa", false)
	ke := testKey(t, "psirt@vendor.example", "x25519", false)
	cfg := Config{BaseDir: dir,
		Members: []MemberConfig{{Name: "Alice", Address: "alice@secteam.example", KeyFile: write("alice.asc", ka), Role: "lead"}},
		Lists: []ListConfig{
			{Name: "embargo", Kind: KindEmbargo, Recipients: []RecipientConfig{
				{Name: "Distro", Address: "sec@distro.example", KeyFile: write("distro.asc", kd)},
				{Name: "Vendor", Address: "psirt@vendor.example", KeyFile: write("vendor.asc", ke)}}},
			{Name: "announce", Kind: KindPublic, Recipients: []RecipientConfig{{Address: "announce@lists.example"}}},
		}}
	if _, err := e.dir.Sync(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	// an entry added by team command survives a sync
	kc := testKey(t, "cmd@other.example", "x25519", false)
	if _, err := e.dir.AddRecipient(ctx, nil, "embargo", RecipientSpec{Address: "cmd@other.example", Key: armorPub(t, kc), Source: SourceCommand}); err != nil {
		t.Fatal(err)
	}
	cfg.Lists[0].Recipients = cfg.Lists[0].Recipients[:1]
	cfg.Lists = cfg.Lists[:1]
	if _, err := e.dir.Sync(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	l, err := e.dir.List(ctx, "embargo")
	if err != nil || len(l.Recipients) != 2 || l.Recipients[0].Address != "cmd@other.example" || l.Recipients[1].Address != "sec@distro.example" {
		t.Fatalf("embargo after resync: %+v %v", l, err)
	}
	if _, err := e.dir.List(ctx, "announce"); !errors.Is(err, ErrNotFound) {
		t.Errorf("list removed from config still there: %v", err)
	}
	// a config with a bad key changes nothing
	cfg.Members[0].KeyFile = write("wrong.asc", kd)
	if _, err := e.dir.Sync(ctx, cfg); !errors.Is(err, ErrAddressMismatch) {
		t.Errorf("sync with a mismatched key: %v", err)
	}
	if m, _ := e.dir.MemberByAddress(ctx, "alice@secteam.example"); m.Fingerprint != ka.Fingerprint() {
		t.Error("failed sync changed the member")
	}
}

func TestKeyReport(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, smtpsink.Options{}, nil)
	if rep, err := e.dir.KeyReport(ctx, 0, e.team, nil); err != nil || rep != "" {
		t.Fatalf("empty report: %q %v", rep, err)
	}
	soon, err := crypto.GenerateKey("soon", "soon@distro.example", crypto.GenerateOptions{Created: t0.AddDate(0, 0, -340), Lifetime: 360 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	later := testKey(t, "later@distro.example", "x25519", false)
	e.dir.CreateList(ctx, nil, "embargo", KindEmbargo, "")
	for _, k := range []*crypto.Key{soon, later, testKey(t, "old@x.example", "x25519", true)} {
		if _, err := e.dir.AddRecipient(ctx, nil, "embargo", RecipientSpec{Address: k.Emails()[0], Key: armorPub(t, k)}); err != nil {
			t.Fatal(err)
		}
	}
	teamSoon, err := crypto.GenerateKey("team", "security@example.org", crypto.GenerateOptions{Created: t0.AddDate(0, 0, -355), Lifetime: 360 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := e.dir.KeyReport(ctx, 0, teamSoon, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(rep, teamSoon.Fingerprint()+" (the team key): expires") {
		t.Errorf("report misses the team key:\n%s", rep)
	}
	if !strings.Contains(rep, soon.Fingerprint()) || !strings.Contains(rep, "in 20 days") || !strings.Contains(rep, "list embargo: soon@distro.example") {
		t.Errorf("report misses the expiring key:\n%s", rep)
	}
	if !strings.Contains(rep, "cannot be used now") || !strings.Contains(rep, "old@x.example") {
		t.Errorf("report misses the expired key:\n%s", rep)
	}
	if strings.Contains(rep, later.Fingerprint()) {
		t.Errorf("report lists a key that does not expire:\n%s", rep)
	}
}

// TestTeamQueryPlan: reading the team looks up each member's key; it does
// not scan dir_key, which grows with every reporter and distributor.
func TestTeamQueryPlan(t *testing.T) {
	db, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "q.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	got, err := store.QueryPlan(context.Background(), db.Reader(), teamQuery)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got, "SCAN m") || !strings.Contains(got, "SEARCH k USING") {
		t.Errorf("plan %q: want dir_member scanned and each key searched", got)
	}
}
