package crypto

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"runtime"
	"strings"
	"testing"
)

// TestTextBodyBigParts: parts past the first 64 KiB decode whole and byte
// for byte, wherever they are in the entity (a big attachment before the
// text, after it, a Latin-1 text that grows as UTF-8, a binary body), and
// no attachment keeps a buffer much bigger than itself.
func TestTextBodyBigParts(t *testing.T) {
	first := make([]byte, 300<<10+7)
	last := make([]byte, 200<<10+3)
	rand.Read(first)
	rand.Read(last)
	b64 := func(b []byte) string {
		s := base64.StdEncoding.EncodeToString(b)
		var out strings.Builder
		for len(s) > 76 {
			out.WriteString(s[:76] + "\r\n")
			s = s[76:]
		}
		return out.String() + s + "\r\n"
	}
	latin := strings.Repeat("caf\xe9 ", 40<<10) // 200 KiB, 240 KiB as UTF-8
	binary := strings.Repeat("0123456789abcdef", 8<<10)
	entity := mixed(
		"Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=first.bin\r\nContent-Transfer-Encoding: base64\r\n\r\n"+b64(first),
		"Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"+latin,
		"Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=plain.bin\r\nContent-Transfer-Encoding: binary\r\n\r\n"+binary,
		"Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=last.bin\r\nContent-Transfer-Encoding: base64\r\n\r\n"+b64(last),
	)
	text, atts, err := TextBody([]byte(entity))
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.TrimRight(strings.ReplaceAll(latin, "\xe9", "é"), " ") + "\n"; strings.TrimRight(text, " \n")+"\n" != want {
		t.Errorf("text of %d bytes, want the %d of the Latin-1 part in UTF-8", len(text), len(want))
	}
	want := map[string][]byte{"first.bin": first, "plain.bin": []byte(binary), "last.bin": last}
	if len(atts) != len(want) {
		t.Fatalf("%d attachments, want %d", len(atts), len(want))
	}
	for _, a := range atts {
		if !bytes.Equal(a.Data, want[a.Filename]) {
			t.Errorf("%s: %d bytes, want the %d sent", a.Filename, len(a.Data), len(want[a.Filename]))
		}
		if cap(a.Data) > len(a.Data)+len(a.Data)/4 {
			t.Errorf("%s: buffer of %d bytes for %d", a.Filename, cap(a.Data), len(a.Data))
		}
	}
}

// TestTextBodyBigAttachmentOnce: a 4 MiB attachment is decoded into one
// buffer, not copied from buffer to buffer as it grows: TextBody
// allocates less than twice its size.
func TestTextBodyBigAttachmentOnce(t *testing.T) {
	att := make([]byte, 4<<20)
	rand.Read(att)
	enc := base64.StdEncoding.EncodeToString(att)
	var lines strings.Builder
	for len(enc) > 76 {
		lines.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	lines.WriteString(enc + "\r\n")
	entity := []byte(mixed("Content-Type: text/plain\r\n\r\nsee the dump",
		"Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=core\r\nContent-Transfer-Encoding: base64\r\n\r\n"+lines.String()))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, atts, err := TextBody(entity)
	runtime.ReadMemStats(&after)
	if err != nil || len(atts) != 1 || !bytes.Equal(atts[0].Data, att) {
		t.Fatalf("%v, %d attachments", err, len(atts))
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 2*uint64(len(att)) {
		t.Errorf("TextBody allocated %d bytes for an attachment of %d", n, len(att))
	}
}
