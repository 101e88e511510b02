package crypto

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
)

// sameSpooled checks that OpenFromSpooled with spools past above bytes
// returns what OpenFrom returns (its spooled entity read back is
// OpenFrom's Entity), that it leaves no spool but the one its entity is
// read from, and reports whether the entity came spooled.
func sameSpooled(t *testing.T, name string, raw []byte, opts OpenOptions, above int) (spooled bool) {
	t.Helper()
	n := 0
	want, whandled, werr := OpenFrom(streamOf(raw, &n), opts)
	var made []*memSpool
	spools := func() (Spool, error) {
		s := &memSpool{}
		made = append(made, s)
		return s, nil
	}
	got, handled, err := openFrom(streamOf(raw, &n), opts, spools, above)
	if handled != whandled {
		t.Fatalf("%s: handled %v, OpenFrom %v", name, handled, whandled)
	}
	if got != nil && got.Spooled != nil {
		if got.Entity != nil {
			t.Errorf("%s: both Entity and Spooled", name)
		}
		b, rerr := got.Spooled.Bytes()
		if rerr != nil {
			t.Fatal(rerr)
		}
		if h := got.Spooled.Header(); !bytes.HasPrefix(b, h) || !bytes.HasSuffix(h, []byte("\r\n\r\n")) && len(h) > 2 {
			t.Errorf("%s: header %q is not the start of the entity", name, h)
		}
		// Its text and attachments are those of the entity in memory.
		text, atts, terr := TextBody(b)
		stext, satts, serr := TextBodyFrom(got.Spooled, func() (Spool, error) { return &memSpool{}, nil })
		if (terr == nil) != (serr == nil) || text != stext || len(atts) != len(satts) {
			t.Errorf("%s: TextBodyFrom %q, %d attachments, %v; TextBody %q, %d, %v", name, stext, len(satts), serr, text, len(atts), terr)
		}
		got.Entity, got.Spooled = b, nil
		spooled = true
	}
	if g, w := openedText(got, err), openedText(want, werr); g != w {
		t.Errorf("%s: spooled:\n%s\nOpenFrom:\n%s", name, g, w)
	}
	kept := 0
	for _, s := range made {
		if !s.discarded {
			kept++
		}
	}
	if want := map[bool]int{true: 1, false: 0}[spooled]; kept != want {
		t.Errorf("%s: %d of %d spools kept, want %d", name, kept, len(made), want)
	}
	return spooled
}

