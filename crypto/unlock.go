package crypto

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha1"
	"encoding/binary"
	"hash"

	gocrypto "crypto"

	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// Unlocking a private key costs what its passphrase's iterated and salted
// S2K costs (RFC 4880, 3.7.1.3): a key protected as GenerateKey's keys are
// (ArmorPrivate, go-crypto's default: SHA-256 over 16 MiB) takes about
// 10 ms of hashing, and it is the key's protection at rest. go-crypto
// derives it once for every secret key packet (its cache of derived keys
// keeps nothing), so a primary key and its subkey, protected together
// with one S2K, cost it twice; and it feeds the hash a few dozen bytes at a
// time, which costs half as much again. unlockPackets does the same
// derivation, over the same bytes, once for each distinct S2K of a key and
// in large writes; the result is the key go-crypto would unlock
// (FuzzUnlockPackets compares them).

// Secret-key packet fields handled here (RFC 4880, 5.5.3); any other form
// is left to go-crypto.
const (
	tagSecretKey    = 5
	tagSecretSubkey = 7
	s2kUsageSHA1    = 254 // encrypted, SHA-1 of the material appended
	s2kIterSalted   = 3
	sha1Len         = 20
)

// s2kKey names one derivation: the same parameters and passphrase give
// the same key.
type s2kKey struct {
	hash    byte
	salt    [8]byte
	count   byte
	keySize int
}

// unlockPackets decrypts every protected secret key packet of key (a
// transferable secret key, armored or binary) with passphrase and returns
// the key's packets with those in their unprotected form (RFC 4880, 5.5.3,
// usage 0). ok is false when key holds a form it does not handle (a
// version other than 4, a usage other than 254, a cipher other than AES,
// an S2K other than iterated and salted, a packet of partial or
// indeterminate length) or when a packet's check fails, as with a wrong
// passphrase: the caller then unlocks key the usual way, which says why.
func unlockPackets(key, passphrase []byte) (out []byte, ok bool) {
	data := key
	if bytes.Contains(key, []byte("-----BEGIN PGP")) {
		blk, err := armor.Decode(bytes.NewReader(key))
		if err != nil {
			return nil, false
		}
		var buf bytes.Buffer
		if _, err := buf.ReadFrom(blk.Body); err != nil {
			return nil, false
		}
		data = buf.Bytes()
	}
	derived := map[s2kKey][]byte{}
	var w bytes.Buffer
	for len(data) > 0 {
		tag, hdr, body, ok := nextPacket(data)
		if !ok {
			return nil, false
		}
		pkt := data[:hdr+len(body)]
		data = data[len(pkt):]
		if tag != tagSecretKey && tag != tagSecretSubkey {
			w.Write(pkt)
			continue
		}
		plain, ok := unlockSecretBody(body, passphrase, derived)
		if !ok {
			return nil, false
		}
		writePacketHeader(&w, tag, len(plain))
		w.Write(plain)
	}
	return w.Bytes(), true
}

// nextPacket reads the packet at the start of data (RFC 4880, 4.2): its
// tag, the length of its header and its body.
func nextPacket(data []byte) (tag byte, hdr int, body []byte, ok bool) {
	if len(data) < 2 || data[0]&0x80 == 0 {
		return 0, 0, nil, false
	}
	var n int
	if data[0]&0x40 != 0 { // new format
		tag = data[0] & 0x3f
		switch l0 := int(data[1]); {
		case l0 < 192:
			hdr, n = 2, l0
		case l0 < 224:
			if len(data) < 3 {
				return 0, 0, nil, false
			}
			hdr, n = 3, (l0-192)<<8+int(data[2])+192
		case l0 == 255:
			if len(data) < 6 {
				return 0, 0, nil, false
			}
			hdr, n = 6, int(binary.BigEndian.Uint32(data[2:6]))
		default: // partial body length
			return 0, 0, nil, false
		}
	} else {
		tag = (data[0] >> 2) & 0x0f
		switch data[0] & 3 {
		case 0:
			hdr, n = 2, int(data[1])
		case 1:
			if len(data) < 3 {
				return 0, 0, nil, false
			}
			hdr, n = 3, int(binary.BigEndian.Uint16(data[1:3]))
		case 2:
			if len(data) < 5 {
				return 0, 0, nil, false
			}
			hdr, n = 5, int(binary.BigEndian.Uint32(data[1:5]))
		default: // indeterminate length
			return 0, 0, nil, false
		}
	}
	if n < 0 || n > len(data)-hdr {
		return 0, 0, nil, false
	}
	return tag, hdr, data[hdr : hdr+n], true
}

// writePacketHeader writes a new-format packet header (RFC 4880, 4.2.2).
func writePacketHeader(w *bytes.Buffer, tag byte, n int) {
	w.WriteByte(0xc0 | tag)
	switch {
	case n < 192:
		w.WriteByte(byte(n))
	case n < 8384:
		n -= 192
		w.WriteByte(byte(n>>8) + 192)
		w.WriteByte(byte(n))
	default:
		w.WriteByte(255)
		w.Write(binary.BigEndian.AppendUint32(nil, uint32(n)))
	}
}

