package crypto

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"mime/quotedprintable"
	"strings"
)

// This file re-encodes an OpenPGP message the ways an attacker who cannot
// decrypt it can: other armor, binary in a transfer encoding, other packet
// framing, inline or PGP/MIME. The tests play that attacker against
// Opened.Identities.

// rawPacket is one top-level OpenPGP packet: its tag and body.
type rawPacket struct {
	tag  byte
	body []byte
}

// splitPackets parses binary OpenPGP data into its top-level packets,
// whatever their header format (old or new, partial body lengths).
func splitPackets(bin []byte) ([]rawPacket, error) {
	var out []rawPacket
	for len(bin) > 0 {
		h := bin[0]
		bin = bin[1:]
		if h&0x80 == 0 {
			return nil, fmt.Errorf("packet header %#x without its high bit", h)
		}
		if h&0x40 == 0 { // old format
			tag, lt := (h>>2)&0x0f, h&3
			if lt == 3 {
				out = append(out, rawPacket{tag, bin})
				return out, nil
			}
			n := 1 << lt
			if len(bin) < n {
				return nil, fmt.Errorf("short old-format length")
			}
			size := 0
			for _, c := range bin[:n] {
				size = size<<8 | int(c)
			}
			bin = bin[n:]
			if len(bin) < size {
				return nil, fmt.Errorf("short packet")
			}
			out = append(out, rawPacket{tag, bin[:size]})
			bin = bin[size:]
			continue
		}
		p := rawPacket{tag: h & 0x3f}
		for {
			if len(bin) == 0 {
				return nil, fmt.Errorf("short new-format length")
			}
			size, partial := 0, false
			switch c := bin[0]; {
			case c < 192:
				size, bin = int(c), bin[1:]
			case c < 224:
				if len(bin) < 2 {
					return nil, fmt.Errorf("short length")
				}
				size, bin = (int(c)-192)<<8+int(bin[1])+192, bin[2:]
			case c < 255:
				size, partial, bin = 1<<(c&0x1f), true, bin[1:]
			default:
				if len(bin) < 5 {
					return nil, fmt.Errorf("short length")
				}
				size, bin = int(bin[1])<<24|int(bin[2])<<16|int(bin[3])<<8|int(bin[4]), bin[5:]
			}
			if len(bin) < size {
				return nil, fmt.Errorf("short packet")
			}
			p.body = append(p.body, bin[:size]...)
			bin = bin[size:]
			if !partial {
				break
			}
		}
		out = append(out, p)
	}
	return out, nil
}

// framing is how a packet header is written.
type framing struct {
	old     bool // old format (tags up to 15 only; else new)
	lenSize int  // octets of the length: old 1, 2 or 4, new 1, 2 or 5; 0 or too small: the shortest
	partial int  // new format: partial body lengths of 1<<partial octets (1 to 30), then the rest
}

func (f framing) write(b *bytes.Buffer, p rawPacket) {
	n := len(p.body)
	if f.old && p.tag < 16 {
		lt, size := 0, 1
		switch {
		case f.lenSize >= 4 || n > 0xffff:
			lt, size = 2, 4
		case f.lenSize >= 2 || n > 0xff:
			lt, size = 1, 2
		}
		b.WriteByte(0x80 | p.tag<<2 | byte(lt))
		for i := size - 1; i >= 0; i-- {
			b.WriteByte(byte(n >> (8 * i)))
		}
		b.Write(p.body)
		return
	}
	b.WriteByte(0xc0 | p.tag)
	body := p.body
	if f.partial > 0 && f.partial <= 30 {
		for chunk := 1 << f.partial; len(body) > chunk; body = body[chunk:] {
			b.WriteByte(0xe0 | byte(f.partial))
			b.Write(body[:chunk])
		}
	}
	newLength(b, len(body), f.lenSize)
	b.Write(body)
}