// spoolMessages are PGP/MIME messages whose decrypted content is each
// form spooledLayer reads from the spool, or leaves to the reading in
// memory: signed inside the encryption (one-pass) with each kind of root,
// and a multipart/signed root in every shape splitMultipart tells apart.
func spoolMessages(t *testing.T, team, alice *Key) map[string][]byte {
	t.Helper()
	pgpmime := func(content string, signer *Key) []byte {
		return pgpMIME(mustArmor(t, encryptTo(t, team, signer, []byte(content))))
	}
	att := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("core dump line\r\n"), 300))
	var lines []string
	for len(att) > 76 {
		lines, att = append(lines, att[:76]), att[76:]
	}
	att = strings.Join(append(lines, att), "\r\n")
	mix := mixed("Content-Type: text/plain\r\n\r\nsee the core", "Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=core\r\nContent-Transfer-Encoding: base64\r\n\r\n"+att)
	signedMix, err := must(t)(alice.Sign(Content{Subject: "Report", Entity: []byte(mix)}, t0)).Entity()
	if err != nil {
		t.Fatal(err)
	}
	sig := string(signedMix[bytes.LastIndex(signedMix, []byte("Content-Type: application/pgp-signature")):])
	sig = sig[:strings.Index(sig, "\r\n--")]
	ms := func(parts ...string) string {
		s := "Content-Type: multipart/signed; protocol=\"application/pgp-signature\"; micalg=pgp-sha256; boundary=\"S\"\r\n\r\npreamble\r\n"
		for _, p := range parts {
			s += "--S\r\n" + p + "\r\n"
		}
		return s + "--S--\r\n"
	}
	outer := func(parts ...string) string { // mixed with another boundary
		s := "Content-Type: multipart/mixed; boundary=\"OUT\"\r\n\r\n"
		for _, p := range parts {
			s += "--OUT\r\n" + p + "\r\n"
		}
		return s + "--OUT--\r\n"
	}
	return map[string][]byte{
		"one-pass, mixed":               pgpmime(mix, alice),
		"one-pass, mixed, LF":           pgpmime(strings.ReplaceAll(mix, "\r\n", "\n"), alice),
		"one-pass, text":                pgpmime("Content-Type: text/plain\r\n\r\n"+att, alice),
		"one-pass, encrypted inside":    pgpmime("Content-Type: multipart/encrypted; boundary=x\r\n\r\n"+att, alice),
		"one-pass, no header":           pgpmime("\r\n"+att, alice),
		"one-pass, bad header":          pgpmime("not a header\r\n\r\n"+att, alice),
		"one-pass, header too long":     pgpmime("X-Long: "+strings.Repeat("a", 70<<10)+"\r\n\r\n"+att, alice),
		"one-pass, armored inside":      pgpmime("-----BEGIN PGP MESSAGE-----\r\n\r\n"+att, alice),
		"signed part (as sent)":         pgpmime(string(signedMix), nil),
		"signed part, LF":               pgpmime(strings.ReplaceAll(string(signedMix), "\r\n", "\n"), nil),
		"signed part, one-pass too":     pgpmime(string(signedMix), alice),
		"signed, not verified":          pgpmime(ms(mix, sig), nil),
		"signed, three parts":           pgpmime(ms(mix, sig, "Content-Type: text/plain\r\n\r\nx"), nil),
		"signed, one part":              pgpmime(ms(mix), nil),
		"signed, no parts":              pgpmime("Content-Type: multipart/signed; protocol=\"application/pgp-signature\"; boundary=S\r\n\r\n--S--\r\n"+att, nil),
		"signed, no close":              pgpmime(strings.TrimSuffix(ms(mix, sig), "--S--\r\n"), nil),
		"signed, no close, no CRLF":     pgpmime(strings.TrimSuffix(ms(mix, sig), "\r\n--S--\r\n"), nil),
		"signed, no delimiter":          pgpmime("Content-Type: multipart/signed; protocol=\"application/pgp-signature\"; boundary=S\r\n\r\n"+att, nil),
		"signed, padded delimiters":     pgpmime(strings.ReplaceAll(ms(mix, sig), "--S\r\n", "--S \t\r\n"), nil),
		"signed, delimiter-like line":   pgpmime(ms(mix+"\r\n--Sx\r\n--S-\r\n", sig), nil),
		"signed, empty first part":      pgpmime(ms("", sig), nil),
		"signed, text first part":       pgpmime(ms("Content-Type: text/plain\r\n\r\n"+att, sig), nil),
		"signed, encrypted first part":  pgpmime(ms("Content-Type: multipart/encrypted; boundary=y\r\n\r\n"+att, sig), nil),
		"signed, bad first part":        pgpmime(ms("no header here\r\n\r\n"+att, sig), nil),
		"signed, no boundary":           pgpmime("Content-Type: multipart/signed; protocol=\"application/pgp-signature\"\r\n\r\n"+att, nil),
		"signed, other protocol":        pgpmime(strings.Replace(ms(mix, sig), "application/pgp-signature\";", "application/pkcs7-signature\";", 1), nil),
		"signed, signature not armored": pgpmime(ms(mix, "Content-Type: application/pgp-signature\r\n\r\nnot armor"), nil),
		"signed, wrong signature type":  pgpmime(ms(mix, "Content-Type: text/plain\r\n\r\nx"), nil),
		"signed, big signature part":    pgpmime(ms(mix, "Content-Type: application/pgp-signature\r\n\r\n"+strings.Repeat("x", 70<<10)), nil),
		"signed, long delimiter line":   pgpmime(ms(mix, sig)+"--S"+strings.Repeat(" ", 70<<10)+"\r\n", nil),
		"signed, long line":             pgpmime(ms(mix+strings.Repeat("z", 70<<10), sig), nil),
		"mixed, not signed":             pgpmime(mix, nil),
		"mixed, a signed part":          pgpmime(outer("Content-Type: text/plain\r\n\r\nhi", string(signedMix)), nil),
		"mixed, a signed part, LF":      pgpmime(strings.ReplaceAll(outer("Content-Type: text/plain\r\n\r\nhi", string(signedMix)), "\r\n", "\n"), nil),
		"mixed, a clearsigned text":     pgpmime(outer("Content-Type: text/plain\r\n\r\n-----BEGIN PGP SIGNED MESSAGE-----\r\nHash: SHA256\r\n\r\nhello\r\n-----BEGIN PGP SIGNATURE-----\r\n\r\nAAAA\r\n-----END PGP SIGNATURE-----\r\n", "Content-Type: application/octet-stream\r\n\r\n"+att), nil),
		"mixed, a big text":             pgpmime(outer("Content-Type: text/plain\r\n\r\n"+strings.Repeat(att+"\r\n", 14)), nil),
		"mixed in mixed, signed inside": pgpmime(outer("Content-Type: multipart/mixed; boundary=in\r\n\r\n--in\r\n"+string(signedMix)+"\r\n--in--\r\n", "Content-Type: text/plain\r\n\r\nx"), nil),
		"mixed, empty multipart part":   pgpmime(outer("Content-Type: multipart/mixed; boundary=in\r\n\r\n", att), nil),
		"mixed, no header part":         pgpmime(outer("\r\n"+att, "Content-Type: text/plain\r\n\r\nx"), nil),
		"mixed, other-protocol signed":  pgpmime(outer(strings.Replace(ms(mix, sig), "application/pgp-signature\";", "application/pkcs7-signature\";", 1)), nil),
		"mixed, signed part, 3 parts":   pgpmime(outer(ms(mix, sig, "Content-Type: text/plain\r\n\r\nx")), nil),
		"mixed, many parts":             pgpmime("Content-Type: multipart/mixed; boundary=M\r\n\r\n"+strings.Repeat("--M\r\nContent-Type: text/plain\r\n\r\nx\r\n", 300)+"--M--\r\n", nil),
		"alternative":                   pgpmime("Content-Type: multipart/alternative; boundary=A\r\n\r\n--A\r\nContent-Type: text/plain\r\n\r\n"+att+"\r\n--A--\r\n", nil),
		"forwarded message":             pgpmime("Content-Type: message/rfc822\r\n\r\n"+mix, nil),
		"text, not signed":              pgpmime("Content-Type: text/plain\r\n\r\n"+att, nil),
		"encrypted inside, not signed":  pgpmime("Content-Type: multipart/encrypted; boundary=x\r\n\r\n"+att, nil),
		"tampered":                      tamperArmored(t, pgpmime(string(signedMix), nil), func(n int) int { return n - 30 }),
		"tampered, one-pass":            tamperArmored(t, pgpmime(mix, alice), func(n int) int { return n / 2 }),
	}
}

