package main

import (
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/secgate/secgate/internal/gpgtest"
	"github.com/secgate/secgate/internal/wkdtest"
)

// TestServeKeyLookup adds a distributor by address alone through secgate
// serve on the real stack: a lead's signed /list add without a key makes
// the gateway fetch the key from the distributor's Web Key Directory over
// HTTPS and send every member its fingerprint. The attack: the web server
// publishes Mallory's key under Dana's address. It is never used: Dana
// is not on the list while the key waits, and a member who checked Dana's
// real fingerprint with her confirms nothing. Once the server publishes
// Dana's key, confirming its fingerprint adds her with it.
func TestServeKeyLookup(t *testing.T) {
	if testing.Short() {
		t.Skip("real mail stack")
	}
	wkdtest.Root(t)
	const addr = "dana@distro.test"
	dana, mallory := gpgtest.New(t), gpgtest.New(t)
	danaFpr := dana.GenKey("Dana <"+addr+">", "ed25519")
	malFpr := mallory.GenKey("Dana <"+addr+">", "ed25519")
	var published atomic.Pointer[[]byte]
	malKey := mallory.Export(malFpr)
	published.Store(&malKey)
	wkdtest.AddHost(t, "openpgpkey.distro.test")
	wkdtest.ServeTLS443(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/.well-known/openpgpkey/distro.test/hu/") {
			http.NotFound(w, r)
			return
		}
		w.Write(*published.Load())
	}), "openpgpkey.distro.test")

	e := startHostileWith(t, "", "KN", "KATA", []hostileMember{{"alice", []string{"knative"}}, {"carol", []string{"knative", "kata"}}})
	kn := e.kn
	onList := func() string {
		var fpr string
		e.query(kn, `SELECT coalesce(fingerprint, '') FROM dir_recipient WHERE list = 'embargo' AND address = ?`, addr).Scan(&fpr)
		return fpr
	}
	lookup := func() string {
		var st string
		e.query(kn, `SELECT state FROM dir_lookup WHERE address = ? ORDER BY id DESC LIMIT 1`, addr).Scan(&st)
		return st
	}

	id := e.command("alice", kn, "a distributor", "/list add embargo "+addr+"\n")
	e.waitInbound(kn, id)
	e.awaitMail("alice", "is being looked up in the Web Key Directory of distro.test")
	e.awaitMail("carol", "Key found for "+addr, groupFingerprint(malFpr), "/list confirm embargo "+addr+" "+malFpr)
	if got := onList(); got != "" {
		t.Fatalf("%s is on the list with %s before any member confirmed it", addr, got)
	}

	// Carol called Dana, who read her own fingerprint out.
	id = e.command("carol", kn, "confirm", "/list confirm embargo "+addr+" "+groupFingerprint(danaFpr)+"\n")
	e.waitInbound(kn, id)
	e.awaitMail("carol", "publishes key "+malFpr+", not the "+danaFpr+" confirmed")
	if got := onList(); got != "" || lookup() != "found" {
		t.Fatalf("after confirming Dana's real fingerprint against Mallory's key: on the list with %q, lookup %s", got, lookup())
	}

	// The server publishes Dana's key; alice asks again, carol confirms.
	danaKey := dana.Export(danaFpr)
	published.Store(&danaKey)
	id = e.command("alice", kn, "again", "/list add embargo "+addr+"\n")
	e.waitInbound(kn, id)
	e.awaitMail("carol", "Key found for "+addr, groupFingerprint(danaFpr))
	id = e.command("carol", kn, "confirm", "/list confirm embargo "+addr+" "+groupFingerprint(danaFpr)+"\n")
	e.waitInbound(kn, id)
	if got := onList(); got != danaFpr || lookup() != "added" {
		t.Fatalf("after confirming Dana's key: on the list with %q, lookup %s", got, lookup())
	}
	e.stop()
}
