package distlist

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/secgate/secgate/crypto"
)

// KeyLookup finds the key an address's holder publishes.
type KeyLookup interface {
	// Lookup returns the published key of addr (binary or armored), or
	// an error wrapping ErrNotFound when none is published.
	Lookup(ctx context.Context, addr string) ([]byte, error)
}

// maxPublishedKey bounds a key fetched from a Web Key Directory.
const maxPublishedKey = 1 << 20

// WKD looks keys up in the Web Key Directory of the address's domain over
// HTTPS: the advanced method (https://openpgpkey.DOMAIN/...) and, as gpg
// does, the direct method (https://DOMAIN/...) only when the advanced
// method's host does not exist.
type WKD struct {
	// Client makes the requests; nil: a client with a 20 s timeout that
	// follows redirects to HTTPS only.
	Client *http.Client
}

// Lookup implements KeyLookup.
func (w WKD) Lookup(ctx context.Context, addr string) ([]byte, error) {
	addr, err := CanonicalAddress(addr)
	if err != nil {
		return nil, err
	}
	local, domain, _ := strings.Cut(addr, "@")
	hash, l := crypto.WKDHash(local), url.QueryEscape(local)
	key, err := w.get(ctx, "https://openpgpkey."+domain+"/.well-known/openpgpkey/"+domain+"/hu/"+hash+"?l="+l)
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
		key, err = w.get(ctx, "https://"+domain+"/.well-known/openpgpkey/hu/"+hash+"?l="+l)
	}
	if err != nil {
		return nil, fmt.Errorf("distlist: wkd %s: %w", addr, err)
	}
	return key, nil
}

func (w WKD) get(ctx context.Context, u string) ([]byte, error) {
	c := w.Client
	if c == nil {
		c = &http.Client{Timeout: 20 * time.Second, CheckRedirect: func(r *http.Request, via []*http.Request) error {
			if r.URL.Scheme != "https" || len(via) >= 5 {
				return errors.New("redirect refused: only up to 5, to https")
			}
			return nil
		}}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return nil, fmt.Errorf("%w: no key at %s", ErrNotFound, u)
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("%s: %s", u, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxPublishedKey+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", u, err)
	}
	if len(body) > maxPublishedKey {
		return nil, fmt.Errorf("%s: more than %d bytes", u, maxPublishedKey)
	}
	return body, nil
}