// unlockSecretBody returns the body of a version 4 secret key packet with
// its secret material decrypted: the public key, usage 0, the material and
// its two-octet checksum. derived holds the keys derived so far.
func unlockSecretBody(body, passphrase []byte, derived map[s2kKey][]byte) ([]byte, bool) {
	pub, ok := publicPart(body)
	if !ok {
		return nil, false
	}
	rest := body[len(pub):]
	if len(rest) == 0 {
		return nil, false
	}
	if rest[0] == 0 { // not protected
		return body, true
	}
	// usage, cipher, S2K mode, hash, salt (8), count, IV (16), material, SHA-1
	if rest[0] != s2kUsageSHA1 || len(rest) < 29+sha1Len || rest[2] != s2kIterSalted {
		return nil, false
	}
	var keySize int
	switch packet.CipherFunction(rest[1]) {
	case packet.CipherAES128:
		keySize = 16
	case packet.CipherAES192:
		keySize = 24
	case packet.CipherAES256:
		keySize = 32
	default:
		return nil, false
	}
	h, ok := s2kHash(rest[3])
	if !ok {
		return nil, false
	}
	sk := s2kKey{hash: rest[3], count: rest[12], keySize: keySize}
	copy(sk.salt[:], rest[4:12])
	dk, seen := derived[sk]
	if !seen {
		dk = make([]byte, keySize)
		iteratedS2K(dk, h, passphrase, sk.salt[:], s2kCount(sk.count))
		derived[sk] = dk
	}
	block, err := aes.NewCipher(dk)
	if err != nil {
		return nil, false
	}
	iv, enc := rest[13:29], rest[29:]
	data := make([]byte, len(enc))
	cipher.NewCFBDecrypter(block, iv).XORKeyStream(data, enc) // OpenPGP's secret key protection is CFB (RFC 4880, 5.5.3)
	material, sum := data[:len(data)-sha1Len], data[len(data)-sha1Len:]
	if want := sha1.Sum(material); !bytes.Equal(want[:], sum) {
		return nil, false
	}
	var check uint16
	for _, b := range material {
		check += uint16(b)
	}
	out := make([]byte, 0, len(pub)+1+len(material)+2)
	out = append(out, pub...)
	out = append(out, 0)
	out = append(out, material...)
	return binary.BigEndian.AppendUint16(out, check), true
}

// publicPart returns the public key at the start of the body of a version
// 4 secret key packet, as go-crypto reads it.
func publicPart(body []byte) ([]byte, bool) {
	if len(body) < 6 || body[0] != 4 {
		return nil, false
	}
	var in bytes.Buffer
	writePacketHeader(&in, 6, len(body))
	in.Write(body)
	p, err := packet.Read(&in)
	if err != nil {
		return nil, false
	}
	pk, ok := p.(*packet.PublicKey)
	if !ok {
		return nil, false
	}
	var out bytes.Buffer
	if err := pk.Serialize(&out); err != nil {
		return nil, false
	}
	_, hdr, pub, ok := nextPacket(out.Bytes())
	if !ok || hdr+len(pub) != out.Len() || !bytes.HasPrefix(body, pub) {
		return nil, false
	}
	return body[:len(pub)], true
}

// s2kHash is the hash an S2K specifier names (RFC 4880, 9.4).
func s2kHash(id byte) (func() hash.Hash, bool) {
	var h gocrypto.Hash
	switch id {
	case 2:
		h = gocrypto.SHA1
	case 8:
		h = gocrypto.SHA256
	case 9:
		h = gocrypto.SHA384
	case 10:
		h = gocrypto.SHA512
	case 11:
		h = gocrypto.SHA224
	default:
		return nil, false
	}
	if !h.Available() {
		return nil, false
	}
	return h.New, true
}

// s2kCount decodes the count octet of an iterated and salted S2K.
func s2kCount(c byte) int { return (16 + int(c&15)) << (uint32(c>>4) + 6) }

// s2kChunk is how much of the repeated salt and passphrase is written to
// the hash at a time.
const s2kChunk = 64 << 10

// iteratedS2K derives out from passphrase with the iterated and salted
// S2K (RFC 4880, 3.7.1.3): the salt and passphrase repeated until count
// octets are hashed, as many times as out needs a digest, the i-th
// preceded by i zero octets. It writes the same octets as go-crypto's
// s2k.Iterated, in large pieces.
func iteratedS2K(out []byte, newHash func() hash.Hash, passphrase, salt []byte, count int) {
	combined := append(append(make([]byte, 0, len(salt)+len(passphrase)), salt...), passphrase...)
	count = max(count, len(combined))
	chunk := bytes.Repeat(combined, max(1, s2kChunk/len(combined)))
	h := newHash()
	for i, done := 0, 0; done < len(out); i++ {
		h.Reset()
		h.Write(make([]byte, i))
		for left := count; left > 0; {
			n := min(left, len(chunk))
			h.Write(chunk[:n])
			left -= n
		}
		done += copy(out[done:], h.Sum(nil))
	}
}
