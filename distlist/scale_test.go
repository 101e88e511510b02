package distlist

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/secgate/secgate/distlist/smtpsink"
)

// TestKeyReportFillsCache: the key report (at every start and every day,
// over every key) parses the keys through the directory's cache, so that
// reading a list afterwards parses none of its keys again: with 10,000
// distributors the first fan-out no longer waits for 10,000 key parses
// that the report had just made.
func TestKeyReportFillsCache(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, smtpsink.Options{}, nil)
	if err := e.dir.CreateList(ctx, nil, "embargo", KindEmbargo, SourceCLI); err != nil {
		t.Fatal(err)
	}
	const n = 5
	for i := range n {
		addr := fmt.Sprintf("d%d@distro.example", i)
		k := testKey(t, addr, "x25519", false)
		if _, err := e.dir.AddRecipient(ctx, nil, "embargo", RecipientSpec{Address: addr, Key: armorPub(t, k)}); err != nil {
			t.Fatal(err)
		}
	}
	e.dir.keys = newKeyCache() // as a start finds it
	if _, err := e.dir.CheckKeys(ctx, time.Time{}); err != nil {
		t.Fatal(err)
	}
	cached := len(e.dir.keys.m)
	if cached < n {
		t.Fatalf("%d keys cached after the key report, want at least %d", cached, n)
	}
	l, err := e.dir.List(ctx, "embargo")
	if err != nil || len(l.Recipients) != n {
		t.Fatalf("list: %v, %v", l, err)
	}
	if len(e.dir.keys.m) != cached {
		t.Errorf("reading the list parsed %d keys again", len(e.dir.keys.m)-cached)
	}
}
