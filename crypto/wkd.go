package crypto

import (
	"crypto/sha1"
	"fmt"
	"net"
	"net/http"
	"path"
	"sort"
	"strings"
)

// zbase32 is the alphabet of z-base-32 (the human-oriented base-32 encoding
// the Web Key Directory names its files with).
const zbase32 = "ybndrfg8ejkmcpqxot1uwisza345h769"

// WKDHash returns the Web Key Directory name of an address's local part
// (draft-koch-openpgp-webkey-service §3.1): the SHA-1 of the local part
// with ASCII upper case mapped to lower case, in z-base-32 (32 characters).
func WKDHash(local string) string {
	lower := []byte(local)
	for i, c := range lower {
		if 'A' <= c && c <= 'Z' {
			lower[i] = c + 'a' - 'A'
		}
	}
	sum := sha1.Sum(lower)
	var b strings.Builder
	var acc, bits uint
	for _, c := range sum {
		acc = acc<<8 | uint(c)
		bits += 8
		for bits >= 5 {
			bits -= 5
			b.WriteByte(zbase32[acc>>bits&31])
		}
	}
	return b.String() // 160 bits: exactly 32 characters, nothing left over
}

// WKD is a Web Key Directory: for each domain, the keys of its addresses
// and the policy file. Its Files are the tree a web server serves; it is
// itself an http.Handler of both methods (advanced and direct).
type WKD struct {
	domains map[string]map[string][]byte // domain -> hash -> key
}

// NewWKD returns an empty directory.
func NewWKD() *WKD { return &WKD{domains: map[string]map[string][]byte{}} }

// Add publishes k for addr: the key with the user ID of addr alone. It
// fails when k has no user ID carrying addr.
func (w *WKD) Add(addr string, k *Key) error {
	local, domain, ok := strings.Cut(addr, "@")
	if !ok || local == "" || domain == "" || strings.ContainsAny(addr, "/\\ ") {
		return fmt.Errorf("crypto: wkd: %q is not an address", addr)
	}
	key, err := k.ExportFor(addr)
	if err != nil {
		return fmt.Errorf("crypto: wkd: %w", err)
	}
	domain = strings.ToLower(domain)
	if w.domains[domain] == nil {
		w.domains[domain] = map[string][]byte{}
	}
	w.domains[domain][WKDHash(local)] = key
	return nil
}

// Domains lists the domains the directory holds keys of, sorted.
func (w *WKD) Domains() []string {
	var ds []string
	for d := range w.domains {
		ds = append(ds, d)
	}
	sort.Strings(ds)
	return ds
}

// Files returns the directory as files, slash-separated paths relative to
// the web root: the advanced method's tree
// (.well-known/openpgpkey/DOMAIN/hu/HASH and its policy, served at
// openpgpkey.DOMAIN) for every domain, and, when the keys are all of one
// domain, the direct method's (.well-known/openpgpkey/hu/HASH and its
// policy, served at DOMAIN itself). The policy files are empty: no
// mailbox-only or protocol-version promises are made.
func (w *WKD) Files() map[string][]byte {
	files := map[string][]byte{}
	for d, keys := range w.domains {
		files[".well-known/openpgpkey/"+d+"/policy"] = []byte{}
		for h, k := range keys {
			files[".well-known/openpgpkey/"+d+"/hu/"+h] = k
		}
		if len(w.domains) == 1 {
			files[".well-known/openpgpkey/policy"] = []byte{}
			for h, k := range keys {
				files[".well-known/openpgpkey/hu/"+h] = k
			}
		}
	}
	return files
}

// ServeHTTP answers both methods' requests: the advanced method names the
// domain in the path; the direct method takes it from the Host the client
// asked for. Only GET and HEAD are answered; the key is served as
// application/octet-stream, readable from any origin (the draft asks for
// Access-Control-Allow-Origin: *).
func (w *WKD) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		rw.Header().Set("Allow", "GET, HEAD")
		http.Error(rw, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	p := path.Clean(r.URL.Path)
	rest, ok := strings.CutPrefix(p, "/.well-known/openpgpkey/")
	if !ok {
		http.NotFound(rw, r)
		return
	}
	parts := strings.Split(rest, "/")
	var domain string
	switch {
	case len(parts) == 3 && parts[1] == "hu", len(parts) == 2 && parts[1] == "policy":
		domain, parts = parts[0], parts[1:] // advanced
	case len(parts) == 2 && parts[0] == "hu", len(parts) == 1 && parts[0] == "policy":
		domain = r.Host // direct
		if h, _, err := net.SplitHostPort(domain); err == nil {
			domain = h
		}
	default:
		http.NotFound(rw, r)
		return
	}
	keys, ok := w.domains[strings.ToLower(domain)]
	if !ok {
		http.NotFound(rw, r)
		return
	}
	var body []byte
	if parts[0] == "hu" {
		if body, ok = keys[parts[1]]; !ok {
			http.NotFound(rw, r)
			return
		}
		rw.Header().Set("Content-Type", "application/octet-stream")
	} else {
		rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
	}
	rw.Header().Set("Access-Control-Allow-Origin", "*")
	rw.Header().Set("X-Content-Type-Options", "nosniff")
	rw.Write(body)
}
