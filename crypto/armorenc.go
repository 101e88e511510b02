package crypto

import (
	"encoding/base64"
	"io"
)

// armorEncoder writes OpenPGP armor (RFC 9580 §6.2) byte for byte as
// go-crypto's armor.Encode does without headers: the BEGIN line and a blank
// line, base64 in lines of 64 characters, the CRC24 checksum line and the
// END line without a line break. go-crypto computes the checksum bit by
// bit, eight steps a byte, which cost a few percent of the CPU of every
// sealed message (a report's acknowledgement and team copies, each
// distributor's notice); here a table does it a byte at a time.
type armorEncoder struct {
	out       io.Writer
	b64       io.WriteCloser
	lines     armorLines
	crc       uint32
	blockType string
}

func newArmorEncoder(out io.Writer, blockType string) (*armorEncoder, error) {
	if _, err := io.WriteString(out, "-----BEGIN "+blockType+"-----\n\n"); err != nil {
		return nil, err
	}
	e := &armorEncoder{out: out, crc: crc24Init, blockType: blockType, lines: armorLines{out: out}}
	e.b64 = base64.NewEncoder(base64.StdEncoding, &e.lines)
	return e, nil
}

func (e *armorEncoder) Write(p []byte) (int, error) {
	e.crc = crc24Update(e.crc, p)
	return e.b64.Write(p)
}

// Close writes the rest of the base64, the checksum and the END line.
func (e *armorEncoder) Close() error {
	if err := e.b64.Close(); err != nil {
		return err
	}
	sum := [3]byte{byte(e.crc >> 16), byte(e.crc >> 8), byte(e.crc)}
	var b64 [4]byte
	base64.StdEncoding.Encode(b64[:], sum[:])
	_, err := io.WriteString(e.out, "\n="+string(b64[:])+"\n-----END "+e.blockType+"-----")
	return err
}

// armorLines breaks base64 into lines of 64 characters: a line break goes
// before the first character of each line but the first, so the last line
// has none.
type armorLines struct {
	out io.Writer
	col int
}

func (l *armorLines) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		if l.col == 64 {
			if _, err := l.out.Write([]byte{'\n'}); err != nil {
				return 0, err
			}
			l.col = 0
		}
		k := min(len(p), 64-l.col)
		if _, err := l.out.Write(p[:k]); err != nil {
			return 0, err
		}
		l.col += k
		p = p[k:]
	}
	return n, nil
}

// CRC24 of OpenPGP armor (RFC 9580 §6.1).
const (
	crc24Init = 0xb704ce
	crc24Poly = 0x1864cfb
)

var crc24Table = func() (t [256]uint32) {
	for i := range t {
		crc := uint32(i) << 16
		for range 8 {
			crc <<= 1
			if crc&0x1000000 != 0 {
				crc ^= crc24Poly
			}
		}
		t[i] = crc & 0xffffff
	}
	return t
}()

func crc24Update(crc uint32, p []byte) uint32 {
	for _, b := range p {
		crc = (crc<<8 ^ crc24Table[byte(crc>>16)^b]) & 0xffffff
	}
	return crc
}
