package intake

// The hostile-input corpus (testdata/hostile): its generator, the test that
// runs it through the real processor (TestHostileCorpus) and fuzz targets
// seeded with it. Run
//
//	go test ./intake/ -run TestHostileCorpus -update-hostile
//
// to write the keys (once), every NAME.eml, expect.txt and README.md anew.
// The expected outcomes live in hostileSpecs; the test reads expect.txt.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/aes"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"net/mail"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/secgate/secgate/cases"
	"github.com/secgate/secgate/crypto"
	"github.com/secgate/secgate/distlist"
	"github.com/secgate/secgate/internal/clock"
	"github.com/secgate/secgate/store"
	"github.com/secgate/secgate/templates"
)

var updateHostile = flag.Bool("update-hostile", false, "rewrite the hostile corpus in testdata/hostile")

// hostileT0 is the gateway's clock when the corpus is processed.
var hostileT0 = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)

const (
	hostileDir  = "testdata/hostile"
	hostilePass = "hostile-corpus" // passphrase of the test keys in keys/
	teamAddr    = "security@example.test"
)

// hostileKeys are the corpus's keys: the team's, members alice (lead) and
// bob, carol (revoked), dave (expired), a reporter, a distributor and a
// stranger's key.
type hostileKeys struct {
	team, alice, bob, carol, dave, reporter, psirt, other *crypto.Key
	carolRevoked                                          string // armored public key with its revocation
}

var hostileKeyNames = []string{"team", "alice", "bob", "carol", "dave", "reporter", "psirt", "other"}

func keyPath(name string) string { return filepath.Join(hostileDir, "keys", name+".asc") }

