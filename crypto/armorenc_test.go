package crypto

import (
	"bytes"
	"math/rand/v2"
	"testing"

	gparmor "github.com/ProtonMail/gopenpgp/v2/armor"
)

// gopenpgpArmor is what gopenpgp's streaming armorer writes for data,
// written in pieces of at most piece bytes.
func gopenpgpArmor(t testing.TB, blockType string, data []byte, piece int) []byte {
	var b bytes.Buffer
	w, err := gparmor.ArmorWithTypeBuffered(&b, blockType)
	if err != nil {
		t.Fatal(err)
	}
	writePieces(t, w, data, piece)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func ourArmor(t testing.TB, blockType string, data []byte, piece int) []byte {
	var b bytes.Buffer
	w, err := armorWriter(&b, blockType)
	if err != nil {
		t.Fatal(err)
	}
	writePieces(t, w, data, piece)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func writePieces(t testing.TB, w interface{ Write([]byte) (int, error) }, data []byte, piece int) {
	for len(data) > 0 {
		n := min(len(data), piece)
		if _, err := w.Write(data[:n]); err != nil {
			t.Fatal(err)
		}
		data = data[n:]
	}
}

// TestArmorEncoderSame: the armor encoder writes byte for byte what
// gopenpgp's (go-crypto's) does, for every length around the line and
// base64 group boundaries and beyond, written whole or in pieces; and what
// it writes reads back.
func TestArmorEncoderSame(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	data := make([]byte, 5000)
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	var lengths []int
	for n := range 200 {
		lengths = append(lengths, n)
	}
	lengths = append(lengths, 767, 768, 769, 1023, 1024, 1025, 3071, 3072, 3073, 5000)
	for _, blockType := range []string{"PGP MESSAGE", "PGP SIGNATURE", "PGP PUBLIC KEY BLOCK"} {
		for _, n := range lengths {
			for _, piece := range []int{1, 7, 48, 1000, n + 1} {
				want := gopenpgpArmor(t, blockType, data[:n], max(piece, 1))
				got := ourArmor(t, blockType, data[:n], max(piece, 1))
				if !bytes.Equal(got, want) {
					t.Fatalf("%s, %d bytes in pieces of %d:\n%s\nwant:\n%s", blockType, n, piece, got, want)
				}
			}
		}
	}
	if _, err := armoredSource(ourArmor(t, "PGP MESSAGE", data, 100), "PGP MESSAGE"); err != nil {
		t.Fatalf("armored output does not read back: %v", err)
	}
}

func FuzzArmorEncoder(f *testing.F) {
	f.Add([]byte(""), 1)
	f.Add([]byte("hello"), 3)
	f.Add(bytes.Repeat([]byte{0xff}, 200), 64)
	f.Fuzz(func(t *testing.T, data []byte, piece int) {
		piece = max(1, piece%4096)
		if got, want := ourArmor(t, "PGP MESSAGE", data, piece), gopenpgpArmor(t, "PGP MESSAGE", data, piece); !bytes.Equal(got, want) {
			t.Fatalf("%d bytes in pieces of %d differ:\n%s\nwant:\n%s", len(data), piece, got, want)
		}
	})
}

func BenchmarkArmor(b *testing.B) {
	data := bytes.Repeat([]byte("sealed notice bytes "), 400)
	b.Run("gopenpgp", func(b *testing.B) {
		for b.Loop() {
			gopenpgpArmor(b, "PGP MESSAGE", data, 4096)
		}
	})
	b.Run("ours", func(b *testing.B) {
		for b.Loop() {
			ourArmor(b, "PGP MESSAGE", data, 4096)
		}
	})
}
