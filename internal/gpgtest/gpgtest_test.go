package gpgtest

import (
	"bytes"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	g := New(t)
	alice := g.GenKey("Alice <alice@example.org>", "ed25519")
	bob := g.GenKey("Bob <bob@example.org>", "ed25519")
	msg := []byte("hello\n")

	ct := g.Encrypt(msg, bob, alice)
	r := g.Decrypt(ct)
	if r.Err != nil || !bytes.Equal(r.Stdout, msg) || !r.Has("DECRYPTION_OKAY") || !r.Has("VALIDSIG", alice) {
		t.Fatalf("decrypt: %v %q %v", r.Err, r.Stdout, r.Status)
	}

	sig := g.Sign(msg, alice, Detached)
	if r := g.Verify(msg, sig); r.Err != nil || !r.Has("VALIDSIG", alice) {
		t.Fatalf("verify: %v %v", r.Err, r.Status)
	}
	if r := g.Verify([]byte("hellO\n"), sig); r.Err == nil || r.Has("VALIDSIG") || !r.Has("BADSIG") {
		t.Fatalf("verify tampered: %v %v", r.Err, r.Status)
	}
	if pub := g.Export(alice); !bytes.Contains(pub, []byte("BEGIN PGP PUBLIC KEY BLOCK")) {
		t.Fatalf("export: %s", pub)
	}
}

func TestCleanupKillsAgent(t *testing.T) {
	var home string
	t.Run("inner", func(t *testing.T) {
		g := New(t)
		home = g.Home
		g.GenKey("Carol <carol@example.org>", "ed25519")
		if len(agentsFor(home)) == 0 {
			t.Log("no gpg-agent seen while the test runs")
		}
	})
	if pids := agentsFor(home); len(pids) > 0 {
		t.Fatalf("processes for %s still running after cleanup: %v", home, pids)
	}
	if _, err := osStat(home); err == nil {
		t.Fatalf("GNUPGHOME %s still exists after cleanup", home)
	}
}
