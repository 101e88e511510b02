package crypto

import (
	"bytes"
	"fmt"
	"io"
)

// armorWriter returns a writer that armors what is written to it as
// blockType into w, as gopenpgp's streaming armorer does (armorEncoder,
// byte for byte the same): no Version or Comment header that would
// announce the library, a CRC24 checksum, and the END line without a line
// break. Close writes the end.
func armorWriter(w io.Writer, blockType string) (io.WriteCloser, error) {
	a, err := newArmorEncoder(w, blockType)
	if err != nil {
		return nil, fmt.Errorf("crypto: armor: %w", err)
	}
	return a, nil
}

// armorBytes armors data without any armor header, with CRLF line ends and
// no line break after the END line.
func armorBytes(blockType string, data []byte) ([]byte, error) {
	var b bytes.Buffer
	b.Grow(armoredLen(len(data)))
	if err := armorInto(crlfWriter{&b}, blockType, data); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// armorString armors data like armorBytes, with LF line ends and a line
// break after the END line.
func armorString(blockType string, data []byte) (string, error) {
	var b bytes.Buffer
	b.Grow(armoredLen(len(data)))
	if err := armorInto(&b, blockType, data); err != nil {
		return "", err
	}
	b.WriteByte('\n')
	return b.String(), nil
}

func armorInto(w io.Writer, blockType string, data []byte) error {
	a, err := armorWriter(w, blockType)
	if err != nil {
		return err
	}
	if _, err := a.Write(data); err != nil {
		return fmt.Errorf("crypto: armor: %w", err)
	}
	if err := a.Close(); err != nil {
		return fmt.Errorf("crypto: armor: %w", err)
	}
	return nil
}

// armoredLen is an upper bound of the armored size of n bytes with CRLF
// line ends: base64 in lines of 64 characters, the BEGIN, checksum and END
// lines.
func armoredLen(n int) int {
	b64 := (n + 2) / 3 * 4
	return b64 + (b64/64+1)*2 + 128
}

// crlfWriter writes to w with every LF turned into CRLF. It is for text
// that has no CR of its own (armor output).
type crlfWriter struct{ w io.Writer }

func (c crlfWriter) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			m, err := c.w.Write(p)
			return n + m, err
		}
		if _, err := c.w.Write(p[:i]); err != nil {
			return n, err
		}
		if _, err := c.w.Write([]byte("\r\n")); err != nil {
			return n, err
		}
		n += i + 1
		p = p[i+1:]
	}
	return n, nil
}

// maxArmorLine is the longest line go-crypto's armor decoder reads.
const maxArmorLine = 96

// rewrapArmor returns an armored block whose base64 lines are longer than
// go-crypto reads (RFC 9580 §6.3 writers keep to 76 characters, but gpg
// reads any length) with the same base64 in lines of 64, and any other
// block as it is. Armor headers end at the first blank line; the base64
// at the checksum line or the END line.
func rewrapArmor(b []byte) []byte {
	long := false
	for rest := b; len(rest) > 0 && !long; {
		line, next, _ := bytes.Cut(rest, []byte("\n"))
		long, rest = len(bytes.TrimSpace(line)) > maxArmorLine, next
	}
	if !long {
		return b
	}
	var out, b64 bytes.Buffer
	out.Grow(len(b) + len(b)/32)
	rest := b
	inBody := false
	for len(rest) > 0 {
		line, next, _ := bytes.Cut(rest, []byte("\n"))
		rest = next
		t := bytes.TrimSpace(line)
		switch {
		case !inBody:
			out.Write(t)
			out.WriteString("\n")
			inBody = len(t) == 0
			continue
		case bytes.HasPrefix(t, []byte("-----END ")) || len(t) == 5 && t[0] == '=':
			for s := b64.Bytes(); len(s) > 0; {
				n := min(len(s), 64)
				out.Write(s[:n])
				out.WriteString("\n")
				s = s[n:]
			}
			b64.Reset()
			out.Write(t)
			out.WriteString("\n")
			out.Write(rest)
			return out.Bytes()
		}
		b64.Write(t)
	}
	return b // no end: leave it to the decoder to refuse
}
