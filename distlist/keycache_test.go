package distlist

import (
	"bytes"
	"testing"
)

func TestKeyCache(t *testing.T) {
	c := newKeyCache()
	a := armorPub(t, testKey(t, "alice@distro-a.example", "x25519", false))
	b := armorPub(t, testKey(t, "bob@distro-b.example", "x25519", false))
	ka, err := c.parse(a)
	if err != nil {
		t.Fatal(err)
	}
	again, err := c.parse(bytes.Clone(a))
	if err != nil || again != ka {
		t.Errorf("the same armored key parsed again: %p, %v; want the cached %p", again, err, ka)
	}
	kb, err := c.parse(b)
	if err != nil || kb == ka || kb.Fingerprint() == ka.Fingerprint() {
		t.Errorf("another key: %v, %v", kb, err)
	}
	// A changed stored key (here: the same key with another armor
	// checksum line dropped) is parsed anew, never confused with the old.
	changed := bytes.Replace(a, []byte("\n="), []byte("\n\n="), 1)
	if kc, err := c.parse(changed); err == nil && kc == ka {
		t.Error("a different stored form returned the cached key")
	}
	if _, err := c.parse([]byte("not a key")); err == nil {
		t.Error("garbage parsed")
	}
	if len(c.m) > 3 {
		t.Errorf("%d entries: garbage was cached", len(c.m))
	}
}
