package mailstack_test

import (
	"testing"
	"time"

	"github.com/secgate/secgate/internal/mailstack"
)

// A test starts its own stack, sends through it and reads what arrived.
func ExampleStart() {
	var t *testing.T // the test's t
	s := mailstack.Start(t, mailstack.Options{Users: []string{"security", "gateway"}})

	// A reporter's MTA delivers to the public MX.
	raw := []byte("From: <reporter@elsewhere.example>\r\nSubject: bug\r\n\r\ndetails\r\n")
	s.Send(t, "reporter@elsewhere.example", []string{s.Addr("security")}, raw)
	inbox := s.WaitMessages(t, "security", "INBOX", 1, 10*time.Second)
	_ = inbox

	// The gateway submits with AUTH; mail to other domains is captured.
	s.Submit(t, "gateway", s.Addr("security"), []string{"reporter@elsewhere.example"}, raw)
	sent := s.WaitMessages(t, s.SinkUser, "INBOX", 1, 10*time.Second)
	_ = sent
}
