package intake

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/secgate/secgate/crypto"
	"github.com/secgate/secgate/internal/gpgtest"
)

// brokenPlainRest is the team key at rest whose readers of a big
// report's spooled plaintext (the values that start with its root's
// header) fail once they have given a MiB: the database failing while
// the plaintext is read back and decoded.
type brokenPlainRest struct {
	*crypto.Key
	root   []byte
	failed atomic.Int64
	// rawFails: the stored message cannot be read back whole either.
	rawFails bool
}

func (k *brokenPlainRest) OpenAtRest(open func() io.Reader, size int64) ([]byte, error) {
	if k.rawFails {
		k.failed.Add(1)
		return nil, errors.New("disk I/O error")
	}
	return k.Key.OpenAtRest(open, size)
}

func (k *brokenPlainRest) ReadAtRest(r io.Reader) (io.Reader, error) {
	pr, err := k.Key.ReadAtRest(r)
	if err != nil {
		return nil, err
	}
	br := bufio.NewReader(pr)
	if head, _ := br.Peek(len(k.root)); !bytes.Equal(head, k.root) {
		return br, nil
	}
	return &failAfter{r: br, left: 1 << 20, failed: &k.failed}, nil
}

// failAfter fails once it has given left bytes.
type failAfter struct {
	r      io.Reader
	left   int64
	failed *atomic.Int64
}

func (f *failAfter) Read(p []byte) (int, error) {
	if f.left <= 0 {
		f.failed.Add(1)
		return 0, errors.New("disk I/O error")
	}
	n, err := f.r.Read(p[:min(int64(len(p)), f.left)])
	f.left -= int64(n)
	return n, err
}

// TestRealStackBigReportReadBackFails: when the pieces of a big report's
// plaintext cannot be read back part way through decoding its text and
// attachments, the store failed and not the message: it is tried again,
// then held with that reason (class error), never judged as not MIME; no
// case, no team copy, no piece left.
func TestRealStackBigReportReadBackFails(t *testing.T) {
	if testing.Short() {
		t.Skip("real mail stack")
	}
	g := startGateway(t)
	rest := &brokenPlainRest{Key: g.team, root: []byte("Content-Type: multipart/mixed; boundary=\"in\"\r\n")}
	g.proc.o.AtRest = rest
	ctx, cancel := context.WithCancel(g.ctx)
	done := g.runPoller(ctx, nil)
	defer func() { cancel(); <-done }()

	att := make([]byte, 3<<20)
	rand.Read(att)
	g.send(g.bigReport(t, att, "big-readback@outside.example"))
	g.stack.WaitMessages(t, "security", "Quarantine", 1, 120*time.Second)
	row := g.inbound("big-readback@outside.example")
	if row.state != StateQuarantined || row.class != ClassError || !strings.Contains(row.reason, "spool: disk I/O error") {
		t.Errorf("inbound %s, %s (%s); want held as an error of the spool", row.state, row.class, row.reason)
	}
	if n := rest.failed.Load(); n < 2 {
		t.Errorf("the plaintext's pieces failed to read %d times, want 2 or more (tried again)", n)
	}
	if len(g.cases()) != 0 {
		t.Errorf("%d cases opened", len(g.cases()))
	}
	var copies int
	if err := g.db.Reader().QueryRow(`SELECT count(*) FROM outbox WHERE kind = 'team-copy'`).Scan(&copies); err != nil {
		t.Fatal(err)
	}
	if copies != 0 {
		t.Errorf("%d team copies", copies)
	}
	if n := g.partPieces(t); n != 0 {
		t.Errorf("%d spooled pieces left", n)
	}
}

