package intake

import (
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/secgate/secgate/distlist"
)

// TLS modes of Config.TLS.
const (
	TLSImplicit      = "tls"            // implicit TLS (port 993)
	TLSStartTLS      = "starttls"       // STARTTLS on the plain port (143)
	TLSPlainLoopback = "plain-loopback" // no TLS; refused unless the address is a loopback address
)

// Config configures the IMAP poller and the intake limits.
type Config struct {
	Address      string `toml:"-"` // from secgate's [imap] section
	User         string `toml:"-"` // from secgate's [imap] section
	PasswordFile string `toml:"-"` // from secgate's [imap] section
	TLS          string `toml:"-"` // from secgate's [imap] section
	ServerName   string `toml:"-"` // from secgate's [imap] section
	// Push asks the server for push notifications (Dovecot's
	// push_notification plugin) at login; from secgate's [imap] push_listen.
	Push bool `toml:"-"`

	Mailbox    string `toml:"mailbox" doc:"Mailbox watched for new mail."`
	Processed  string `toml:"processed" doc:"Folder that handled messages are moved to; created if missing."`
	Quarantine string `toml:"quarantine" doc:"Folder that quarantined messages are moved to; created if missing."`

	IdleRefresh  time.Duration `toml:"idle_refresh" doc:"How often IDLE is ended with a NOOP and restarted, to detect dead connections."`
	PollInterval time.Duration `toml:"poll_interval" doc:"Polling interval used only when the server does not support IDLE."`
	BackoffMin   time.Duration `toml:"backoff_min" doc:"First wait before reconnecting after a dropped connection."`
	BackoffMax   time.Duration `toml:"backoff_max" doc:"Longest wait between reconnection attempts (the wait doubles with jitter up to this)."`
	FetchBatch   int           `toml:"fetch_batch" doc:"Maximum number of messages fetched and stored in one transaction (the first batch of a burst takes at most 32, so that processing begins at once)."`
	FetchBytes   int64         `toml:"fetch_bytes" doc:"Maximum size in bytes of the messages in memory at once: those fetched together, and the next batch fetched while one is processed (one bigger message is fetched alone), so a burst of big reports is not held in memory at once."`

	MaxSize        int64 `toml:"max_size" doc:"Largest message accepted, in bytes; larger ones are quarantined."`
	MaxDepth       int   `toml:"max_depth" doc:"Deepest MIME nesting accepted; deeper messages are quarantined."`
	MaxParts       int   `toml:"max_parts" doc:"Largest number of MIME parts accepted."`
	MaxAttachments int   `toml:"max_attachments" doc:"Largest number of attachments accepted."`

	RateLimit  int           `toml:"rate_limit" doc:"Messages accepted from one sender per rate window; more are quarantined."`
	RateWindow time.Duration `toml:"rate_window" doc:"Window of the per-sender rate limit."`
	AnswerOnce time.Duration `toml:"answer_once" doc:"A sender gets at most one polite answer of each kind (limits, unknown key) in this period."`
	// NewCasesPerDay is the loop brake of RFC 3834's spirit: an
	// auto-responder that answers every acknowledgement with a new subject
	// would open a case and get an acknowledgement each time.
	NewCasesPerDay int `toml:"new_cases_per_day" doc:"New cases one sender may open within 24 hours; further new reports from that address are held in quarantine for the team (who are alerted once a day) and not acknowledged, which breaks a loop with an auto-responder. Follow-ups to existing cases are not counted."`

	// Applications to the embargo lists (/apply LIST, apply.go).
	ApplicationsPerDay    int `toml:"applications_per_day" doc:"Applications to the embargo lists (/apply LIST) sent to the team within 24 hours, from everyone together; further ones are held in quarantine unanswered, and the team is alerted once a day, so that a flood reaches the team as one alert."`
	ApplicationsPerSender int `toml:"applications_per_sender" doc:"Applications one sender may make within 24 hours, taken or refused; further ones are held in quarantine unanswered."`

	OwnLists []string `toml:"own_lists" doc:"List-Ids of the mailing lists or groups that deliver the security address's own mail to the mailbox (when security@ is a Google Group, groups.io or Mailman list: its List-Id, such as security.example.org). Their mail is handled as mail sent to us directly. Mail from any other list (List-Id, List-Unsubscribe, List-Post, Precedence: list or bulk) is never answered and is held in quarantine, so that a report it forwarded is not lost."`
}