func newLength(b *bytes.Buffer, n, lenSize int) {
	switch {
	case n < 192 && lenSize <= 1:
		b.WriteByte(byte(n))
	case n >= 192 && n < 8384 && lenSize <= 2:
		n -= 192
		b.WriteByte(byte(n>>8) + 192)
		b.WriteByte(byte(n))
	default:
		b.Write([]byte{0xff, byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
	}
}

// wrapping is where the OpenPGP data goes in the mail.
type wrapping int

const (
	mimeArmor  wrapping = iota // PGP/MIME, armored data part
	mimeBase64                 // PGP/MIME, binary data part in base64
	mimeQP                     // PGP/MIME, binary data part in quoted-printable
	inlineText                 // armor in a text/plain body
	inlineQP                   // armor in a quoted-printable text/plain body
	wrappings
)

// reencoding is one way to re-encode a message.
type reencoding struct {
	pkesk, data framing // the session-key packets, the encrypted data packet
	marker      bool    // a marker packet in front
	decoy       bool    // a session-key packet for another key in front
	lineLen     int     // armor (and base64) line length; 0: 64
	flip        byte    // xor into the unused low bits of the last base64 character
	headers     bool    // armor headers (Comment, Version, Charset)
	noCRC       bool    // no armor checksum line
	wrap        wrapping
	lf          bool   // LF line ends in the whole mail
	before      string // text before the armor (inline)
	after       string // text after the armor (inline)
}

// decoyPKESK is a session-key packet (version 3, X25519 ECDH) for a key
// no one in the tests holds: the 8-octet key ID 0102030405060708, an
// ephemeral point and a wrapped key of random octets.
func decoyPKESK() rawPacket {
	body := []byte{3, 1, 2, 3, 4, 5, 6, 7, 8, 18, 1, 7, 0x40}
	body = append(body, bytes.Repeat([]byte{0x5a}, 32)...)
	body = append(body, 40)
	body = append(body, bytes.Repeat([]byte{0xa5}, 40)...)
	return rawPacket{tagPKESK, body}
}

// crc24 is the armor checksum (RFC 9580 §6.1).
func crc24(b []byte) uint32 {
	crc := uint32(0xb704ce)
	for _, c := range b {
		crc ^= uint32(c) << 16
		for range 8 {
			crc <<= 1
			if crc&0x1000000 != 0 {
				crc ^= 0x1864cfb
			}
		}
	}
	return crc & 0xffffff
}

// flipUnused xors flip into the bits of the last character of standard
// base64 text s that carry no data (two per padding character).
func flipUnused(s string, flip byte) string {
	pad := len(s) - len(strings.TrimRight(s, "="))
	if pad == 0 || len(s) == pad {
		return s
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	i := len(s) - pad - 1
	v := strings.IndexByte(alphabet, s[i])
	v ^= int(flip) & (1<<(2*pad) - 1)
	return s[:i] + string(alphabet[v]) + s[i+1:]
}

// lines breaks s into lines of n characters.
func lines(s string, n int) string {
	var b strings.Builder
	for len(s) > n {
		b.WriteString(s[:n] + "\n")
		s = s[n:]
	}
	b.WriteString(s + "\n")
	return b.String()
}

// frame writes the packets of a message with the re-encoding's framing.
func (r reencoding) frame(pkts []rawPacket) []byte {
	var b bytes.Buffer
	if r.marker {
		r.pkesk.write(&b, rawPacket{tagMarker, []byte("PGP")})
	}
	if r.decoy {
		r.pkesk.write(&b, decoyPKESK())
	}
	for _, p := range pkts {
		f := r.pkesk
		if p.tag == tagSEIPD || p.tag == tagAEAD || p.tag == tagSED {
			f = r.data
		}
		f.write(&b, p)
	}
	return b.Bytes()
}

// armor armors bin as the re-encoding says.
func (r reencoding) armor(bin []byte) string {
	n := r.lineLen
	if n <= 0 {
		n = 64
	}
	var b strings.Builder
	b.WriteString("-----BEGIN PGP MESSAGE-----\n")
	if r.headers {
		b.WriteString("Version: Attacker 1.0\nComment: https://attacker.example/\nComment: second comment\nCharset: UTF-8\n")
	}
	b.WriteString("\n")
	b.WriteString(lines(flipUnused(base64.StdEncoding.EncodeToString(bin), r.flip), n))
	if !r.noCRC {
		c := crc24(bin)
		b.WriteString("=" + base64.StdEncoding.EncodeToString([]byte{byte(c >> 16), byte(c >> 8), byte(c)}) + "\n")
	}
	b.WriteString("-----END PGP MESSAGE-----\n")
	return b.String()
}

// mail re-encodes the packets into a whole mail; pgp is the OpenPGP data
// in it (armored or binary), as a client would give it to gpg.
func (r reencoding) mail(pkts []rawPacket) (mail, pgp []byte) {
	bin := r.frame(pkts)
	arm := r.armor(bin)
	var body string
	switch r.wrap {
	case mimeArmor, mimeBase64, mimeQP:
		data := "Content-Type: application/octet-stream; name=\"encrypted.asc\"\n\n" + arm
		pgp = []byte(arm)
		switch r.wrap {
		case mimeBase64:
			n := r.lineLen
			if n <= 0 {
				n = 76
			}
			data = "Content-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n" +
				lines(flipUnused(base64.StdEncoding.EncodeToString(bin), r.flip), n)
			pgp = bin
		case mimeQP:
			var q bytes.Buffer
			w := quotedprintable.NewWriter(&q)
			w.Binary = true
			w.Write(bin)
			w.Close()
			data = "Content-Type: application/octet-stream\nContent-Transfer-Encoding: quoted-printable\n\n" + q.String() + "\n"
			pgp = bin
		}
		body = "Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=\"XYZ\"\n\n" +
			"--XYZ\nContent-Type: application/pgp-encrypted\n\nVersion: 1\n\n--XYZ\n" + data + "\n--XYZ--\n"
	default:
		text := r.before + arm + r.after
		pgp = []byte(arm)
		body = "Content-Type: text/plain; charset=us-ascii\n\n" + text
		if r.wrap == inlineQP {
			var q bytes.Buffer
			w := quotedprintable.NewWriter(&q)
			w.Write(canonCRLF([]byte(text)))
			w.Close()
			body = "Content-Type: text/plain; charset=us-ascii\nContent-Transfer-Encoding: quoted-printable\n\n" + q.String()
		}
	}
	mail = []byte(strings.ReplaceAll(mailHeader, "\r\n", "\n") + body)
	if !r.lf {
		mail = canonCRLF(mail)
	}
	return mail, pgp
}