// TestRealStackBigSignedReportReadBackFails: a big report whose plaintext
// is a multipart/signed (the form the gateway's own mail takes), whose
// plaintext's pieces fail to read back while its parts are found, is
// opened again whole; when its stored copy cannot be read whole either,
// it is tried again, then held with the store's failure as its reason
// (class error), not judged as a message that cannot be opened.
func TestRealStackBigSignedReportReadBackFails(t *testing.T) {
	if testing.Short() {
		t.Skip("real mail stack")
	}
	g := startGateway(t)
	rest := &brokenPlainRest{Key: g.team, root: []byte("Content-Type: multipart/signed;"), rawFails: true}
	g.proc.o.AtRest = rest
	ctx, cancel := context.WithCancel(g.ctx)
	done := g.runPoller(ctx, nil)
	defer func() { cancel(); <-done }()

	att := make([]byte, 3<<20)
	rand.Read(att)
	entity := []byte(bigEntity(att))
	sig := g.reporter.Sign(entity, g.repFpr, gpgtest.Detached)
	plain := fmt.Sprintf("Content-Type: multipart/signed; micalg=pgp-sha256; protocol=\"application/pgp-signature\"; boundary=\"sig\"\r\n\r\n"+
		"--sig\r\n%s\r\n--sig\r\nContent-Type: application/pgp-signature\r\n\r\n%s\r\n--sig--\r\n", entity, gpgtest.CRLF(sig))
	armored := g.reporter.Encrypt([]byte(plain), g.team.Fingerprint(), "")
	g.send(gpgtest.CRLF([]byte(fmt.Sprintf("From: Reporter <%s>\nTo: %s\nSubject: ...\nDate: %s\nMessage-ID: <big-signed-readback@outside.example>\nMIME-Version: 1.0\n"+
		"Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=\"enc\"\n\n"+
		"--enc\nContent-Type: application/pgp-encrypted\n\nVersion: 1\n\n--enc\nContent-Type: application/octet-stream; name=\"encrypted.asc\"\n\n%s\n--enc--\n",
		g.repAddr, g.stack.Addr("security"), time.Now().Format(time.RFC1123Z), armored))))
	g.stack.WaitMessages(t, "security", "Quarantine", 1, 120*time.Second)
	row := g.inbound("big-signed-readback@outside.example")
	if row.state != StateQuarantined || row.class != ClassError || !strings.Contains(row.reason, "disk I/O error") {
		t.Errorf("inbound %s, %s (%s); want held as an error of the store", row.state, row.class, row.reason)
	}
	if n := rest.failed.Load(); n < 2 {
		t.Errorf("the stored pieces failed to read %d times, want 2 or more (tried again)", n)
	}
	if len(g.cases()) != 0 {
		t.Errorf("%d cases opened", len(g.cases()))
	}
	if n := g.partPieces(t); n != 0 {
		t.Errorf("%d spooled pieces left", n)
	}
}

// TestReopenStoreFails: when the key that signed a message came inside it
// and opening the message again to verify with that key fails because the
// store did, the message is not judged on the first opening (its
// signature unverified): the store's failure is returned, to try again.
func TestReopenStoreFails(t *testing.T) {
	now := time.Now()
	team, err := crypto.GenerateKey("Security Team", "security@example.test", crypto.GenerateOptions{Created: now.Add(-time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := crypto.GenerateKey("Reporter", "reporter@outside.example", crypto.GenerateOptions{Created: now.Add(-time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	pub, err := rep.ArmorPublic()
	if err != nil {
		t.Fatal(err)
	}
	entity := "Content-Type: multipart/mixed; boundary=\"in\"\r\n\r\n--in\r\nContent-Type: text/plain\r\n\r\nthe report\r\n" +
		"--in\r\nContent-Type: application/pgp-keys; name=\"key.asc\"\r\nContent-Disposition: attachment; filename=\"key.asc\"\r\n\r\n" +
		strings.ReplaceAll(pub, "\n", "\r\n") + "\r\n--in--\r\n"
	c := &CryptoOpener{TeamKey: team}
	for name, reopenErr := range map[string]error{
		"spool":          fmt.Errorf("crypto: open: %w", crypto.ErrSpool),
		"stored message": fmt.Errorf("%w: disk I/O error", errStoredRead),
	} {
		native := &crypto.Opened{Encrypted: true, Entity: []byte(entity), Signature: &crypto.Signature{Err: crypto.ErrUnknownSigner}}
		reopened := 0
		_, err := c.opened(native, nil, c.keys(nil, nil, now), func(crypto.OpenOptions) (*crypto.Opened, error) {
			reopened++
			return nil, reopenErr
		})
		if reopened != 1 || !spoolFailed(err) {
			t.Errorf("%s: opened again %d times, %v; want once, and the store's failure", name, reopened, err)
		}
	}
}
