package distlist

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/secgate/secgate/crypto"
	"github.com/secgate/secgate/distlist/smtpsink"
)

// TestSyncSharedKeyFiles: two directories (two projects' databases)
// sharing one KeyFiles parse each distinct key file once between them,
// and lose none of Sync's checks: a key that lapses between two syncs,
// its file unchanged, is noticed and marked at the next sync of each; a
// file that changed (the key renewed) is parsed and imported anew; the
// address a file is configured for is checked for each directory (the
// same file under another address is refused, as without KeyFiles).
func TestSyncSharedKeyFiles(t *testing.T) {
	ctx := context.Background()
	kf := NewKeyFiles()
	a, b := newEnv(t, smtpsink.Options{}, nil), newEnv(t, smtpsink.Options{}, nil)
	a.dir.ShareKeyFiles(kf)
	b.dir.ShareKeyFiles(kf)
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
		return name
	}
	_, alice := badKey(t, "alice@team.example", keyGood)
	soonEnt, soon := badKey(t, "soon@distro.example", keyLapses)
	cfg := Config{BaseDir: dir,
		Members: []MemberConfig{{Name: "Alice", Address: "alice@team.example", KeyFile: write("alice.asc", alice), Role: RoleLead, Rota: 1}},
		Lists: []ListConfig{{Name: "embargo", Kind: KindEmbargo, Recipients: []RecipientConfig{
			{Name: "Soon", Address: "soon@distro.example", KeyFile: write("soon.asc", soon)},
		}}},
	}
	syncBoth := func(what string, wantSoon error) {
		t.Helper()
		for i, e := range []*env{a, b} {
			warns, err := e.dir.Sync(ctx, cfg)
			if err != nil {
				t.Fatalf("%s: directory %d: %v", what, i, err)
			}
			l, err := e.dir.List(ctx, "embargo")
			if err != nil || len(l.Recipients) != 1 {
				t.Fatalf("%s: directory %d: embargo list %+v, %v", what, i, l, err)
			}
			got := l.Recipients[0].KeyErr
			if wantSoon == nil && (got != nil || len(warns) != 0) {
				t.Errorf("%s: directory %d: soon@ marked %v, warnings %q; want usable", what, i, got, warns)
			}
			if wantSoon != nil && (!errors.Is(got, wantSoon) || len(warns) != 1 || !strings.Contains(warns[0], "soon@distro.example")) {
				t.Errorf("%s: directory %d: soon@ marked %v, warnings %q; want %v, named", what, i, got, warns, wantSoon)
			}
		}
	}
	syncBoth("first sync", nil)
	if n := len(kf.c.m); n != 2 {
		t.Errorf("%d keys parsed for two directories of the same 2 files, want 2", n)
	}

	// The key lapses while the gateways are down, its file unchanged.
	a.clock.Advance(2 * time.Hour)
	b.clock.Advance(2 * time.Hour)
	syncBoth("after the key lapsed", crypto.ErrNoEncryptKey)

	// Its holder renews it: the changed file is imported anew.
	write("soon.asc", renew(t, soonEnt))
	syncBoth("after the file changed", nil)
	if n := len(kf.c.m); n != 3 {
		t.Errorf("%d keys parsed after one file changed, want 3", n)
	}

	// The same (shared) file configured for another address is refused.
	cfg.Members = append(cfg.Members, MemberConfig{Name: "Mallory", Address: "mallory@team.example", KeyFile: "alice.asc"})
	if _, err := b.dir.Sync(ctx, cfg); !errors.Is(err, ErrAddressMismatch) {
		t.Errorf("alice's key file for mallory@: %v, want ErrAddressMismatch", err)
	}
}
