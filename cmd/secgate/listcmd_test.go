package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/secgate/secgate/internal/gpgtest"
)

func TestListCommands(t *testing.T) {
	f := newFixture(t)

	t.Run("show", func(t *testing.T) {
		out := f.ok(t, false, "list", "show")
		if !strings.Contains(out, "embargo  embargo  yes        2           database") {
			t.Errorf("list show:\n%s", out)
		}
		out = f.ok(t, false, "list", "show", "embargo")
		golden(t, "list_show_embargo", f.scrub(out))
		var l listJSON
		decodeJSON(t, f.ok(t, false, "list", "show", "embargo", "--json"), &l)
		if l.Kind != "embargo" || !l.Encrypt || len(l.Recipients) != 2 || l.Recipients[0].Fingerprint == "" {
			t.Errorf("JSON: %+v", l)
		}
		problems := map[string]string{}
		for _, r := range l.Recipients {
			problems[r.Address] = r.KeyProblem
		}
		if problems["olga@example.org"] != "expired" || problems["dana@example.org"] != "" {
			t.Errorf("key problems: %v", problems)
		}
	})

	t.Run("create add remove delete", func(t *testing.T) {
		out := f.ok(t, false, "list", "create", "vendors", "-kind", "embargo")
		if !strings.Contains(out, "created embargo list vendors") {
			t.Errorf("create: %q", out)
		}
		code, _, stderr := f.runNoKey(t, "list", "add", "vendors", "erin@example.org")
		mustFail(t, code, stderr, "list vendors is encrypted: give the recipient's public key with -key FILE")
		code, _, stderr = f.runNoKey(t, "list", "add", "vendors", "someone@example.org", "-key", f.keyFiles["Erin"])
		mustFail(t, code, stderr, "not among the key's user IDs")
		out = f.ok(t, false, "list", "add", "vendors", "erin@example.org", "-key", f.keyFiles["Erin"], "-name", "Erin Vendor")
		if !strings.Contains(out, "added erin@example.org to list vendors") {
			t.Errorf("add: %q", out)
		}
		if out := f.ok(t, false, "list", "show", "vendors"); !strings.Contains(out, "Erin Vendor") || !strings.Contains(out, f.fprs["Erin"]) {
			t.Errorf("after add:\n%s", out)
		}
		out = f.ok(t, false, "list", "add", "vendors", "other@example.org", "-key", f.keyFiles["Erin"], "-allow-mismatch")
		if !strings.Contains(out, "added other@example.org") {
			t.Errorf("add with mismatch: %q", out)
		}
		out = f.ok(t, false, "list", "remove", "vendors", "erin@example.org")
		if !strings.Contains(out, "removed erin@example.org from list vendors") || strings.Contains(out, "comes back") {
			t.Errorf("remove: %q", out)
		}
		code, _, stderr = f.runNoKey(t, "list", "remove", "vendors", "erin@example.org")
		mustFail(t, code, stderr, "erin@example.org is not on list vendors")
		code, _, stderr = f.runNoKey(t, "list", "create", "vendors", "-kind", "public")
		mustFail(t, code, stderr, "list vendors exists")
		out = f.ok(t, false, "list", "delete", "vendors")
		if !strings.Contains(out, "deleted list vendors") {
			t.Errorf("delete: %q", out)
		}
		code, _, stderr = f.runNoKey(t, "list", "show", "vendors")
		mustFail(t, code, stderr, `no list "vendors"`)
	})

	t.Run("config entries come back", func(t *testing.T) {
		// A list that is in the configuration: removing from it warns.
		text, err := os.ReadFile(f.cfg)
		if err != nil {
			t.Fatal(err)
		}
		extra := "\n[[distlist.list]]\nname = \"embargo\"\nkind = \"embargo\"\n\n[[distlist.list.recipient]]\nname = \"Dana\"\naddress = \"dana@example.org\"\nkey_file = \"dana.asc\"\n"
		if err := os.WriteFile(f.cfg, append(text, extra...), 0o644); err != nil {
			t.Fatal(err)
		}
		defer os.WriteFile(f.cfg, text, 0o644)
		out := f.ok(t, false, "list", "remove", "embargo", "dana@example.org")
		if !strings.Contains(out, "comes back at the next start") {
			t.Errorf("remove of a configured entry: %q", out)
		}
		var got map[string]any
		decodeJSON(t, f.ok(t, false, "list", "delete", "embargo", "--json"), &got)
		if got["returns_from_config"] != true {
			t.Errorf("delete JSON: %v", got)
		}
	})

	t.Run("errors", func(t *testing.T) {
		for _, tt := range []struct {
			args []string
			want string
		}{
			{[]string{"list", "create", "x"}, "-kind is required"},
			{[]string{"list", "create", "x", "-kind", "secret"}, `-kind "secret"`},
			{[]string{"list", "add", "nolist", "a@example.org"}, `no list "nolist"`},
			{[]string{"list", "add", "x"}, "want 2 arguments: LIST ADDRESS"},
			{[]string{"list", "delete", "nolist"}, `no list "nolist"`},
			{[]string{"list", "show", "a", "b"}, "want at most one list name"},
			{[]string{"list", "add", "embargo", "x@example.org", "-key", "/nonexistent.asc"}, "-key:"},
		} {
			code, _, stderr := f.runNoKey(t, tt.args...)
			mustFail(t, code, stderr, tt.want)
		}
	})
}

