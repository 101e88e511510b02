// Package certpool reads a PEM file of CA certificates into a pool: the
// CAs the SMTP client trusts instead of the system roots ([smtp] ca_file)
// and the CA of the members' client certificates of the web view ([web]
// client_ca).
package certpool

import (
	"crypto/x509"
	"fmt"
	"os"
)

// Load reads the PEM certificates in the file at path. A file that holds
// none is an error: a pool trusting nothing would refuse every peer with
// a message that names neither the file nor the cause.
func Load(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s: no PEM certificate", path)
	}
	return pool, nil
}