// TestOpenFromSpooled: a big plaintext decrypted into a spool gives what
// OpenFrom gives from memory, in every form; the forms read from the spool
// keep it, every other spool is discarded (a tampered message's too, its
// plaintext never used); and limits hold the same.
func TestOpenFromSpooled(t *testing.T) {
	team, alice := testKey(t, "team"), testKey(t, "alice")
	opts := OpenOptions{Decrypt: team, Verifiers: []*Key{alice.Public()}, Now: t0}
	mustSpool := map[string]bool{
		"one-pass, mixed": true, "one-pass, mixed, LF": true, "signed part (as sent)": true, "signed part, LF": true,
		"signed, not verified": true, "signed, three parts": true, "signed, one part": true, "signed, no close": true,
		"signed, no close, no CRLF": true, "signed, padded delimiters": true, "signed, delimiter-like line": true,
		"signed, no parts": true, "one-pass, bad header": true,
		"mixed, not signed": true, "mixed, a signed part": true, "mixed, a signed part, LF": true, "mixed, a clearsigned text": true,
		"mixed in mixed, signed inside": true, "mixed, other-protocol signed": true,
		"mixed, signed part, 3 parts": true, "alternative": true, "forwarded message": true, "mixed, no header part": true,
	}
	for name, raw := range spoolMessages(t, team, alice) {
		for _, above := range []int{16, 1000} {
			spooled := sameSpooled(t, name, raw, opts, above)
			if mustSpool[name] && !spooled {
				t.Errorf("%s, past %d bytes: not read from the spool", name, above)
			}
		}
		for lname, lim := range map[string]Limits{
			"MaxParts 2": {MaxParts: 2}, "MaxParts 3": {MaxParts: 3}, "MaxParts 4": {MaxParts: 4}, "MaxParts 5": {MaxParts: 5},
			"MaxDecompressed": {MaxDecompressedBytes: 5000},
			"MaxDepth":        {MaxDepth: 1},
		} {
			o := opts
			o.Limits = lim
			sameSpooled(t, name+", "+lname, raw, o, 16)
		}
	}
	for name, raw := range streamMessages(t, team, alice, testKey(t, "mallory")) {
		sameSpooled(t, name, raw, opts, 16)
	}
	// The form the gateway's own mail and most clients' take: the
	// signature verified over the first part as the spool reads it.
	for _, name := range []string{"signed part (as sent)", "one-pass, mixed", "mixed, a signed part"} {
		n := 0
		o, _, err := openFrom(streamOf(spoolMessages(t, team, alice)[name], &n), opts, func() (Spool, error) { return &memSpool{}, nil }, 16)
		if err != nil || o.Spooled == nil || o.Signature == nil || o.Signature.Err != nil || o.Signature.Whole != !strings.HasPrefix(name, "mixed") {
			t.Errorf("%s: %v, %+v", name, err, o)
		}
	}
}

