package mailstack

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/secgate/secgate/distlist/smtpsink"
)

// TestRelayHost: with a relayhost, mail for a foreign domain waits in
// Postfix's queue while the next hop is down, with the reason; once the
// next hop listens and the queue is flushed it arrives there, once, and
// leaves the queue. Local mail is still delivered to its mailbox.
func TestRelayHost(t *testing.T) {
	t.Parallel()
	next := freeAddr(t)
	s := Start(t, Options{Users: []string{"gateway"}, RelayHost: next})
	from := s.Addr("gateway")
	s.Submit(t, "gateway", from, []string{"distro@elsewhere.example"}, message(from, "distro@elsewhere.example", "relayed"))
	s.Submit(t, "gateway", from, []string{from}, message(from, from, "local"))
	s.WaitMessages(t, "gateway", "INBOX", 1, 10*time.Second)

	var q []Queued
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		q = s.Queue(t)
		if len(q) == 1 && len(q[0].Recipients) == 1 && q[0].Recipients[0].DelayReason != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("queue %+v: want the relayed message deferred\n%s", q, s.Logs(20))
		}
	}
	if r := q[0].Recipients[0]; r.Address != "distro@elsewhere.example" || !strings.Contains(r.DelayReason, "refused") || q[0].Sender != from {
		t.Errorf("queued %+v, want distro@elsewhere.example from %s, deferred for a refused connection", q[0], from)
	}

	sink, err := smtpsink.Start(smtpsink.Options{Addr: next})
	if err != nil {
		t.Fatalf("the next hop cannot listen on %s: %v", next, err)
	}
	defer sink.Close()
	s.Flush(t)
	for deadline := time.Now().Add(20 * time.Second); sink.Len() < 1 || len(s.Queue(t)) > 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("after the flush: %d messages at the next hop, queue %+v\n%s", sink.Len(), s.Queue(t), s.Logs(20))
		}
	}
	msgs := sink.Messages()
	if len(msgs) != 1 || strings.Join(msgs[0].To, ",") != "distro@elsewhere.example" || msgs[0].From != from ||
		!strings.Contains(string(msgs[0].Data), "Subject: relayed") {
		t.Errorf("the next hop got %+v", msgs)
	}
	if n := len(s.Messages(t, "sink", "INBOX")); n != 0 {
		t.Errorf("the sink mailbox holds %d messages: foreign mail was captured, not relayed", n)
	}
}

func TestRelayHostLoopbackOnly(t *testing.T) {
	for _, o := range []Options{
		{RelayHost: "192.0.2.1:25"}, {RelayHost: "[::1]:25"}, {RelayHost: "mx.example.org:25"},
		{RelayHost: "127.0.0.1"}, {RelayHost: "127.0.0.1:0"}, {RelayHost: "127.0.0.1:25", RejectForeign: true},
	} {
		if err := checkRelayHost(o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
	if err := checkRelayHost(Options{RelayHost: "127.0.0.1:2525"}); err != nil {
		t.Error(err)
	}
	if got := relayHostLiteral("127.0.0.1:2525"); got != "[127.0.0.1]:2525" {
		t.Errorf("relayhost %q", got)
	}
}

// freeAddr returns a loopback host:port that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