func genHostileKeys(t testing.TB) {
	created := hostileT0.Add(-60 * 24 * time.Hour)
	addrs := map[string]string{"team": teamAddr, "reporter": "reporter@outside.example", "psirt": "psirt@vendor.example", "other": "old-team@example.test"}
	for _, n := range hostileKeyNames {
		addr := addrs[n]
		if addr == "" {
			addr = n + "@example.test"
		}
		opts := crypto.GenerateOptions{Algorithm: "x25519", Created: created}
		if n == "dave" {
			opts.Lifetime = 30 * 24 * time.Hour // expired 30 days before T0
		}
		k, err := crypto.GenerateKey(n, addr, opts)
		if err != nil {
			t.Fatal(err)
		}
		arm, err := k.ArmorPrivate([]byte(hostilePass))
		if err != nil {
			t.Fatal(err)
		}
		must(t, os.MkdirAll(filepath.Dir(keyPath(n)), 0o755))
		must(t, os.WriteFile(keyPath(n), []byte(arm), 0o644))
		if n == "carol" {
			// Hard revocation (key compromised) made 10 days before T0.
			el, err := openpgp.ReadArmoredKeyRing(strings.NewReader(arm))
			if err != nil {
				t.Fatal(err)
			}
			e := el[0]
			must(t, e.DecryptPrivateKeys([]byte(hostilePass)))
			must(t, e.RevokeKey(packet.KeyCompromised, "key leaked", &packet.Config{Time: func() time.Time { return hostileT0.Add(-10 * 24 * time.Hour) }}))
			var buf bytes.Buffer
			w, err := armor.Encode(&buf, openpgp.PublicKeyType, nil)
			must(t, err)
			must(t, e.Serialize(w))
			must(t, w.Close())
			must(t, os.WriteFile(filepath.Join(hostileDir, "keys", "carol-revoked.pub.asc"), buf.Bytes(), 0o644))
		}
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func loadHostileKeys(t testing.TB) *hostileKeys {
	t.Helper()
	ks := map[string]*crypto.Key{}
	for _, n := range hostileKeyNames {
		b, err := os.ReadFile(keyPath(n))
		if err != nil {
			t.Fatalf("hostile keys: %v (run with -update-hostile)", err)
		}
		k, err := crypto.ParsePrivateKey(b, []byte(hostilePass))
		if err != nil {
			t.Fatalf("key %s: %v", n, err)
		}
		ks[n] = k
	}
	rev, err := os.ReadFile(filepath.Join(hostileDir, "keys", "carol-revoked.pub.asc"))
	if err != nil {
		t.Fatal(err)
	}
	return &hostileKeys{team: ks["team"], alice: ks["alice"], bob: ks["bob"], carol: ks["carol"], dave: ks["dave"],
		reporter: ks["reporter"], psirt: ks["psirt"], other: ks["other"], carolRevoked: string(rev)}
}

// hostileSpec is one corpus message and its expected outcome.
type hostileSpec struct {
	name  string
	desc  string
	state string // processed or quarantined
	class string
	cse   string // "new": a case opens; "none"
	mail  string // who gets mail: none, or sender/team/other joined by +
	cmd   string // none, applied, refused, replay
	// canary: the generator puts a fresh CANARY-... into the report.
	canary bool
	build  func(g *hostileGen, canary string) []byte
}

// hostileGen builds messages.
type hostileGen struct {
	t    testing.TB
	k    *hostileKeys
	seen map[string][]byte // built messages by name, for replays
	cmd  *crypto.Signed    // command-valid's signature, replayed later
}

func crlfs(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\n", "\r\n")
}

// mailHdr returns a header section (without the blank line).
func mailHdr(from, subject, id string, extra ...string) string {
	h := fmt.Sprintf("From: %s\nTo: %s\nSubject: %s\nDate: %s\nMessage-ID: <%s@hostile.test>\n",
		from, teamAddr, subject, hostileT0.Add(-time.Hour).Format(time.RFC1123Z), id)
	for _, e := range extra {
		h += e + "\n"
	}
	return h
}

// plainMail returns a simple text/plain message.
func plainMail(from, subject, id, body string, extra ...string) []byte {
	return []byte(crlfs(mailHdr(from, subject, id, extra...) + "MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\n" + body + "\n"))
}

// reportBody is a report text carrying canary.
func reportBody(canary string) string {
	return "Hello security team,\n\nI found a heap overflow in the token parser (" + canary + ").\nSend 70000 bytes of 'A' to trigger it.\n"
}

// sealedReport is a report signed by the reporter and encrypted to `to`.
func (g *hostileGen) sealedReport(from, id, subject, body string, to *crypto.Key, attach string) []byte {
	entity := "Content-Type: text/plain; charset=utf-8\r\n\r\n" + crlfs(body)
	if attach != "" {
		entity = "Content-Type: multipart/mixed; boundary=\"inner\"\r\n\r\n--inner\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + crlfs(body) +
			"\r\n--inner\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename=\"" + attach + "\"\r\n\r\nproof of concept\r\n--inner--\r\n"
	}
	s, err := g.k.reporter.Sign(crypto.Content{Subject: subject, From: "reporter@outside.example", Entity: []byte(entity)}, hostileT0.Add(-2*time.Hour))
	must(g.t, err)
	sealed, err := s.SealFor(to.Public(), hostileT0.Add(-2*time.Hour))
	must(g.t, err)
	return append([]byte(crlfs(mailHdr(from, "...", id)+"MIME-Version: 1.0\n")), sealed...)
}

// pgpMIME wraps an armored OpenPGP message in multipart/encrypted.
func pgpMIME(from, id string, armored []byte) []byte {
	return []byte(crlfs(mailHdr(from, "...", id)+"MIME-Version: 1.0\n"+
		"Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=\"enc\"\n\n"+
		"--enc\nContent-Type: application/pgp-encrypted\n\nVersion: 1\n\n--enc\n"+
		"Content-Type: application/octet-stream; name=\"encrypted.asc\"\n\n") + string(armored) + "\r\n--enc--\r\n")
}

func armorMsg(t testing.TB, bin []byte) []byte {
	var buf bytes.Buffer
	w, err := armor.Encode(&buf, "PGP MESSAGE", nil)
	must(t, err)
	w.Write(bin)
	must(t, w.Close())
	return []byte(crlfs(buf.String()))
}

// teamEncKey returns the team's encryption subkey as a go-crypto key.
func (g *hostileGen) teamEncKey() *packet.PublicKey {
	arm, err := g.k.team.ArmorPublic()
	must(g.t, err)
	el, err := openpgp.ReadArmoredKeyRing(strings.NewReader(arm))
	must(g.t, err)
	k, ok := el[0].EncryptionKey(hostileT0)
	if !ok {
		g.t.Fatal("team key has no encryption key")
	}
	return k.PublicKey
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// bombMessage returns PKESK + SEIPD(compressed^layers(literal(n zero bytes)))
// to the team key, or, without encryption, only the compressed packets.
func (g *hostileGen) bombMessage(n int64, layers int, encrypt bool) []byte {
	var buf bytes.Buffer
	var w io.WriteCloser = nopCloser{&buf}
	if encrypt {
		key := make([]byte, 32)
		rand.Read(key)
		must(g.t, packet.SerializeEncryptedKey(&buf, g.teamEncKey(), packet.CipherAES256, key, nil))
		c, err := packet.SerializeSymmetricallyEncrypted(&buf, packet.CipherAES256, false, packet.CipherSuite{}, key, nil)
		must(g.t, err)
		w = c
	}
	for range layers {
		c, err := packet.SerializeCompressed(w, packet.CompressionZLIB, &packet.CompressionConfig{Level: 9})
		must(g.t, err)
		w = c
	}
	lit, err := packet.SerializeLiteral(w, true, "", 0)
	must(g.t, err)
	_, err = io.CopyN(lit, zeroReader{}, n)
	must(g.t, err)
	must(g.t, lit.Close()) // closes the layers beneath it in turn
	return buf.Bytes()
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// sedMessage returns PKESK + a legacy Symmetrically Encrypted Data packet
// (tag 9, no integrity protection) to the team key.
func (g *hostileGen) sedMessage(plain string) []byte {
	var buf bytes.Buffer
	key := make([]byte, 32)
	rand.Read(key)
	must(g.t, packet.SerializeEncryptedKey(&buf, g.teamEncKey(), packet.CipherAES256, key, nil))
	var lit bytes.Buffer
	lw, err := packet.SerializeLiteral(nopCloser{&lit}, false, "", 0)
	must(g.t, err)
	io.WriteString(lw, plain)
	must(g.t, lw.Close())
	block, err := aes.NewCipher(key)
	must(g.t, err)
	iv := make([]byte, block.BlockSize())
	rand.Read(iv)
	stream, prefix := packet.NewOCFBEncrypter(block, iv, packet.OCFBResync)
	body := append(prefix, make([]byte, lit.Len())...)
	stream.XORKeyStream(body[len(prefix):], lit.Bytes())
	// New-format header, tag 9, five-octet length.
	buf.Write([]byte{0xC0 | 9, 0xFF, byte(len(body) >> 24), byte(len(body) >> 16), byte(len(body) >> 8), byte(len(body))})
	buf.Write(body)
	return buf.Bytes()
}

// entity returns the decrypted go-crypto entity of key name.
func (g *hostileGen) entity(name string) *openpgp.Entity {
	b, err := os.ReadFile(keyPath(name))
	must(g.t, err)
	el, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(b))
	must(g.t, err)
	must(g.t, el[0].DecryptPrivateKeys([]byte(hostilePass)))
	return el[0]
}

func hostileConfig(at time.Time) *packet.Config {
	return &packet.Config{Time: func() time.Time { return at }}
}

// clearsigned returns text clear-signed (inline) by key name.
func (g *hostileGen) clearsigned(name, text string) string {
	sk, ok := g.entity(name).SigningKey(hostileT0)
	if !ok {
		g.t.Fatal("no signing key")
	}
	var buf bytes.Buffer
	w, err := clearsign.Encode(&buf, sk.PrivateKey, hostileConfig(hostileT0.Add(-5*time.Minute)))
	must(g.t, err)
	io.WriteString(w, text)
	must(g.t, w.Close())
	return buf.String()
}

// unsignedToTeam encrypts a MIME entity to the team key without signing.
func (g *hostileGen) unsignedToTeam(entity string) []byte {
	var buf bytes.Buffer
	w, err := openpgp.Encrypt(&buf, []*openpgp.Entity{g.entity("team")}, nil, &openpgp.FileHints{IsBinary: true}, hostileConfig(hostileT0.Add(-5*time.Minute)))
	must(g.t, err)
	io.WriteString(w, entity)
	must(g.t, w.Close())
	return buf.Bytes()
}

// skeskMessage is encrypted with a passphrase only.
func (g *hostileGen) skeskMessage(plain string) []byte {
	var buf bytes.Buffer
	w, err := openpgp.SymmetricallyEncrypt(&buf, []byte("hunter2"), nil, nil)
	must(g.t, err)
	io.WriteString(w, plain)
	must(g.t, w.Close())
	return buf.Bytes()
}

// signedCmd signs a command body with k at time at.
func (g *hostileGen) signedCmd(k *crypto.Key, from, subject, body string, at time.Time) *crypto.Signed {
	entity := "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + crlfs(body)
	s, err := k.Sign(crypto.Content{Subject: subject, From: from, Entity: []byte(entity)}, at)
	must(g.t, err)
	return s
}

// cmdMail wraps a signed command: sealed to the team key, or signed only.
func (g *hostileGen) cmdMail(s *crypto.Signed, from, subject, id string, seal bool) []byte {
	content, err := s.Entity()
	must(g.t, err)
	if seal {
		content, err = s.SealFor(g.k.team.Public(), hostileT0.Add(-5*time.Minute))
		must(g.t, err)
	}
	return append([]byte(crlfs(mailHdr(from, subject, id)+"MIME-Version: 1.0\n")), content...)
}

// signedEntity returns k's multipart/signed entity of body.
func (g *hostileGen) signedEntity(k *crypto.Key, from, subject, body string) []byte {
	s, err := k.Sign(crypto.Content{Subject: subject, From: from,
		Entity: []byte("Content-Type: text/plain; charset=utf-8\r\n\r\n" + crlfs(body))}, hostileT0.Add(-5*time.Minute))
	must(g.t, err)
	ent, err := s.Entity()
	must(g.t, err)
	return ent
}

func newCanary() string {
	b := make([]byte, 8)
	rand.Read(b)
	return "CANARY-" + hex.EncodeToString(b)
}

// writeHostileCorpus writes every message, expect.txt and README.md.
func writeHostileCorpus(t *testing.T) {
	if _, err := os.Stat(keyPath("team")); err != nil {
		genHostileKeys(t)
	}
	g := &hostileGen{t: t, k: loadHostileKeys(t), seen: map[string][]byte{}}
	old, _ := filepath.Glob(filepath.Join(hostileDir, "*.eml"))
	for _, f := range old {
		os.Remove(f)
	}
	var manifest, readme strings.Builder
	manifest.WriteString("# name state class case mail cmd canary | description (generated by hostile_test.go)\n")
	readme.WriteString(hostileReadmeHead)
	for i, s := range hostileSpecs {
		if s.cmd == "" {
			s.cmd = "none"
		}
		canary := "-"
		if s.canary {
			canary = newCanary()
		}
		raw := s.build(g, canary)
		g.seen[s.name] = raw
		must(t, os.WriteFile(filepath.Join(hostileDir, s.name+".eml"), raw, 0o644))
		fmt.Fprintf(&manifest, "%s %s %s case=%s mail=%s cmd=%s canary=%s | %s\n", s.name, s.state, s.class, s.cse, s.mail, s.cmd, canary, s.desc)
		expect := s.state + "/" + s.class
		if s.cse == "new" {
			expect += ", opens a case"
		}
		if s.mail != "none" {
			expect += ", mail to " + strings.ReplaceAll(s.mail, "+", " and ")
		} else {
			expect += ", no mail"
		}
		if s.cmd != "none" {
			expect += ", command " + s.cmd
		}
		fmt.Fprintf(&readme, "%d. `%s.eml`: %s. **Expected:** %s.\n", i+1, s.name, s.desc, expect)
	}
	readme.WriteString(hostileReadmeTail)
	must(t, os.WriteFile(filepath.Join(hostileDir, "expect.txt"), []byte(manifest.String()), 0o644))
	must(t, os.WriteFile(filepath.Join(hostileDir, "README.md"), []byte(readme.String()), 0o644))
}

const hostileReadmeHead = `# Hostile-input corpus

Every message here is fed through the real intake processor (real OpenPGP,
cases workflow, distlist outbox, templates; no mail server) by
` + "`TestHostileCorpus`" + ` in ../../hostile_test.go on every ` + "`go test`" + `.
The expected outcome of each is in expect.txt; the test asserts, for every
message: no panic, an end state (processed or quarantined) with a reason, the
expected state and class, whether a case opens, who gets mail (sender, team,
nobody), whether a command is applied, refused or ignored as a replay (case
fields unchanged and a refusal in the audit log unless applied), and that
every quarantined message is readable through intake.Quarantine.Show. No
automatic reply, bounce or loop is ever answered.

` + "`TestHostileCanary`" + ` then checks that no report's canary (a unique
CANARY-... string in the text, protected subject or attachment name of
every report-like message) appears in clear in any outgoing message
stored in the outbox (final bytes, headers, decoded parts, attachment names),
nor in the SQLite database file or its WAL. The subtest
` + "`TestHostileCorpus/batch`" + ` runs the whole corpus again in two batches (parallel
preparation, group commit, as the poller does; split before loop-own-ack,
which can only arrive after the ack it copies was sent; without the
compression bombs) and expects the same outcomes.

` + "`TestCanaryRealStack`" + ` (../../canary_test.go) does the same through the real
Postfix and Dovecot (internal/mailstack): a clear report, an encrypted one,
its ciphertext re-sent by an attacker as is and re-armored, and a report held
for a limit; every message delivered to the outside world is read back over
IMAP and scanned.

Fuzz targets seeded with this corpus (less the compression bombs and the
files over 64 KiB; each should run 10 minutes without a failure):

    go test ./intake/ -run '^$' -fuzz FuzzHostileRealStack -fuzztime 10m
    go test ./intake/ -run '^$' -fuzz FuzzCipherHashRearmor -fuzztime 10m

FuzzHostileRealStack runs any message through the real processor and checks
that it ends with a reason, that mail goes only to its sender or the team,
that automatic mail is never answered and that no case changes except through
a command mail. FuzzCipherHashRearmor checks that the replay key of a
ciphertext does not depend on its armor; it finds the replay-rearmored bug
below within a second (its seeds pass).

The gateway clock is fixed at 2026-11-20 12:00 UTC; keys/ holds the test keys
(passphrase "hostile-corpus"; carol's public key carries a hard revocation,
dave's key expired). Regenerate everything with

    go test ./intake/ -run TestHostileCorpus -update-hostile

Messages are processed in this order (later ones refer to the case opened by
the first and to earlier ciphertexts):

`

const hostileReadmeTail = `
"sender" is the From address of the message, "team" any team member who is
not the sender.

## Bugs this corpus found (fixed; their entries now pass)

- replay-rearmored: cipherHash took the empty rest of the BEGIN line for the
  end of the armor headers and hashed the headers as payload, so a victim's
  ciphertext re-sent with an added armor header from another address was
  decrypted into a new case. The hash now skips the BEGIN line's rest and
  ignores armor headers, line breaks and the checksum.
- headers-8bit: a From that does not parse (raw 8-bit bytes in the display
  name) fell back to the whole field, which cases.OpenCase refused, so the
  report was held as an error, unacknowledged. The fallback takes the angle
  address, and keeps it only as the address it parses to (FuzzHostileRealStack
  later found "From: Liar <000000@ 0" answered at 000000@0 through the old
  fallback).
- binary-garbage, header-line-escape: the quarantine reason carried the raw
  header line (NUL, CR, LF, ESC) to the operator's terminal through "secgate
  quarantine list/show". intake.Printable now escapes reasons and headers
  before they are stored or printed.

## Weaker outcomes recorded as they are

- base64-invalid: a report whose only text part has broken base64 is held as
  malformed without a polite answer (crypto.TextBody fails); releasing it
  fails the same way.
`

// b64 wraps base64 at 76 columns.
func b64(b []byte) string {
	s := base64.StdEncoding.EncodeToString(b)
	var out strings.Builder
	for len(s) > 76 {
		out.WriteString(s[:76] + "\n")
		s = s[76:]
	}
	out.WriteString(s + "\n")
	return out.String()
}

// Shorthands for the specs.
const (
	sP = StateProcessed
	sQ = StateQuarantined
)

const rep = "Reporter <reporter@outside.example>"

// nested returns a multipart nested depth times around a text part.
func nested(depth int) string {
	var b strings.Builder
	for i := range depth {
		fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=\"b%d\"\n\n--b%d\n", i, i)
	}
	b.WriteString("Content-Type: text/plain\n\ndeep\n")
	for i := depth - 1; i >= 0; i-- {
		fmt.Fprintf(&b, "--b%d--\n", i)
	}
	return b.String()
}

func mimeMail(from, subject, id, entity string, extra ...string) []byte {
	return []byte(crlfs(mailHdr(from, subject, id, extra...) + "MIME-Version: 1.0\n" + entity))
}

var hostileSpecs = []hostileSpec{
	// Baselines (the first opens SEC-2026-0001, which later messages name).
	{name: "report-clear", desc: "baseline: a plain-text report", state: sP, class: ClassReport, cse: "new", mail: "sender+team", canary: true,
		build: func(g *hostileGen, c string) []byte {
			return plainMail("Reporter <reporter-clear@outside.example>", "Heap overflow in the parser", "report-clear", reportBody(c))
		}},
	{name: "report-encrypted", desc: "baseline: a report signed by the reporter and encrypted to the team key (PGP/MIME, protected subject)", state: sP, class: ClassReport, cse: "new", mail: "sender+team", canary: true,
		build: func(g *hostileGen, c string) []byte {
			return g.sealedReport(rep, "report-encrypted", "Secret RCE "+c, reportBody(c), g.k.team, "")
		}},
	{name: "report-attachment-name", desc: "encrypted report whose attachment name carries the canary", state: sP, class: ClassReport, cse: "new", mail: "sender+team", canary: true,
		build: func(g *hostileGen, c string) []byte {
			return g.sealedReport("Attacher <attacher@outside.example>", "report-attachment-name", "PoC attached", reportBody(c), g.k.team, c+".txt")
		}},

	// MIME bombs.
	{name: "mime-deep-nesting", desc: "multipart nested 40 deep (limit 8)", state: sQ, class: ClassLimit, cse: "none", mail: "sender", canary: true,
		build: func(g *hostileGen, c string) []byte {
			return mimeMail("Deep <deep@outside.example>", "deep", "mime-deep-nesting", strings.Replace(nested(40), "deep\n", reportBody(c), 1))
		}},
	{name: "mime-nesting-2000", desc: "multipart nested 2000 deep (stack exhaustion attempt)", state: sQ, class: ClassLimit, cse: "none", mail: "sender",
		build: func(g *hostileGen, c string) []byte {
			return mimeMail("Deeper <deeper@outside.example>", "deeper", "mime-nesting-2000", nested(2000))
		}},
	{name: "mime-many-parts", desc: "5000 MIME parts (limit 64)", state: sQ, class: ClassLimit, cse: "none", mail: "sender",
		build: func(g *hostileGen, c string) []byte {
			var b strings.Builder
			b.WriteString("Content-Type: multipart/mixed; boundary=\"p\"\n\n")
			for range 5000 {
				b.WriteString("--p\n\nx\n")
			}
			b.WriteString("--p--\n")
			return mimeMail("Parts <parts@outside.example>", "parts", "mime-many-parts", b.String())
		}},
	{name: "mime-many-attachments", desc: "30 small attachments (limit 16)", state: sQ, class: ClassLimit, cse: "none", mail: "sender",
		build: func(g *hostileGen, c string) []byte {
			var b strings.Builder
			b.WriteString("Content-Type: multipart/mixed; boundary=\"a\"\n\n--a\nContent-Type: text/plain\n\nsee attached\n")
			for i := range 30 {
				fmt.Fprintf(&b, "--a\nContent-Type: text/plain\nContent-Disposition: attachment; filename=\"f%d.txt\"\n\nfile %d\n", i, i)
			}
			b.WriteString("--a--\n")
			return mimeMail("Attachments <attachments@outside.example>", "files", "mime-many-attachments", b.String())
		}},
	{name: "huge-subject", desc: "a 100 KB Subject line", state: sP, class: ClassReport, cse: "new", mail: "sender+team", canary: true,
		build: func(g *hostileGen, c string) []byte {
			return plainMail("Huge <huge@outside.example>", strings.Repeat("A", 100<<10), "huge-subject", reportBody(c))
		}},
	{name: "many-header-fields", desc: "10000 header fields (beyond the OpenPGP/MIME parser's 500)", state: sQ, class: ClassLimit, cse: "none", mail: "sender", canary: true,
		build: func(g *hostileGen, c string) []byte {
			var extra []string
			for i := range 10000 {
				extra = append(extra, fmt.Sprintf("X-Junk-%d: %d", i, i))
			}
			return plainMail("Fields <fields@outside.example>", "fields", "many-header-fields", reportBody(c), extra...)
		}},
	{name: "unterminated-multipart", desc: "multipart whose closing boundary never comes", state: sP, class: ClassReport, cse: "new", mail: "sender+team", canary: true,
		build: func(g *hostileGen, c string) []byte {
			return mimeMail("Unterminated <unterminated@outside.example>", "cut", "unterminated-multipart",
				"Content-Type: multipart/mixed; boundary=\"u\"\n\n--u\nContent-Type: text/plain\n\n"+reportBody(c))
		}},
	{name: "multipart-no-boundary", desc: "multipart/mixed without a boundary parameter", state: sQ, class: ClassMalformed, cse: "none", mail: "none", canary: true,
		build: func(g *hostileGen, c string) []byte {
			return mimeMail("Noboundary <noboundary@outside.example>", "nob", "multipart-no-boundary", "Content-Type: multipart/mixed\n\n"+reportBody(c))
		}},
	{name: "rfc822-bomb-attachment", desc: "a report with a message/rfc822 attachment nested 200 deep (stored opaque)", state: sP, class: ClassReport, cse: "new", mail: "sender+team", canary: true,
		build: func(g *hostileGen, c string) []byte {
			return mimeMail("Forwarder <forwarder@outside.example>", "fwd", "rfc822-bomb-attachment",
				"Content-Type: multipart/mixed; boundary=\"f\"\n\n--f\nContent-Type: text/plain\n\n"+reportBody(c)+
					"--f\nContent-Type: message/rfc822\nContent-Disposition: attachment; filename=\"fwd.eml\"\n\nFrom: x@y\nSubject: inner\nMIME-Version: 1.0\n"+nested(200)+"--f--\n")
		}},

	// OpenPGP.
	{name: "pgp-compression-bomb", desc: "encrypted to the team key: 80 MiB of zeros compressed to a few KB (refused at the plaintext limit, 64 MiB)", state: sQ, class: ClassLimit, cse: "none", mail: "sender",
		build: func(g *hostileGen, c string) []byte {
			return pgpMIME("Bomb <bomb@outside.example>", "pgp-compression-bomb", armorMsg(g.t, g.bombMessage(80<<20, 1, true)))
		}},
	{name: "pgp-compression-bomb-nested", desc: "encrypted to the team key: three nested compression layers around 256 MiB of zeros", state: sQ, class: ClassLimit, cse: "none", mail: "sender",
		build: func(g *hostileGen, c string) []byte {
			return pgpMIME("Nested Bomb <nestedbomb@outside.example>", "pgp-compression-bomb-nested", armorMsg(g.t, g.bombMessage(256<<20, 3, true)))
		}},
	{name: "pgp-compression-bomb-inline", desc: "an unencrypted inline PGP MESSAGE block of nested compressed zeros in a text body", state: sQ, class: ClassLimit, cse: "none", mail: "sender",
		build: func(g *hostileGen, c string) []byte {
			return plainMail("Inline Bomb <inlinebomb@outside.example>", "bomb", "pgp-compression-bomb-inline", string(armorMsg(g.t, g.bombMessage(256<<20, 3, false))))
		}},
	{name: "pgp-truncated", desc: "an encrypted report cut in the middle of its ciphertext", state: sQ, class: ClassUndecryptable, cse: "none", mail: "sender", canary: true,
		build: func(g *hostileGen, c string) []byte {
			raw := g.sealedReport("Truncated <truncated@outside.example>", "pgp-truncated", c, reportBody(c), g.k.team, "")
			i := bytes.Index(raw, []byte("-----BEGIN PGP MESSAGE-----"))
			end := bytes.Index(raw, []byte("-----END PGP MESSAGE-----"))
			return append(raw[:i+(end-i)/2], []byte("\r\n-----END PGP MESSAGE-----\r\n")...)
		}},
	{name: "pgp-tampered", desc: "an encrypted report with one ciphertext character changed (integrity check fails)", state: sQ, class: ClassUndecryptable, cse: "none", mail: "sender", canary: true,
		build: func(g *hostileGen, c string) []byte {
			raw := g.sealedReport("Tampered <tampered@outside.example>", "pgp-tampered", c, reportBody(c), g.k.team, "")
			i := bytes.Index(raw, []byte("-----BEGIN PGP MESSAGE-----"))
			end := bytes.Index(raw, []byte("-----END PGP MESSAGE-----"))
			j := i + (end-i)*3/4
			for raw[j] == '\r' || raw[j] == '\n' || raw[j] == 'A' {
				j++
			}
			raw[j] = 'A'
			return raw
		}},
	{name: "pgp-wrong-key", desc: "a report encrypted to a key we do not hold (an old team key)", state: sQ, class: ClassWrongKey, cse: "none", mail: "sender", canary: true,
		build: func(g *hostileGen, c string) []byte {
			return g.sealedReport("Wrongkey <wrongkey@outside.example>", "pgp-wrong-key", c, reportBody(c), g.k.other, "")
		}},
	{name: "pgp-skesk-only", desc: "a report encrypted with a passphrase only (SKESK, no public-key packet)", state: sQ, class: ClassUndecryptable, cse: "none", mail: "sender", canary: true,
		build: func(g *hostileGen, c string) []byte {
			return pgpMIME("Symmetric <symmetric@outside.example>", "pgp-skesk-only", armorMsg(g.t, g.skeskMessage(reportBody(c))))
		}},
	{name: "pgp-no-mdc", desc: "a report encrypted to the team key in a legacy packet without integrity protection (no MDC)", state: sQ, class: ClassUndecryptable, cse: "none", mail: "sender", canary: true,
		build: func(g *hostileGen, c string) []byte {
			return pgpMIME("Nomdc <nomdc@outside.example>", "pgp-no-mdc", armorMsg(g.t, g.sedMessage(reportBody(c))))
		}},
	{name: "pgp-armor-garbage", desc: "multipart/encrypted whose armored body is random base64", state: sQ, class: ClassUndecryptable, cse: "none", mail: "sender",
		build: func(g *hostileGen, c string) []byte {
			junk := make([]byte, 600)
			rand.Read(junk)
			return pgpMIME("Garbage <armorgarbage@outside.example>", "pgp-armor-garbage", []byte(crlfs("-----BEGIN PGP MESSAGE-----\n\n"+b64(junk)+"-----END PGP MESSAGE-----\n")))
		}},
	{name: "pgp-encrypted-no-parts", desc: "multipart/encrypted with no parts at all", state: sQ, class: ClassUndecryptable, cse: "none", mail: "sender",
		build: func(g *hostileGen, c string) []byte {
			return mimeMail("Empty Enc <emptyenc@outside.example>", "...", "pgp-encrypted-no-parts",
				"Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=\"e\"\n\n--e--\n")
		}},

	// Forged senders and commands (case SEC-2026-0001 exists).
	{name: "forged-member-name", desc: "From shows the lead's name, address is an outsider's; body holds a command, subject the case tag", state: sP, class: ClassFollowUp, cse: "none", mail: "team",
		build: func(g *hostileGen, c string) []byte {
			return plainMail("\"alice (Security Lead)\" <alice@evil.example>", "[SEC-2026-0001] update", "forged-member-name", "/status invalid\n")
		}},
	{name: "forged-member-display-address", desc: "display name is the lead's address, real address an outsider's", state: sP, class: ClassFollowUp, cse: "none", mail: "team",
		build: func(g *hostileGen, c string) []byte {
			return plainMail("\"alice@example.test\" <mallory@evil.example>", "[SEC-2026-0001] update", "forged-member-display-address", "/status invalid\n")
		}},
	{name: "forged-member-address", desc: "From is the lead's real address, unsigned command", state: sP, class: ClassCommand, cse: "none", mail: "sender", cmd: "refused",
		build: func(g *hostileGen, c string) []byte {
			return plainMail("alice <alice@example.test>", "[SEC-2026-0001] update", "forged-member-address", "/status invalid\n")
		}},
	{name: "command-valid", desc: "control: the lead's command, signed and encrypted, is applied (the other member gets its summary)", state: sP, class: ClassCommand, cse: "none", mail: "sender+team", cmd: "applied",
		build: func(g *hostileGen, c string) []byte {
			g.cmd = g.signedCmd(g.k.alice, "alice@example.test", "[SEC-2026-0001] affected", "/affected <= 1.4.2\n", hostileT0.Add(-5*time.Minute))
			return g.cmdMail(g.cmd, "alice <alice@example.test>", "[SEC-2026-0001] affected", "command-valid", true)
		}},
	{name: "command-replay-same", desc: "the same signed and encrypted command re-sent with a new Message-ID; the signer is told once what became of the first copy", state: sP, class: ClassCommand, cse: "none", mail: "sender", cmd: "replay",
		build: func(g *hostileGen, c string) []byte {
			return bytes.Replace(g.seen["command-valid"], []byte("<command-valid@"), []byte("<command-replay-same@"), 1)
		}},
	{name: "command-replay-resealed", desc: "the same signature sealed anew (different ciphertext)", state: sP, class: ClassCommand, cse: "none", mail: "none", cmd: "replay",
		build: func(g *hostileGen, c string) []byte {
			return g.cmdMail(g.cmd, "alice <alice@example.test>", "[SEC-2026-0001] affected", "command-replay-resealed", true)
		}},
	{name: "command-tampered", desc: "a signed (not encrypted) command altered after signing (alice heard of forged-member-address within the hour: at most one refusal an hour for mail not validly signed by her)", state: sP, class: ClassCommand, cse: "none", mail: "none", cmd: "refused",
		build: func(g *hostileGen, c string) []byte {
			s := g.signedCmd(g.k.alice, "alice@example.test", "[SEC-2026-0001] note", "/affected none\n", hostileT0.Add(-5*time.Minute))
			return bytes.Replace(g.cmdMail(s, "alice <alice@example.test>", "[SEC-2026-0001] note", "command-tampered", false), []byte("/affected none"), []byte("/status invalid"), 1)
		}},
	{name: "command-partial-signed", desc: "an unsigned command part next to a validly signed harmless part (alice heard of forged-member-address within the hour: at most one refusal an hour for mail not validly signed by her)", state: sP, class: ClassCommand, cse: "none", mail: "none", cmd: "refused",
		build: func(g *hostileGen, c string) []byte {
			signed := g.signedEntity(g.k.alice, "alice@example.test", "[SEC-2026-0001] x", "/help\n")
			return []byte(crlfs(mailHdr("alice <alice@example.test>", "[SEC-2026-0001] x", "command-partial-signed")+"MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"w\"\n\n--w\nContent-Type: text/plain\n\n/status invalid\n\n--w\n") +
				string(signed) + "\r\n--w--\r\n")
		}},
	{name: "command-signed-wrapped", desc: "a validly signed command wrapped inside an unsigned multipart by an outsider (refused; nobody to answer)", state: sP, class: ClassCommand, cse: "none", mail: "none", cmd: "refused",
		build: func(g *hostileGen, c string) []byte {
			signed := g.signedEntity(g.k.alice, "alice@example.test", "[SEC-2026-0001] x", "/status invalid\n")
			return []byte(crlfs(mailHdr("Mallory <mallory2@evil.example>", "[SEC-2026-0001] x", "command-signed-wrapped")+"MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"w\"\n\n--w\nContent-Type: text/plain\n\nplease apply\n\n--w\n") +
				string(signed) + "\r\n--w--\r\n")
		}},
	{name: "command-forwarded", desc: "bob forwards the lead's signed command as a message/rfc822 attachment", state: sP, class: ClassCommand, cse: "none", mail: "sender", cmd: "refused",
		build: func(g *hostileGen, c string) []byte {
			s := g.signedCmd(g.k.alice, "alice@example.test", "[SEC-2026-0001] fwd", "/status invalid\n", hostileT0.Add(-5*time.Minute))
			inner := g.cmdMail(s, "alice <alice@example.test>", "[SEC-2026-0001] fwd", "command-forwarded-inner", false)
			return []byte(crlfs(mailHdr("bob <bob@example.test>", "Fwd: [SEC-2026-0001] fwd", "command-forwarded")+"MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"w\"\n\n--w\nContent-Type: text/plain\n\nforwarding\n\n--w\nContent-Type: message/rfc822\n\n") +
				string(inner) + "\r\n--w--\r\n")
		}},
	{name: "command-signed-by-other-member", desc: "the lead's valid signature, but From is bob's address", state: sP, class: ClassCommand, cse: "none", mail: "team", cmd: "refused",
		build: func(g *hostileGen, c string) []byte {
			s := g.signedCmd(g.k.alice, "bob@example.test", "[SEC-2026-0001] x", "/status invalid\n", hostileT0.Add(-5*time.Minute))
			return g.cmdMail(s, "bob <bob@example.test>", "[SEC-2026-0001] x", "command-signed-by-other-member", true)
		}},
	{name: "command-signed-from-outsider", desc: "the lead's valid signature on a mail whose From is an outsider (the outsider must get nothing)", state: sP, class: ClassCommand, cse: "none", mail: "team", cmd: "refused",
		build: func(g *hostileGen, c string) []byte {
			s := g.signedCmd(g.k.alice, "mallory@evil.example", "[SEC-2026-0001] x", "/status invalid\n", hostileT0.Add(-5*time.Minute))
			return g.cmdMail(s, "Mallory <mallory3@evil.example>", "[SEC-2026-0001] x", "command-signed-from-outsider", true)
		}},
	{name: "command-revoked-key", desc: "a command signed by carol, whose key is revoked (key compromised)", state: sP, class: ClassCommand, cse: "none", mail: "none", cmd: "refused",
		build: func(g *hostileGen, c string) []byte {
			s := g.signedCmd(g.k.carol, "carol@example.test", "[SEC-2026-0001] x", "/status invalid\n", hostileT0.Add(-5*time.Minute))
			return g.cmdMail(s, "carol <carol@example.test>", "[SEC-2026-0001] x", "command-revoked-key", true)
		}},
	{name: "command-expired-key", desc: "a command signed by dave while his key was valid; it has since expired", state: sP, class: ClassCommand, cse: "none", mail: "none", cmd: "refused",
		build: func(g *hostileGen, c string) []byte {
			s := g.signedCmd(g.k.dave, "dave@example.test", "[SEC-2026-0001] x", "/status invalid\n", hostileT0.Add(-50*24*time.Hour))
			return g.cmdMail(s, "dave <dave@example.test>", "[SEC-2026-0001] x", "command-expired-key", true)
		}},
	{name: "command-old-signature", desc: "the lead's command signed ten days ago", state: sP, class: ClassCommand, cse: "none", mail: "sender", cmd: "refused",
		build: func(g *hostileGen, c string) []byte {
			s := g.signedCmd(g.k.alice, "alice@example.test", "[SEC-2026-0001] x", "/status invalid\n", hostileT0.Add(-10*24*time.Hour))
			return g.cmdMail(s, "alice <alice@example.test>", "[SEC-2026-0001] x", "command-old-signature", true)
		}},
	{name: "command-future-signature", desc: "the lead's command signed two hours in the future (alice heard of forged-member-address within the hour: at most one refusal an hour for mail not validly signed by her)", state: sP, class: ClassCommand, cse: "none", mail: "none", cmd: "refused",
		build: func(g *hostileGen, c string) []byte {
			s := g.signedCmd(g.k.alice, "alice@example.test", "[SEC-2026-0001] x", "/status invalid\n", hostileT0.Add(2*time.Hour))
			return g.cmdMail(s, "alice <alice@example.test>", "[SEC-2026-0001] x", "command-future-signature", true)
		}},
	{name: "command-unknown-key", desc: "From is the lead's address, signed by a key that is not hers (alice heard of forged-member-address within the hour: at most one refusal an hour for mail not validly signed by her)", state: sP, class: ClassCommand, cse: "none", mail: "none", cmd: "refused",
		build: func(g *hostileGen, c string) []byte {
			s := g.signedCmd(g.k.other, "alice@example.test", "[SEC-2026-0001] x", "/status invalid\n", hostileT0.Add(-5*time.Minute))
			return g.cmdMail(s, "alice <alice@example.test>", "[SEC-2026-0001] x", "command-unknown-key", true)
		}},
	{name: "command-inline-partial", desc: "an inline clear-signed command followed by unsigned command lines (alice heard of forged-member-address within the hour: at most one refusal an hour for mail not validly signed by her)", state: sP, class: ClassCommand, cse: "none", mail: "none", cmd: "refused",
		build: func(g *hostileGen, c string) []byte {
			return plainMail("alice <alice@example.test>", "[SEC-2026-0001] inline", "command-inline-partial",
				"Please apply:\n\n"+g.clearsigned("alice", "/affected inline-test\n")+"\n/status invalid\n")
		}},
	{name: "command-encrypted-unsigned", desc: "a command from the lead's address, encrypted to the team key but not signed (alice heard of forged-member-address within the hour: at most one refusal an hour for mail not validly signed by her)", state: sP, class: ClassCommand, cse: "none", mail: "none", cmd: "refused",
		build: func(g *hostileGen, c string) []byte {
			return pgpMIME("alice <alice@example.test>", "command-encrypted-unsigned",
				armorMsg(g.t, g.unsignedToTeam("Content-Type: text/plain; charset=utf-8\r\n\r\n/status invalid\r\n")))
		}},
	{name: "command-signed-only", desc: "control: the lead's command signed (not encrypted) is applied (the other member gets its summary)", state: sP, class: ClassCommand, cse: "none", mail: "sender+team", cmd: "applied",
		build: func(g *hostileGen, c string) []byte {
			s := g.signedCmd(g.k.alice, "alice@example.test", "[SEC-2026-0001] fixed", "/fixed 1.4.3\n", hostileT0.Add(-4*time.Minute))
			return g.cmdMail(s, "alice <alice@example.test>", "[SEC-2026-0001] fixed", "command-signed-only", false)
		}},
	{name: "command-contradiction", desc: "the lead's signed commands contradict each other (/status confirmed, then /status incomplete): refused whole", state: sP, class: ClassCommand, cse: "none", mail: "sender", cmd: "refused",
		build: func(g *hostileGen, c string) []byte {
			s := g.signedCmd(g.k.alice, "alice@example.test", "[SEC-2026-0001] x", "/status confirmed\n/status incomplete\n", hostileT0.Add(-4*time.Minute))
			return g.cmdMail(s, "alice <alice@example.test>", "[SEC-2026-0001] x", "command-contradiction", true)
		}},
	{name: "command-unbound", desc: "the lead's signed command names no case in its signed part; the case tag is only in the outer Subject, which anyone delivering a copy chooses", state: sP, class: ClassCommand, cse: "none", mail: "sender", cmd: "refused",
		build: func(g *hostileGen, c string) []byte {
			s := g.signedCmd(g.k.alice, "alice@example.test", "Re: hello", "/status invalid\n", hostileT0.Add(-4*time.Minute))
			return g.cmdMail(s, "alice <alice@example.test>", "[SEC-2026-0001] x", "command-unbound", false)
		}},
	{name: "command-flowed", desc: "a format=flowed soft line break before /status invalid: the member's client shows one line, so it is a comment, not a command (the case does not change)", state: sP, class: ClassCommand, cse: "none", mail: "sender+team", cmd: "none",
		build: func(g *hostileGen, c string) []byte {
			entity := "Content-Type: text/plain; charset=utf-8; format=flowed\r\n\r\nPlease look at this one, I think it is \r\n/status invalid\r\n"
			s, err := g.k.alice.Sign(crypto.Content{Subject: "[SEC-2026-0001] x", From: "alice@example.test", Entity: []byte(entity)}, hostileT0.Add(-4*time.Minute))
			must(g.t, err)
			return g.cmdMail(s, "alice <alice@example.test>", "[SEC-2026-0001] x", "command-flowed", true)
		}},
	{name: "from-angle-trick", desc: "From: <victim@outside.example>@evil.example names no address: never answered at the one inside the brackets", state: sQ, class: ClassMalformed, cse: "none", mail: "none", canary: true,
		build: func(g *hostileGen, c string) []byte {
			return plainMail("<victim@outside.example>@evil.example", "A report", "from-angle-trick", reportBody(c))
		}},

	// Automatic mail: never answered.
	{name: "auto-replied", desc: "Auto-Submitted: auto-replied (RFC 3834) quoting the case tag", state: sP, class: ClassAutoReply, cse: "none", mail: "none",
		build: func(g *hostileGen, c string) []byte {
			return plainMail("Robot <robot1@outside.example>", "Re: [SEC-2026-0001] Received", "auto-replied", "I got your mail.", "Auto-Submitted: auto-replied")
		}},
	{name: "auto-generated", desc: "Auto-Submitted: auto-generated report-like text", state: sP, class: ClassAutoReply, cse: "none", mail: "none",
		build: func(g *hostileGen, c string) []byte {
			return plainMail("Scanner <scanner@outside.example>", "Vulnerability found", "auto-generated", "XSS on /login", "Auto-Submitted: auto-generated")
		}},
	{name: "precedence-bulk", desc: "Precedence: bulk", state: sQ, class: ClassList, cse: "none", mail: "none",
		build: func(g *hostileGen, c string) []byte {
			return plainMail("News <news@outside.example>", "Newsletter", "precedence-bulk", "news", "Precedence: bulk")
		}},
	{name: "precedence-junk", desc: "Precedence: junk", state: sP, class: ClassAutoReply, cse: "none", mail: "none",
		build: func(g *hostileGen, c string) []byte {
			return plainMail("Junk <junk@outside.example>", "Offer", "precedence-junk", "buy", "Precedence: JUNK")
		}},
	{name: "precedence-list", desc: "Precedence: list", state: sQ, class: ClassList, cse: "none", mail: "none",
		build: func(g *hostileGen, c string) []byte {
			return plainMail("List <list@outside.example>", "digest", "precedence-list", "digest", "Precedence: list")
		}},
	{name: "list-id", desc: "mailing-list mail (List-Id, List-Unsubscribe)", state: sQ, class: ClassList, cse: "none", mail: "none",
		build: func(g *hostileGen, c string) []byte {
			return plainMail("Member <member@lists.example>", "[dev] release", "list-id", "release notes", "List-Id: <dev.lists.example>", "List-Unsubscribe: <mailto:leave@lists.example>")
		}},
	{name: "vacation-subject", desc: "a vacation notice recognised by its subject only", state: sP, class: ClassAutoReply, cse: "none", mail: "none",
		build: func(g *hostileGen, c string) []byte {
			return plainMail("Away <away@outside.example>", "Out of Office: back Monday", "vacation-subject", "I am away.")
		}},
	{name: "vacation-subject-french", desc: "a French automatic reply recognised by its subject only", state: sP, class: ClassAutoReply, cse: "none", mail: "none",
		build: func(g *hostileGen, c string) []byte {
			return plainMail("Absent <absent@outside.example>", "=?utf-8?q?R=C3=A9ponse_automatique=3A_absent?=", "vacation-subject-french", "Je suis absent.")
		}},
	{name: "null-return-path", desc: "null envelope sender (Return-Path: <>) with an ordinary subject", state: sP, class: ClassAutoReply, cse: "none", mail: "none",
		build: func(g *hostileGen, c string) []byte {
			return plainMail("Someone <nullrp@outside.example>", "hello", "null-return-path", "text", "Return-Path: <>")
		}},
	{name: "bounce-dsn-unknown", desc: "an RFC 3464 DSN from MAILER-DAEMON about a message we never sent", state: sQ, class: ClassDSN, cse: "none", mail: "none",
		build: func(g *hostileGen, c string) []byte {
			return mimeMail("MAILER-DAEMON@mx.outside.example", "Undelivered Mail Returned to Sender", "bounce-dsn-unknown",
				"Content-Type: multipart/report; report-type=delivery-status; boundary=\"r\"\n\n--r\nContent-Type: text/plain\n\nfailed\n--r\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.outside.example\n\nFinal-Recipient: rfc822; nobody@outside.example\nAction: failed\nStatus: 5.1.1\n\n--r--\n", "Return-Path: <>")
		}},
	{name: "bounce-plain", desc: "a non-DSN bounce from MAILER-DAEMON with a null return path", state: sQ, class: ClassDSN, cse: "none", mail: "none",
		build: func(g *hostileGen, c string) []byte {
			return plainMail("Mail Delivery System <MAILER-DAEMON@mx2.outside.example>", "Undelivered Mail Returned to Sender", "bounce-plain", "This is the mail system. Your message could not be delivered.", "Return-Path: <>")
		}},
	{name: "bounce-postmaster", desc: "a failure notice from postmaster", state: sQ, class: ClassDSN, cse: "none", mail: "none",
		build: func(g *hostileGen, c string) []byte {
			return plainMail("postmaster@mx3.outside.example", "failure notice", "bounce-postmaster", "Sorry, we were unable to deliver your message.")
		}},

	// Loops.
	{name: "loop-header", desc: "our own mail coming back (X-Secgate-Loop)", state: sP, class: ClassLoop, cse: "none", mail: "none",
		build: func(g *hostileGen, c string) []byte {
			return plainMail("Forwarder <loop1@outside.example>", "[SEC-2026-0001] Received", "loop-header", "ack text", "X-Secgate-Loop: security@example.test")
		}},
	{name: "loop-from-self", desc: "From is the team address itself (upper case)", state: sP, class: ClassLoop, cse: "none", mail: "none",
		build: func(g *hostileGen, c string) []byte {
			return plainMail("Security Team <SECURITY@EXAMPLE.TEST>", "hello", "loop-from-self", "text")
		}},
	{name: "loop-received-150", desc: "a message with 150 Received fields", state: sP, class: ClassLoop, cse: "none", mail: "none",
		build: func(g *hostileGen, c string) []byte {
			var extra []string
			for i := range 150 {
				extra = append(extra, fmt.Sprintf("Received: from hop%d.example by hop%d.example; %s", i, i+1, hostileT0.Format(time.RFC1123Z)))
			}
			return plainMail("Looper <looper@outside.example>", "hello", "loop-received-150", "text", extra...)
		}},
	{name: "loop-own-ack", desc: "our acknowledgement of report-clear coming back (same Message-ID) through a forwarder that rewrote From and stripped X-Secgate-Loop and Auto-Submitted", state: sP, class: ClassLoop, cse: "none", mail: "none",
		build: func(g *hostileGen, c string) []byte {
			e := newHostileEnv(g.t)
			ctx := context.Background()
			raw := g.seen["report-clear"]
			ids, err := storeBatch(ctx, e.db, e.keys.team, "INBOX", 1, []fetched{{uid: 1, size: int64(len(raw)), raw: raw}}, e.clock.Now())
			must(g.t, err)
			must(g.t, e.proc.Process(ctx, ids[0]))
			var ack []byte
			must(g.t, e.db.Reader().QueryRow(`SELECT m.raw FROM outbox o JOIN outbox_message m ON m.outbox_id = o.id WHERE o.kind = 'ack'`).Scan(&ack))
			var out []string
			hdr, body, _ := strings.Cut(string(ack), "\r\n\r\n")
			for _, l := range strings.Split(strings.ReplaceAll(hdr, "\r\n ", " "), "\r\n") {
				k := strings.ToLower(l)
				switch {
				case strings.HasPrefix(k, "from:"):
					out = append(out, "From: Forwarder <forwarder@lists.example>") // rewritten by the forwarder
				case !strings.HasPrefix(k, "x-secgate-loop:") && !strings.HasPrefix(k, "auto-submitted:") && !strings.HasPrefix(k, "precedence:"):
					out = append(out, l)
				}
			}
			return []byte(strings.Join(out, "\r\n") + "\r\n\r\n" + body)
		}},

	// Header injection.
	{name: "inject-subject-encoded-crlf", desc: "RFC 2047 encoded CRLF and a Bcc field in the Subject", state: sP, class: ClassReport, cse: "new", mail: "sender+team", canary: true,
		build: func(g *hostileGen, c string) []byte {
			return plainMail("Inject <inject1@outside.example>", "=?utf-8?q?Hello=0D=0ABcc=3A_victim=40evil=2Eexample=0D=0AX-Injected=3A_1?=", "inject-subject-encoded-crlf", reportBody(c))
		}},
	{name: "inject-name-encoded-crlf", desc: "RFC 2047 encoded CRLF and a Bcc field in the From display name", state: sP, class: ClassReport, cse: "new", mail: "sender+team", canary: true,
		build: func(g *hostileGen, c string) []byte {
			return plainMail("=?utf-8?b?"+base64.StdEncoding.EncodeToString([]byte("Eve\r\nBcc: victim@evil.example\r\nX-Injected: 2"))+"?= <inject2@outside.example>", "hello", "inject-name-encoded-crlf", reportBody(c))
		}},
	{name: "inject-subject-bare-cr", desc: "bare CR characters inside the Subject", state: sP, class: ClassReport, cse: "new", mail: "sender+team", canary: true,
		build: func(g *hostileGen, c string) []byte {
			raw := plainMail("Inject <inject3@outside.example>", "Hello@@CR@@Bcc: victim@evil.example@@CR@@X-Injected: 3", "inject-subject-bare-cr", reportBody(c))
			return bytes.ReplaceAll(raw, []byte("@@CR@@"), []byte("\r"))
		}},
	{name: "inject-subject-nul-bidi", desc: "encoded NUL, bidi override and tab characters in the Subject", state: sP, class: ClassReport, cse: "new", mail: "sender+team", canary: true,
		build: func(g *hostileGen, c string) []byte {
			return plainMail("Inject <inject4@outside.example>", "=?utf-8?b?"+base64.StdEncoding.EncodeToString([]byte("A\x00B\u202eC\tD\x1b[31m"))+"?=", "inject-subject-nul-bidi", reportBody(c))
		}},

	// Charsets and odd bytes.
	{name: "charset-unknown", desc: "a body in an unknown charset (x-klingon)", state: sP, class: ClassReport, cse: "new", mail: "sender+team", canary: true,
		build: func(g *hostileGen, c string) []byte {
			return mimeMail("Klingon <klingon@outside.example>", "qapla", "charset-unknown", "Content-Type: text/plain; charset=x-klingon\n\n"+reportBody(c))
		}},
	{name: "charset-lying-utf16", desc: "declares UTF-16 but the body is ASCII", state: sP, class: ClassReport, cse: "new", mail: "sender+team", canary: true,
		build: func(g *hostileGen, c string) []byte {
			return mimeMail("Liar <liar16@outside.example>", "utf16", "charset-lying-utf16", "Content-Type: text/plain; charset=utf-16\n\n"+reportBody(c)+"x")
		}},
	{name: "charset-invalid-utf8", desc: "declares UTF-8 but contains Latin-1 bytes", state: sP, class: ClassReport, cse: "new", mail: "sender+team", canary: true,
		build: func(g *hostileGen, c string) []byte {
			return mimeMail("Latin <latin@outside.example>", "latin", "charset-invalid-utf8", "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\nCaf\xe9 \xff\xfe "+reportBody(c))
		}},
	{name: "charset-utf7", desc: "a UTF-7 body hiding markup", state: sP, class: ClassReport, cse: "new", mail: "sender+team", canary: true,
		build: func(g *hostileGen, c string) []byte {
			return mimeMail("Seven <seven@outside.example>", "utf7", "charset-utf7", "Content-Type: text/plain; charset=utf-7\n\n+ADw-script+AD4-alert(1)+ADw-/script+AD4- "+reportBody(c))
		}},
	{name: "headers-8bit", desc: "raw 8-bit bytes (UTF-8 and Latin-1) in Subject and From display name.", state: sP, class: ClassReport, cse: "new", mail: "sender+team", canary: true,
		build: func(g *hostileGen, c string) []byte {
			return plainMail("J\xc3\xbcrgen M\xfcller <eightbit@outside.example>", "Sicherheitsl\xc3\xbccke \xe4\xf6", "headers-8bit", reportBody(c))
		}},
	{name: "nul-bytes", desc: "NUL bytes in a header field and in the body", state: sP, class: ClassReport, cse: "new", mail: "sender+team", canary: true,
		build: func(g *hostileGen, c string) []byte {
			return plainMail("Nul <nul@outside.example>", "nul\x00subject", "nul-bytes", "before\x00after "+reportBody(c), "X-Nul: a\x00b")
		}},
	{name: "base64-invalid", desc: "a base64 body with invalid characters", state: sQ, class: ClassMalformed, cse: "none", mail: "none",
		build: func(g *hostileGen, c string) []byte {
			return mimeMail("B64 <b64@outside.example>", "b64", "base64-invalid", "Content-Type: text/plain\nContent-Transfer-Encoding: base64\n\nSGVsbG8g!!!d29ybGQ=*&^%\n")
		}},
	{name: "html-only", desc: "an HTML-only report with script, style and hidden text", state: sP, class: ClassReport, cse: "new", mail: "sender+team", canary: true,
		build: func(g *hostileGen, c string) []byte {
			return mimeMail("Html <html@outside.example>", "xss", "html-only", "Content-Type: text/html; charset=utf-8\n\n<html><head><style>p{}</style><script>alert(1)</script></head><body><p>Stored XSS in the wiki.</p><div style=\"display:none\">"+c+"</div><img src=x onerror=alert(2)></body></html>\n")
		}},
	{name: "oversized-attachment", desc: "a report with a 300 KB attachment (limit 256 KiB)", state: sQ, class: ClassLimit, cse: "none", mail: "sender", canary: true,
		build: func(g *hostileGen, c string) []byte {
			blob := make([]byte, 220<<10)
			rand.Read(blob)
			return mimeMail("Big <big@outside.example>", "big", "oversized-attachment", "Content-Type: multipart/mixed; boundary=\"o\"\n\n--o\nContent-Type: text/plain\n\n"+reportBody(c)+
				"--o\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\nContent-Disposition: attachment; filename=\"core.bin\"\n\n"+b64(blob)+"--o--\n")
		}},

	// Broken identity.
	{name: "missing-from", desc: "no From field", state: sQ, class: ClassMalformed, cse: "none", mail: "none", canary: true,
		build: func(g *hostileGen, c string) []byte {
			return []byte(crlfs("To: " + teamAddr + "\nSubject: anonymous\nMessage-ID: <missing-from@hostile.test>\nMIME-Version: 1.0\n\n" + reportBody(c)))
		}},
	{name: "multiple-from", desc: "two From fields naming different people (exactly one is allowed: which would be the reporter?)", state: sQ, class: ClassMalformed, cse: "none", mail: "none", canary: true,
		build: func(g *hostileGen, c string) []byte {
			return plainMail("First <first@outside.example>", "two", "multiple-from", reportBody(c), "From: Second <second@outside.example>")
		}},
	{name: "from-list", desc: "one From field with two mailboxes and no Sender", state: sP, class: ClassReport, cse: "new", mail: "sender+team", canary: true,
		build: func(g *hostileGen, c string) []byte {
			return plainMail("A <list-a@outside.example>, B <list-b@outside.example>", "two", "from-list", reportBody(c))
		}},
	{name: "from-no-address", desc: "From without an address (\"root\")", state: sQ, class: ClassMalformed, cse: "none", mail: "none", canary: true,
		build: func(g *hostileGen, c string) []byte {
			return plainMail("root", "local", "from-no-address", reportBody(c))
		}},
	{name: "empty-message", desc: "zero bytes", state: sQ, class: ClassMalformed, cse: "none", mail: "none",
		build: func(g *hostileGen, c string) []byte { return []byte{} }},
	{name: "header-only", desc: "a header section and no body at all", state: sQ, class: ClassEmpty, cse: "none", mail: "sender",
		build: func(g *hostileGen, c string) []byte {
			return []byte(crlfs(mailHdr("Headeronly <headeronly@outside.example>", "nothing", "header-only")))
		}},
	{name: "header-line-escape", desc: "a usable From, then a header line that is no field, carrying terminal escape sequences", state: sQ, class: ClassMalformed, cse: "none", mail: "sender",
		build: func(g *hostileGen, c string) []byte {
			return []byte(crlfs(mailHdr("Escape <escape@outside.example>", "esc", "header-line-escape") + "\x1b]0;owned\x07\x1b[2J no colon here\nMIME-Version: 1.0\n\nbody\n"))
		}},
	{name: "binary-garbage", desc: "4 KB of random bytes", state: sQ, class: ClassMalformed, cse: "none", mail: "none",
		build: func(g *hostileGen, c string) []byte {
			b := make([]byte, 4096)
			rand.Read(b)
			b[0] = 0xff // never a header field name
			return b
		}},

	// Replays of report-encrypted's ciphertext (a decryption oracle).
	{name: "replay-other-sender", desc: "report-encrypted's ciphertext re-sent from another address; the sender gets the answer of any held message", state: sQ, class: ClassReplay, cse: "none", mail: "sender+team",
		build: func(g *hostileGen, c string) []byte {
			return bytes.Replace(bytes.Replace(g.seen["report-encrypted"], []byte(rep), []byte("Attacker <attacker@evil.example>"), 1),
				[]byte("<report-encrypted@"), []byte("<replay-other-sender@"), 1)
		}},
	{name: "replay-same-sender", desc: "report-encrypted's ciphertext re-sent by the reporter (new Message-ID); the answer of any held message", state: sQ, class: ClassReplay, cse: "none", mail: "sender",
		build: func(g *hostileGen, c string) []byte {
			return bytes.Replace(g.seen["report-encrypted"], []byte("<report-encrypted@"), []byte("<replay-same-sender@"), 1)
		}},
	{name: "replay-rearmored", desc: "the same ciphertext re-armored (other line length, armor headers) from another address.; the sender gets the answer of any held message", state: sQ, class: ClassReplay, cse: "none", mail: "sender+team",
		build: func(g *hostileGen, c string) []byte {
			raw := g.seen["report-encrypted"]
			i := bytes.Index(raw, []byte("-----BEGIN PGP MESSAGE-----"))
			end := bytes.Index(raw, []byte("-----END PGP MESSAGE-----")) + len("-----END PGP MESSAGE-----")
			blk, err := armor.Decode(bytes.NewReader(raw[i:end]))
			must(g.t, err)
			bin, err := io.ReadAll(blk.Body)
			must(g.t, err)
			re := "-----BEGIN PGP MESSAGE-----\nComment: re-sent\nVersion: X\n\n" + wrap(base64.StdEncoding.EncodeToString(bin), 60) + "\n-----END PGP MESSAGE-----"
			out := append(append(bytes.Clone(raw[:i]), crlfs(re)...), raw[end:]...)
			return bytes.Replace(bytes.Replace(out, []byte(rep), []byte("Attacker <attacker2@evil.example>"), 1), []byte("<report-encrypted@"), []byte("<replay-rearmored@"), 1)
		}},
	{name: "replay-inline", desc: "the same ciphertext pasted as inline PGP into a text/plain body from another address; the sender gets the answer of any held message", state: sQ, class: ClassReplay, cse: "none", mail: "sender+team",
		build: func(g *hostileGen, c string) []byte {
			raw := g.seen["report-encrypted"]
			i := bytes.Index(raw, []byte("-----BEGIN PGP MESSAGE-----"))
			end := bytes.Index(raw, []byte("-----END PGP MESSAGE-----")) + len("-----END PGP MESSAGE-----")
			return plainMail("Attacker <attacker3@evil.example>", "please decrypt", "replay-inline", "Can you read this?\n\n"+strings.ReplaceAll(string(raw[i:end]), "\r\n", "\n"))
		}},

	{name: "report-padded", desc: "baseline: an encrypted report whose armor ends in '=' padding (for replay-padding-bit)", state: sP, class: ClassReport, cse: "new", mail: "sender+team", canary: true,
		build: func(g *hostileGen, c string) []byte {
			for pad := 0; ; pad++ {
				raw := g.sealedReport("Padded <padded@outside.example>", "report-padded", "Padded "+c, reportBody(c)+strings.Repeat(".", pad), g.k.team, "")
				if flipPaddingBit(armorOf(raw)) != nil {
					return raw
				}
			}
		}},
	{name: "replay-padding-bit", desc: "report-padded's ciphertext with an unused low bit of the last base64 character before the padding flipped (it decodes to the same bytes), from another address", state: sQ, class: ClassReplay, cse: "none", mail: "sender+team",
		build: func(g *hostileGen, c string) []byte {
			raw := g.seen["report-padded"]
			blk := armorOf(raw)
			out := bytes.Replace(raw, blk, gpgtestCRLF(flipPaddingBit(blk)), 1)
			return bytes.Replace(bytes.Replace(out, []byte("Padded <padded@outside.example>"), []byte("Attacker <attacker4@evil.example>"), 1),
				[]byte("<report-padded@"), []byte("<replay-padding-bit@"), 1)
		}},
	{name: "replay-binary", desc: "the same ciphertext unarmored, as base64 of its packets, from another address", state: sQ, class: ClassReplay, cse: "none", mail: "sender+team",
		build: func(g *hostileGen, c string) []byte {
			raw := g.seen["report-encrypted"]
			i := bytes.Index(raw, []byte("-----BEGIN PGP MESSAGE-----"))
			end := bytes.Index(raw, []byte("-----END PGP MESSAGE-----")) + len("-----END PGP MESSAGE-----")
			blk, err := armor.Decode(bytes.NewReader(raw[i:end]))
			must(g.t, err)
			bin, err := io.ReadAll(blk.Body)
			must(g.t, err)
			return encryptedMail("Attacker <attacker5@evil.example>", teamAddr, "...", "replay-binary@hostile.test", "base64", []byte(wrap(base64.StdEncoding.EncodeToString(bin), 76)))
		}},
	{name: "replay-nested", desc: "report-encrypted's whole PGP/MIME entity encrypted again to the team key by a stranger (a second layer is never opened)", state: sQ, class: ClassNested, cse: "none", mail: "sender",
		build: func(g *hostileGen, c string) []byte {
			m, err := mail.ReadMessage(bytes.NewReader(g.seen["report-encrypted"]))
			must(g.t, err)
			body, err := io.ReadAll(m.Body)
			must(g.t, err)
			entity := "Content-Type: " + m.Header.Get("Content-Type") + "\r\n\r\n" + string(body)
			return pgpMIME("Attacker <attacker6@evil.example>", "replay-nested", armorMsg(g.t, g.unsignedToTeam(entity)))
		}},
	// Threads.
	{name: "followup-reporter", desc: "the reporter's follow-up with the case tag", state: sP, class: ClassFollowUp, cse: "none", mail: "team", canary: true,
		build: func(g *hostileGen, c string) []byte {
			return plainMail("Reporter <reporter-clear@outside.example>", "Re: [SEC-2026-0001] Received", "followup-reporter", "More details: "+c+"\n")
		}},
	{name: "distributor-ack-unsigned", desc: "an unsigned acknowledgement in the name of a distributor", state: sP, class: ClassDistributorAck, cse: "none", mail: "team",
		build: func(g *hostileGen, c string) []byte {
			return plainMail("Vendor PSIRT <psirt@vendor.example>", "Re: [SEC-2026-0001] embargo", "distributor-ack-unsigned", "ack")
		}},
	{name: "duplicate-message-id", desc: "report-clear's Message-ID with other content", state: sQ, class: ClassDuplicate, cse: "none", mail: "none", canary: true,
		build: func(g *hostileGen, c string) []byte {
			return plainMail("Reporter <reporter-dup@outside.example>", "again", "report-clear", reportBody(c))
		}},
	{name: "own-list-report", desc: "a report in clear forwarded by the security address's own group (List-Id in own_lists)", state: sP, class: ClassReport, cse: "new", mail: "sender+team", canary: true,
		build: func(g *hostileGen, c string) []byte {
			return plainMail("Lena List <lena@outside.example>", "Crash in the parser", "own-list-report", reportBody(c),
				"List-Id: Security reports <security.example.test>", "List-Unsubscribe: <mailto:security+unsubscribe@example.test>", "Precedence: list")
		}},
}

// armorOf returns the armored PGP MESSAGE block in raw.
func armorOf(raw []byte) []byte {
	i := bytes.Index(raw, []byte("-----BEGIN PGP MESSAGE-----"))
	end := bytes.Index(raw, []byte("-----END PGP MESSAGE-----"))
	if i < 0 || end < i {
		return nil
	}
	return raw[i : end+len("-----END PGP MESSAGE-----")]
}

// gpgtestCRLF turns every line end into CRLF.
func gpgtestCRLF(b []byte) []byte { return []byte(crlfs(string(b))) }

// hostileEntry is one line of expect.txt.
type hostileEntry struct {
	name, state, class, cse, mail, cmd, canary, desc string
}

func readHostileManifest(t testing.TB) []hostileEntry {
	t.Helper()
	f, err := os.Open(filepath.Join(hostileDir, "expect.txt"))
	if err != nil {
		t.Fatalf("manifest: %v (run with -update-hostile)", err)
	}
	defer f.Close()
	var out []hostileEntry
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields, desc, _ := strings.Cut(line, " | ")
		fs := strings.Fields(fields)
		if len(fs) != 7 {
			t.Fatalf("manifest line %q: want 7 fields", line)
		}
		e := hostileEntry{name: fs[0], state: fs[1], class: fs[2], desc: desc}
		for _, kv := range fs[3:] {
			k, v, _ := strings.Cut(kv, "=")
			switch k {
			case "case":
				e.cse = v
			case "mail":
				e.mail = v
			case "cmd":
				e.cmd = v
			case "canary":
				e.canary = v
			default:
				t.Fatalf("manifest line %q: unknown field %q", line, k)
			}
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// hostileEnv is the real processing stack at a fixed clock, without a mail
// server: the outbox queues but does not deliver.
type hostileEnv struct {
	db     *store.DB
	dbPath string
	keys   *hostileKeys
	clock  *clock.Fake
	proc   *Processor
	team   map[string]bool // member addresses
}

func newHostileEnv(t testing.TB) *hostileEnv {
	t.Helper()
	ctx := context.Background()
	e := &hostileEnv{keys: loadHostileKeys(t), clock: clock.NewFake(hostileT0), team: map[string]bool{}}
	e.dbPath = filepath.Join(t.TempDir(), "secgate.db")
	var err error
	if e.db, err = store.Open(ctx, e.dbPath); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.db.Close() })
	dir := distlist.NewDirectory(e.db, e.clock, nil)
	pub := func(k *crypto.Key) []byte {
		a, err := k.ArmorPublic()
		must(t, err)
		return []byte(a)
	}
	members := []struct {
		name, role string
		key        []byte
	}{
		{"alice", distlist.RoleLead, pub(e.keys.alice)},
		{"bob", distlist.RoleMember, pub(e.keys.bob)},
		{"carol", distlist.RoleMember, []byte(e.keys.carolRevoked)},
		{"dave", distlist.RoleMember, pub(e.keys.dave)},
	}
	err = e.db.Tx(ctx, func(tx *sql.Tx) error {
		for i, m := range members {
			addr := m.name + "@example.test"
			e.team[addr] = true
			if _, err := dir.AddMember(ctx, tx, distlist.MemberSpec{Name: m.name, Address: addr, Role: m.role, Rota: i + 1, Key: m.key}); err != nil {
				return err
			}
		}
		if err := dir.CreateList(ctx, tx, "distros", distlist.KindEmbargo, distlist.SourceCLI); err != nil {
			return err
		}
		if _, err := dir.AddRecipient(ctx, tx, "distros", distlist.RecipientSpec{Name: "Vendor PSIRT", Address: "psirt@vendor.example", Key: pub(e.keys.psirt)}); err != nil {
			return err
		}
		if err := dir.CreateList(ctx, tx, "announce", distlist.KindPublic, distlist.SourceCLI); err != nil {
			return err
		}
		_, err := dir.AddRecipient(ctx, tx, "announce", distlist.RecipientSpec{Name: "Announce", Address: "announce@lists.example"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	from := "Security Team <" + teamAddr + ">"
	// A fixed secret: the Message-IDs of outgoing mail are the same on every
	// run, so the corpus can hold our own mail coming back.
	ob, err := distlist.NewOutbox(ctx, distlist.OutboxOptions{DB: e.db, Directory: dir, TeamKey: e.keys.team, Clock: e.clock,
		Secret: []byte("hostile-corpus-outbox-secret-32b"), Config: distlist.Config{
			From: from, SMTP: distlist.SMTPConfig{Addr: "127.0.0.1:1", TLS: distlist.TLSNone},
		}})
	if err != nil {
		t.Fatal(err)
	}
	set, err := templates.Load("")
	if err != nil {
		t.Fatal(err)
	}
	project := templates.Project{Name: "Example", TeamAddress: teamAddr}
	wf, err := cases.New(cases.Options{DB: e.db, Directory: dir, Outbox: ob, Templates: set, TeamKey: e.keys.team, TeamAddress: from,
		Project: project, Clock: e.clock})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Address: "127.0.0.1:143", User: teamAddr, TLS: TLSPlainLoopback, MaxSize: 256 << 10, OwnLists: []string{"Security.Example.Test"}}
	e.proc, err = NewStackProcessor(StackOptions{Config: cfg, DB: e.db, TeamKey: e.keys.team, Directory: dir, Outbox: ob, Workflow: wf,
		Templates: set, Project: project, Clock: e.clock})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// caseSnapshot renders the fields of every case that a command could
// change.
func (e *hostileEnv) caseSnapshot(t testing.TB) map[int64]string {
	rows, err := e.db.Reader().Query(`SELECT id, state, class, cvss_vector, cve, advisory, affected, fixed, credit, credit_consent,
		lead, policy, close_reason, disclose_at, coalesce(hex(impact_enc), '') FROM cases ORDER BY id`)
	must(t, err)
	defer rows.Close()
	out := map[int64]string{}
	for rows.Next() {
		var id int64
		var f [13]string
		var at int64
		dest := []any{&id}
		for i := range 12 {
			dest = append(dest, &f[i])
		}
		dest = append(dest, &at, &f[12])
		must(t, rows.Scan(dest...))
		out[id] = fmt.Sprint(f[:12], at, len(f[12]))
	}
	must(t, rows.Err())
	return out
}

func (e *hostileEnv) maxID(t testing.TB, table string) int64 {
	var n int64
	must(t, e.db.Reader().QueryRow(`SELECT coalesce(max(id), 0) FROM `+table).Scan(&n))
	return n
}

// TestHostileCorpus feeds every message of testdata/hostile through the
// real processor, in the manifest's order, and checks each outcome; then
// it scans the outbox and the database for the reports' canaries.
func TestHostileCorpus(t *testing.T) {
	if *updateHostile {
		writeHostileCorpus(t)
	}
	entries := readHostileManifest(t)
	if len(entries) < 60 {
		t.Fatalf("%d corpus messages, want at least 60", len(entries))
	}
	readme, err := os.ReadFile(filepath.Join(hostileDir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, en := range entries {
		if !bytes.Contains(readme, []byte("`"+en.name+".eml`")) {
			t.Errorf("README.md does not document %s", en.name)
		}
	}
	e := newHostileEnv(t)
	ctx := context.Background()
	q := NewQuarantine(e.db, e.keys.team)
	outcomes := map[string]string{} // name: state/class/case-opened, one by one
	for i, en := range entries {
		raw, err := os.ReadFile(filepath.Join(hostileDir, en.name+".eml"))
		if err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(time.Minute)
		before := e.caseSnapshot(t)
		lastOut, lastAudit := e.maxID(t, "outbox"), e.maxID(t, "case_audit")
		ids, err := storeBatch(ctx, e.db, e.keys.team, "INBOX", 1, []fetched{{uid: uint32(i + 1), size: int64(len(raw)), raw: raw}}, e.clock.Now())
		if err != nil {
			t.Fatalf("%s: store: %v", en.name, err)
		}
		t.Run(en.name, func(t *testing.T) {
			func() {
				defer func() {
					if r := recover(); r != nil {
						t.Fatalf("panic: %v", r)
					}
				}()
				if err := e.proc.Process(ctx, ids[0]); err != nil {
					t.Fatalf("process: %v", err)
				}
				if err := e.proc.Process(ctx, ids[0]); err != nil {
					t.Fatalf("process again: %v", err)
				}
			}()
			in, err := getInbound(ctx, e.db.Reader(), ids[0])
			must(t, err)
			t.Logf("%s/%s %q", in.State, in.Class, in.Reason)
			outcomes[en.name] = fmt.Sprintf("%s/%s/%v", in.State, in.Class, in.CaseID != 0)
			if (in.State != StateProcessed && in.State != StateQuarantined) || in.Class == "" || in.Reason == "" {
				t.Fatalf("silent drop: ended %s/%s %q", in.State, in.Class, in.Reason)
			}
			if in.State != en.state || in.Class != en.class {
				t.Errorf("ended %s/%s (%s), want %s/%s", in.State, in.Class, in.Reason, en.state, en.class)
			}
			after := e.caseSnapshot(t)
			switch {
			case en.cse == "new" && (len(after) != len(before)+1 || in.CaseID == 0):
				t.Errorf("no case opened (%d cases before, %d after, case %d)", len(before), len(after), in.CaseID)
			case en.cse == "none" && len(after) != len(before):
				t.Errorf("a case opened (%d cases before, %d after)", len(before), len(after))
			}

			// Who got mail.
			insp, _ := Inspect(raw, e.proc.lim)
			rows, err := e.db.Reader().Query(`SELECT recipient, kind FROM outbox WHERE id > ? ORDER BY id`, lastOut)
			must(t, err)
			var cats, sent []string
			for rows.Next() {
				var rcpt, kind string
				must(t, rows.Scan(&rcpt, &kind))
				sent = append(sent, kind+" to "+rcpt)
				c := "other"
				switch {
				case insp.From != "" && strings.EqualFold(rcpt, insp.From):
					c = "sender"
				case e.team[strings.ToLower(rcpt)]:
					c = "team"
				}
				if !slices.Contains(cats, c) {
					cats = append(cats, c)
				}
			}
			rows.Close()
			slices.Sort(cats)
			got := strings.Join(cats, "+")
			if got == "" {
				got = "none"
			}
			if got != en.mail {
				t.Errorf("mail went to %s (%v), want %s", got, sent, en.mail)
			}
			if (in.Class == ClassAutoReply || in.Class == ClassDSN || in.Class == ClassLoop) && slices.Contains(cats, "sender") {
				t.Errorf("automatic mail, bounce or loop answered: %v", sent)
			}

			// Commands.
			rows, err = e.db.Reader().Query(`SELECT action, detail FROM case_audit WHERE id > ? ORDER BY id`, lastAudit)
			must(t, err)
			var actions, details []string
			for rows.Next() {
				var a, d string
				must(t, rows.Scan(&a, &d))
				actions, details = append(actions, a), append(details, d)
			}
			rows.Close()
			changed := false
			for id, s := range before {
				if after[id] != s {
					changed = true
				}
			}
			switch en.cmd {
			case "applied":
				if !changed || slices.Contains(actions, cases.ActionRefused) {
					t.Errorf("command not applied: cases changed %v, audit %v %q", changed, actions, details)
				}
			case "refused", "replay":
				want := cases.ActionRefused
				if en.cmd == "replay" {
					want = cases.ActionReplay
				}
				if !slices.Contains(actions, want) {
					t.Errorf("audit %v %q, want a %s event", actions, details, want)
				}
				fallthrough
			default:
				if changed {
					t.Errorf("a case changed without a valid command:\nbefore %v\nafter  %v", before, after)
				}
			}

			// The quarantine shows it with its reason.
			if in.State == StateQuarantined {
				got, hdr, err := q.Show(ctx, in.ID)
				if err != nil || got.Reason == "" || got.State != StateQuarantined {
					t.Errorf("Quarantine.Show = %+v, %v", got, err)
				}
				if len(raw) > 0 && raw[0] != 0xff && hdr == "" {
					t.Error("Quarantine.Show returned no header")
				}
			}
		})
	}
	t.Run("no-injected-header", func(t *testing.T) {
		forEachOutgoing(t, e, func(id int64, rcpt, kind string, raw []byte) {
			hdr := raw
			if i := bytes.Index(raw, []byte("\r\n\r\n")); i >= 0 {
				hdr = raw[:i]
			}
			for _, l := range strings.Split(string(hdr), "\r\n") {
				ll := strings.ToLower(l)
				if strings.HasPrefix(ll, "bcc:") || strings.HasPrefix(ll, "x-injected") || strings.ContainsAny(l, "\r\x00") {
					t.Errorf("outbox %d (%s to %s): injected header line %q", id, kind, rcpt, l)
				}
			}
		})
	})
	t.Run("canary", func(t *testing.T) { checkCanaries(t, e, entries) })
	t.Run("batch", func(t *testing.T) {
		b := newHostileEnv(t)
		b.clock.Advance(time.Minute)
		// The compression bombs only cost time here (they are held before
		// any transaction): left out.
		entries := slices.DeleteFunc(slices.Clone(entries), func(en hostileEntry) bool { return strings.Contains(en.name, "compression-bomb") })
		var msgs []fetched
		for i, en := range entries {
			raw, err := os.ReadFile(filepath.Join(hostileDir, en.name+".eml"))
			must(t, err)
			msgs = append(msgs, fetched{uid: uint32(i + 1), size: int64(len(raw)), raw: raw})
		}
		ids, err := storeBatch(ctx, b.db, b.keys.team, "INBOX", 1, msgs, b.clock.Now())
		must(t, err)
		// Our own ack can come back only in a later fetch than the report
		// it answers: two batches, split there.
		k := slices.IndexFunc(entries, func(en hostileEntry) bool { return en.name == "loop-own-ack" })
		if k < 0 {
			k = len(ids)
		}
		for _, part := range [][]int64{ids[:k], ids[k:]} {
			if err := b.proc.ProcessBatch(ctx, part); err != nil {
				t.Fatal(err)
			}
		}
		for i, en := range entries {
			in, err := getInbound(ctx, b.db.Reader(), ids[i])
			must(t, err)
			got := fmt.Sprintf("%s/%s/%v", in.State, in.Class, in.CaseID != 0)
			if got != outcomes[en.name] {
				t.Errorf("%s: in a batch %s (%s), one by one %s", en.name, got, in.Reason, outcomes[en.name])
			}
		}
	})
}

// FuzzHostileRealStack runs arbitrary messages, seeded with the hostile
// corpus and the classification goldens, through the real processor (real
// OpenPGP, cases workflow, outbox). Whatever the input: no panic, it ends
// processed or quarantined with a class and a reason, mail goes only to its
// sender or to team members (never to a third party), automatic mail is
// never answered, and an existing case changes only through a command mail.
//
//	go test ./intake/ -run '^$' -fuzz FuzzHostileRealStack -fuzztime 10m
func FuzzHostileRealStack(f *testing.F) {
	for _, pat := range []string{filepath.Join(hostileDir, "*.eml"), filepath.Join("testdata", "classify", "*.eml")} {
		files, _ := filepath.Glob(pat)
		for _, p := range files {
			b, err := os.ReadFile(p)
			if err != nil {
				f.Fatal(err)
			}
			// The big ones (compression bombs, size limits) run in
			// TestHostileCorpus; as seeds they would slow every go test
			// and every mutation.
			if len(b) <= 64<<10 && !strings.Contains(p, "compression-bomb") {
				f.Add(b)
			}
		}
	}
	e := newHostileEnv(f)
	ctx := context.Background()
	var uid uint32
	// A case for follow-ups and commands to name.
	first, err := os.ReadFile(filepath.Join(hostileDir, "report-clear.eml"))
	if err != nil {
		f.Fatal(err)
	}
	ids, err := storeBatch(ctx, e.db, e.keys.team, "INBOX", 1, []fetched{{uid: 1, size: int64(len(first)), raw: first}}, e.clock.Now())
	if err != nil {
		f.Fatal(err)
	}
	if err := e.proc.Process(ctx, ids[0]); err != nil {
		f.Fatal(err)
	}
	uid = 1
	f.Fuzz(func(t *testing.T, raw []byte) {
		uid++
		e.clock.Advance(time.Minute)
		before := e.caseSnapshot(t)
		lastOut := e.maxID(t, "outbox")
		msgs := []fetched{{uid: uid, size: int64(len(raw)), raw: raw}}
		ids, err := storeBatch(ctx, e.db, e.keys.team, "INBOX", 1, msgs, e.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		// Every other message handed over as the poller hands it, the
		// others read back as after a restart.
		if uid%2 == 0 {
			err = e.proc.processStored(ctx, ids, handedOver(msgs, ids))
		} else {
			err = e.proc.Process(ctx, ids[0])
		}
		if err != nil {
			t.Fatalf("process: %v", err)
		}
		in, err := getInbound(ctx, e.db.Reader(), ids[0])
		if err != nil {
			t.Fatal(err)
		}
		if (in.State != StateProcessed && in.State != StateQuarantined) || in.Class == "" || in.Reason == "" {
			t.Fatalf("ended %s/%s %q", in.State, in.Class, in.Reason)
		}
		insp, _ := Inspect(raw, e.proc.lim)
		after := e.caseSnapshot(t)
		// A command that was applied (its signature verified, maybe only
		// once the clock reached its time) may tell the reporter of the
		// case it changed: /status invalid does.
		reporters := map[string]bool{}
		if in.Class == ClassCommand {
			for id, s := range after {
				if before[id] != s {
					var r string
					must(t, e.db.Reader().QueryRow(`SELECT reporter_addr FROM cases WHERE id = ?`, id).Scan(&r))
					reporters[strings.ToLower(r)] = true
				}
			}
		}
		rows, err := e.db.Reader().Query(`SELECT recipient, kind FROM outbox WHERE id > ?`, lastOut)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var rcpt, kind string
			must(t, rows.Scan(&rcpt, &kind))
			toSender := insp.From != "" && strings.EqualFold(rcpt, insp.From)
			if !toSender && !e.team[strings.ToLower(rcpt)] && !(kind == "reporter" && reporters[strings.ToLower(rcpt)]) {
				t.Errorf("%s mail to a third party %s (message from %q, %s/%s)", kind, rcpt, insp.From, in.Class, in.Reason)
			}
			if toSender && (in.Class == ClassAutoReply || in.Class == ClassDSN || in.Class == ClassLoop) {
				t.Errorf("automatic mail answered (%s/%s)", in.Class, in.Reason)
			}
		}
		if in.Class != ClassCommand {
			for id, s := range before {
				if after[id] != s {
					t.Errorf("case %d changed by a %s message:\nbefore %s\nafter  %s", id, in.Class, s, after[id])
				}
			}
		}
	})
}
