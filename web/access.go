package web

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"

	"github.com/secgate/secgate/distlist"
	"github.com/secgate/secgate/internal/certpool"
)

// Access is who may reach the view. With ClientCA every connection must
// present a client certificate that CA signed (a member's, or the
// certificate of a reverse proxy that authenticates the members itself),
// over TLS with TLSCert and TLSKey; the TLS handshake refuses any other
// connection before a request is read. Without ClientCA the view is
// served on a loopback address only (TLS too when TLSCert is set).
type Access struct {
	TLSCert  string // PEM certificate (chain) of the view
	TLSKey   string // its PEM private key
	ClientCA string // PEM certificates of the CA(s) that sign the members' (and the proxy's) certificates
}

// Check says what is wrong with serving on addr with a: a non-loopback
// address without client certificates, a client CA without the view's own
// certificate, a certificate without its key.
func (a Access) Check(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not host:port", addr)
	}
	switch {
	case (a.TLSCert == "") != (a.TLSKey == ""):
		return errors.New("tls_cert and tls_key go together")
	case a.ClientCA != "" && a.TLSCert == "":
		return errors.New("client_ca needs tls_cert and tls_key: client certificates are asked for over TLS")
	case a.ClientCA == "" && !distlist.IsLoopback(host):
		return fmt.Errorf("%q is not a loopback address: the view is served elsewhere only to client certificates (set client_ca, tls_cert and tls_key)", host)
	}
	return nil
}

// TLSConfig returns the TLS configuration of a, nil when a has no
// certificate (plain HTTP on loopback).
func (a Access) TLSConfig() (*tls.Config, error) {
	if a.TLSCert == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(a.TLSCert, a.TLSKey)
	if err != nil {
		return nil, fmt.Errorf("tls_cert %s, tls_key %s: %w", a.TLSCert, a.TLSKey, err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if a.ClientCA != "" {
		pool, err := certpool.Load(a.ClientCA)
		if err != nil {
			return nil, fmt.Errorf("client_ca: %w", err)
		}
		cfg.ClientCAs, cfg.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}

// Listener returns ln as a carries it: TLS (asking for client
// certificates when a has a client CA), or ln itself.
func (a Access) Listener(ln net.Listener) (net.Listener, error) {
	cfg, err := a.TLSConfig()
	if err != nil || cfg == nil {
		return ln, err
	}
	return tls.NewListener(ln, cfg), nil
}
