package mailstack

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// checkRelayHost accepts an empty RelayHost, or host:port with an IPv4
// loopback address as host (nothing a stack relays may leave the machine)
// when foreign recipients are not refused.
func checkRelayHost(opts Options) error {
	if opts.RelayHost == "" {
		return nil
	}
	if opts.RejectForeign {
		return errors.New("RelayHost and RejectForeign exclude each other")
	}
	host, port, err := net.SplitHostPort(opts.RelayHost)
	if err != nil {
		return fmt.Errorf("RelayHost %q: %w", opts.RelayHost, err)
	}
	if ip := net.ParseIP(host); ip == nil || ip.To4() == nil || !ip.IsLoopback() {
		return fmt.Errorf("RelayHost %q: want an IPv4 loopback address (nothing may leave the machine)", opts.RelayHost)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("RelayHost %q: bad port", opts.RelayHost)
	}
	return nil
}

// relayHostLiteral is Postfix's relayhost for host:port: the host in
// brackets, so that Postfix connects to it without an MX lookup.
func relayHostLiteral(hostport string) string {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return ""
	}
	return "[" + host + "]:" + port
}

// Queued is one message in Postfix's queue.
type Queued struct {
	ID         string `json:"queue_id"`
	Queue      string `json:"queue_name"` // maildrop, incoming, active, deferred or hold
	Sender     string `json:"sender"`
	Recipients []struct {
		Address     string `json:"address"`
		DelayReason string `json:"delay_reason"` // why the last attempt failed; "" before one
	} `json:"recipients"`
}

// Queue lists the messages in Postfix's queue (postqueue -j): with
// Options.RelayHost, the mail waiting for the next hop.
func (s *Stack) Queue(t testing.TB) []Queued {
	t.Helper()
	out, err := s.postqueue("-j")
	if err != nil {
		t.Fatalf("mailstack: %v", err)
	}
	var q []Queued
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var m Queued
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("mailstack: postqueue -j: %v in %q", err, sc.Text())
		}
		q = append(q, m)
	}
	return q
}

// Flush asks Postfix to attempt delivery of every queued message now
// (postqueue -f), as an operator does once the next hop is back.
func (s *Stack) Flush(t testing.TB) {
	t.Helper()
	if _, err := s.postqueue("-f"); err != nil {
		t.Fatalf("mailstack: %v", err)
	}
}

// postqueue runs Postfix's postqueue on the stack's instance.
func (s *Stack) postqueue(arg string) ([]byte, error) {
	cmd := exec.Command("/usr/sbin/postqueue", "-c", filepath.Join(s.Dir, "postfix"), arg)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("postqueue %s: %v: %s", arg, err, bytes.TrimSpace(stderr.Bytes()))
	}
	return out, nil
}