// FuzzOpenFromSpooled: whatever the message, reading its plaintext from
// a spool gives what OpenFrom gives.
func FuzzOpenFromSpooled(f *testing.F) {
	addMailSeeds(f)
	team, member := fuzzKeys(f)
	signer := loadTestKey(f, "member-x25519")
	signed, err := signer.Sign(Content{Subject: "s", Entity: []byte(mixed("Content-Type: text/plain\r\n\r\nhi", "Content-Type: application/octet-stream\r\n\r\nAAAA"))}, fixtureTime)
	if err != nil {
		f.Fatal(err)
	}
	ent, err := signed.Entity()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(pgpMIME(mustArmor(f, encryptTo(f, team, nil, ent))))
	f.Add(pgpMIME(mustArmor(f, encryptTo(f, team, signer, []byte(mixed("Content-Type: text/plain\r\n\r\nhi", "Content-Type: application/octet-stream\r\n\r\nAAAA"))))))
	f.Fuzz(func(t *testing.T, raw []byte) {
		sameSpooled(t, "fuzz", raw, OpenOptions{Decrypt: team, Verifiers: []*Key{member, signer.Public()}, Now: fixtureTime, Limits: Limits{MaxDecompressedBytes: 1 << 20}}, 16)
	})
}

// FuzzSplitParts: the parts splitParts finds in a spooled body, line by
// line, are those splitMultipart finds in it whole, with the same error,
// and what it keeps of each part is its start.
func FuzzSplitParts(f *testing.F) {
	f.Add([]byte("pre\r\n--S\r\nContent-Type: text/plain\r\n\r\na\r\n--S\r\nb\r\n--S--\r\nepi"), "S", 4)
	f.Add([]byte("--S \t\r\nx\n--S\r\n\r\n--S"), "S", 1)
	f.Add([]byte("no delimiter"), "S", 2)
	f.Fuzz(func(t *testing.T, body []byte, boundary string, maxParts int) {
		if maxParts < 0 || maxParts > 300 {
			return
		}
		const head = "Content-Type: multipart/signed\r\n\r\n"
		plain := append([]byte(head), body...)
		s := &memSpool{closed: true}
		s.b.Write(plain)
		cc := &crlfCounter{}
		cc.Write(plain)
		p := &plainSpool{spool: s, n: int64(len(plain)), crlf: cc.n}
		canon := canonCRLF(plain)
		bodyAt := int64(len(head))
		got, gerr := p.splitParts(bodyAt, boundary, maxParts)
		if gerr == errFallback {
			return
		}
		want, werr := splitMultipart(canon[bodyAt:], boundary, maxParts)
		if fmt.Sprint(gerr) != fmt.Sprint(werr) {
			t.Fatalf("error %v, splitMultipart %v", gerr, werr)
		}
		if werr != nil {
			return
		}
		if len(got) != len(want) {
			t.Fatalf("%d parts, splitMultipart %d", len(got), len(want))
		}
		for i, w := range want {
			g := canon[got[i].at : got[i].at+got[i].n]
			if !bytes.Equal(g, w) {
				t.Fatalf("part %d: %q, splitMultipart %q", i, g, w)
			}
			if !bytes.Equal(got[i].kept, w[:min(len(w), maxStreamPart)]) && len(body) < maxKept {
				t.Fatalf("part %d: kept %q", i, got[i].kept)
			}
		}
	})
}