// DefaultConfig returns the defaults; Address, User and PasswordFile must
// still be set.
func DefaultConfig() Config {
	return Config{}.WithDefaults()
}

// WithDefaults fills every zero field with its default.
func (c Config) WithDefaults() Config {
	set := func(p *string, v string) {
		if *p == "" {
			*p = v
		}
	}
	setD := func(p *time.Duration, v time.Duration) {
		if *p == 0 {
			*p = v
		}
	}
	setI := func(p *int, v int) {
		if *p == 0 {
			*p = v
		}
	}
	set(&c.TLS, TLSImplicit)
	set(&c.Mailbox, "INBOX")
	set(&c.Processed, "Processed")
	set(&c.Quarantine, "Quarantine")
	setD(&c.IdleRefresh, 5*time.Minute)
	setD(&c.PollInterval, 30*time.Second)
	setD(&c.BackoffMin, time.Second)
	setD(&c.BackoffMax, 5*time.Minute)
	setD(&c.RateWindow, time.Hour)
	setD(&c.AnswerOnce, 24*time.Hour)
	setI(&c.FetchBatch, 250)
	if c.FetchBytes == 0 {
		c.FetchBytes = 32 << 20
	}
	setI(&c.MaxDepth, 8)
	setI(&c.MaxParts, 64)
	setI(&c.MaxAttachments, 16)
	setI(&c.RateLimit, 20)
	setI(&c.NewCasesPerDay, 5)
	setI(&c.ApplicationsPerDay, 10)
	setI(&c.ApplicationsPerSender, 3)
	if c.MaxSize == 0 {
		c.MaxSize = 25 << 20
	}
	if c.OwnLists != nil {
		own := make([]string, len(c.OwnLists))
		for i, l := range c.OwnLists {
			own[i] = listID(l)
		}
		c.OwnLists = own
	}
	return c
}

// Check reports the first problem of a configuration (after WithDefaults).
func (c Config) Check() error {
	if c.Address == "" {
		return errors.New("intake: address is required")
	}
	host, _, err := net.SplitHostPort(c.Address)
	if err != nil {
		return fmt.Errorf("intake: address %q: %w", c.Address, err)
	}
	if c.User == "" {
		return errors.New("intake: user is required")
	}
	switch c.TLS {
	case TLSImplicit, TLSStartTLS:
	case TLSPlainLoopback:
		if !distlist.IsLoopback(host) {
			return fmt.Errorf("intake: tls = %q is only allowed on a loopback address, not %q", c.TLS, host)
		}
	default:
		return fmt.Errorf("intake: tls = %q: want tls, starttls or plain-loopback", c.TLS)
	}
	if c.Processed == c.Mailbox || c.Quarantine == c.Mailbox || c.Processed == c.Quarantine {
		return errors.New("intake: mailbox, processed and quarantine must be three different folders")
	}
	if c.BackoffMin <= 0 || c.BackoffMax < c.BackoffMin {
		return errors.New("intake: backoff_min must be positive and not above backoff_max")
	}
	if c.MaxSize <= 0 || c.MaxDepth <= 0 || c.MaxParts <= 0 || c.MaxAttachments < 0 || c.RateLimit <= 0 || c.NewCasesPerDay <= 0 {
		return errors.New("intake: limits must be positive")
	}
	if c.FetchBatch <= 0 || c.FetchBytes <= 0 {
		return errors.New("intake: fetch_batch and fetch_bytes must be positive")
	}
	for i, l := range c.OwnLists {
		if l == "" {
			return fmt.Errorf("intake: own_lists[%d] is empty: want a List-Id such as security.example.org", i)
		}
	}
	return nil
}
