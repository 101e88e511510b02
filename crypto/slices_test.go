package crypto

import (
	"bytes"
	"io"
	"slices"
	"testing"
	"testing/iotest"
)

// TestSlicesReader: read in small pieces or written whole, the slices come
// out in order, empty ones skipped, and a failing writer stops the copy
// where it failed.
func TestSlicesReader(t *testing.T) {
	for _, tt := range []struct {
		name   string
		slices [][]byte
		want   string
	}{
		{"none", nil, ""},
		{"empty ones", [][]byte{{}, []byte("ab"), {}, {}, []byte("c"), {}}, "abc"},
		{"header and body", [][]byte{[]byte("Content-Type: text/plain\r\n\r\n"), []byte("hello\r\n")}, "Content-Type: text/plain\r\n\r\nhello\r\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := slicesReader(slices.Clone(tt.slices))
			if err := iotest.TestReader(&r, []byte(tt.want)); err != nil {
				t.Errorf("read: %v", err)
			}
			w := slicesReader(slices.Clone(tt.slices))
			var out bytes.Buffer
			n, err := io.Copy(&out, &w)
			if err != nil || n != int64(len(tt.want)) || out.String() != tt.want {
				t.Errorf("copy: %d %q %v, want %q", n, out.String(), err, tt.want)
			}
		})
	}
	r := slicesReader{[]byte("abc"), []byte("def")}
	n, err := r.WriteTo(&failAfter{n: 4})
	if err == nil || n != 4 {
		t.Errorf("WriteTo to a writer failing after 4 bytes: %d, %v", n, err)
	}
}

// failAfter accepts n bytes, then fails.
type failAfter struct{ n int }

func (f *failAfter) Write(p []byte) (int, error) {
	if len(p) > f.n {
		n := f.n
		f.n = 0
		return n, io.ErrShortWrite
	}
	f.n -= len(p)
	return len(p), nil
}

// FuzzSlicesReader: read through a small buffer or copied whole, the
// slices come out as their concatenation.
func FuzzSlicesReader(f *testing.F) {
	f.Add([]byte("Content-Type: text/plain\r\n\r\n"), []byte("hello\r\n"), 3)
	f.Add([]byte{}, []byte{}, 1)
	f.Fuzz(func(t *testing.T, a, b []byte, n int) {
		want := append(slices.Clone(a), b...)
		r := slicesReader{a, b}
		got, err := io.ReadAll(io.LimitReader(&r, int64(len(want))+1))
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("read %q %v, want %q", got, err, want)
		}
		var out bytes.Buffer
		w := slicesReader{a, b}
		if _, err := io.CopyBuffer(&out, struct{ io.Reader }{&w}, make([]byte, 1+n&15)); err != nil || !bytes.Equal(out.Bytes(), want) {
			t.Fatalf("copy through %d bytes: %q %v, want %q", 1+n&15, out.Bytes(), err, want)
		}
	})
}