// TestListAddWKD: list add -wkd shows the key the address's Web Key
// Directory serves and adds nothing until a member confirms its
// fingerprint; a different fingerprint, or a key without the address,
// adds nothing; the confirmed one is the entry's key.
func TestListAddWKD(t *testing.T) {
	f := newFixture(t)
	g := gpgtest.New(t)
	fpr := g.GenKey("Gina <gina@example.org>", "ed25519")
	other := g.GenKey("Eve <eve@example.org>", "ed25519")
	cli := func(published []byte, args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		a := &app{stdin: strings.NewReader(""), stdout: &out, stderr: &errOut, getenv: func(string) string { return "" },
			keyLookup: stateLookup{"gina@example.org", published}}
		code := run(context.Background(), append(args, "-config", f.cfg), a)
		return code, out.String(), errOut.String()
	}
	code, out, stderr := cli(g.Export(fpr), "list", "add", "embargo", "gina@example.org", "-wkd")
	if code == 0 || !strings.Contains(out, "found key "+fpr+" for gina@example.org") || !strings.Contains(stderr, "run again with -fingerprint "+fpr) {
		t.Fatalf("unconfirmed: exit %d\n%s\n%s", code, out, stderr)
	}
	if code, _, stderr = cli(g.Export(fpr), "list", "add", "embargo", "gina@example.org", "-wkd", "-fingerprint", other); code == 0 || !strings.Contains(stderr, "not the "+other+" you confirmed") {
		t.Fatalf("another fingerprint: exit %d %s", code, stderr)
	}
	if code, _, stderr = cli(g.Export(other), "list", "add", "embargo", "gina@example.org", "-wkd", "-fingerprint", other); code == 0 || !strings.Contains(stderr, "refused") {
		t.Fatalf("a key without the address: exit %d %s", code, stderr)
	}
	if out := f.ok(t, false, "list", "show", "embargo"); strings.Contains(out, "gina@example.org") {
		t.Fatalf("gina was added unconfirmed:\n%s", out)
	}
	spaced := fpr[:4] + " " + fpr[4:8] + " " + strings.ToLower(fpr[8:])
	if code, out, stderr = cli(g.Export(fpr), "list", "add", "embargo", "gina@example.org", "-wkd", "-fingerprint", spaced); code != 0 {
		t.Fatalf("confirmed: exit %d %s %s", code, out, stderr)
	}
	if out := f.ok(t, false, "list", "show", "embargo"); !strings.Contains(out, "gina@example.org") || !strings.Contains(out, fpr) {
		t.Fatalf("gina's entry:\n%s", out)
	}
}
