package distlist

import (
	"errors"
	"fmt"
	"net"
	"net/mail"
	"strings"
	"time"
)

// Config is the [distlist] section of secgate's configuration: the team,
// the lists, and how the outbox sends.
type Config struct {
	From            string         `toml:"from" doc:"Address the gateway sends from (the team address); also the outer From of every message."`
	Bounce          string         `toml:"bounce" doc:"Base envelope sender; each message uses local+TOKEN@domain of it (VERP), so bounces map back to their row. Defaults to From."`
	MessageIDDomain string         `toml:"message_id_domain" doc:"Domain of generated Message-IDs; defaults to the domain of From."`
	Members         []MemberConfig `toml:"member" doc:"Security team members."`
	Lists           []ListConfig   `toml:"list" doc:"Distribution lists: the team list, embargo lists of distributors and public announcement lists."`
	SMTP            SMTPConfig     `toml:"-"` // from secgate's [smtp] section
	RetryBase       time.Duration  `toml:"retry_base" doc:"Delay before the first retry of a temporary failure; doubled for each further attempt, with jitter."`
	RetryMax        time.Duration  `toml:"retry_max" doc:"Longest delay between two attempts."`
	MaxAttempts     int            `toml:"max_attempts" doc:"Attempts after which a temporarily failing message fails for good."`
	BounceFlagAfter int            `toml:"bounce_flag_after" doc:"Hard bounces after which an address is flagged for the team."`
	KeyWarning      time.Duration  `toml:"key_warning" doc:"The weekly key report lists keys that expire within this time."`
	KeyRefresh      bool           `toml:"key_refresh" doc:"Before the weekly key report, and before the notices to the distributors (when one is due within a day), look up every member's and recipient's key in the Web Key Directory of their address's domain (HTTPS): a later state of the same key (new expiry, new subkeys, a revocation) replaces the one on file; a different key is reported, never used."`
	BaseDir         string         `toml:"-"`
}

// MemberConfig is one team member in the configuration.
type MemberConfig struct {
	Name          string `toml:"name" doc:"Display name of the member."`
	Address       string `toml:"address" doc:"Mail address of the member."`
	KeyFile       string `toml:"key_file" doc:"File with the member's armored public key; relative paths are relative to the configuration file. Required unless wkd is set."`
	Role          string `toml:"role" doc:"member, or lead for members who may lead a case fix."`
	Rota          int    `toml:"rota" doc:"Position of the member in the fix-lead rota (lower first)."`
	Away          bool   `toml:"away" doc:"The member is away and is skipped by the rota."`
	TZ            string `toml:"tz" doc:"IANA time zone of the member, for reminders (default UTC)."`
	AllowMismatch bool   `toml:"allow_mismatch" doc:"Accept a key none of whose user IDs carries the member's address."`
	WKD           bool   `toml:"wkd" doc:"Instead of key_file: the gateway looks the member's key up in the Web Key Directory of the address's domain (HTTPS) and makes them a member once the key published is the one fingerprint names; another key is reported to the team and never used."`
	Fingerprint   string `toml:"fingerprint" doc:"With wkd: the fingerprint of the member's key, checked with the member."`
}

// ListConfig is one distribution list in the configuration.
type ListConfig struct {
	Name string `toml:"name" doc:"Name of the list, as used in commands (e.g. embargo, announce)."`
	Kind string `toml:"kind" doc:"team, embargo (encrypted to each recipient) or public (signed, not encrypted)."`
	// The rules of an embargo list (issue #18); see Rules.
	MaxEmbargo       time.Duration     `toml:"max_embargo" doc:"Embargo list: the longest time between its embargo notice and public disclosure it accepts, e.g. \"336h\" (14 days, a linux-distros style list); the list is never told earlier than disclosure minus this, by the plan or by /notify, forced or not (0: the policy's maximum)."`
	NoticeBefore     time.Duration     `toml:"notice_before" doc:"Embargo list: the plan tells it this long before public disclosure, or at once when that has passed (0: as early as max_embargo and the policy allow); at most max_embargo."`
	PreReleaseNotice *bool             `toml:"pre_release_notice" doc:"Embargo list: whether it gets the pre-release notice of the policy (default true)." example:"true"`
	RequireCVE       bool              `toml:"require_cve" doc:"Embargo list: it is told only of a vulnerability with a CVE ID; a plan that names it needs /cve first."`
	SubjectTag       string            `toml:"subject_tag" doc:"Embargo list: a tag prefixed to the Subject of its notices, e.g. \"[vs]\" (inside the encryption, as the Subject is)."`
	Recipients       []RecipientConfig `toml:"recipient" doc:"The people or organisations on the list."`
	// Applications by mail (/apply LIST); see application.go.
	Applications bool     `toml:"applications" doc:"The list takes applications by mail (/apply LIST, embargo lists only): a distributor's application reaches the team, which approves or denies it with a signed /list approve or /list deny. Default false: /apply names the list as not taking applications."`
	Criteria     []string `toml:"criteria" doc:"What an applicant to the list is asked to show, one item each, sent to the team as a checklist with every application. Empty: which distribution, its user base, its track record of fixing security issues, acceptance of the embargo policy, and the ability to handle OpenPGP mail (after the Kubernetes distributors list)."`
}

// RecipientConfig is one entry of a list in the configuration.
type RecipientConfig struct {
	Name          string `toml:"name" doc:"Display name of the recipient."`
	Address       string `toml:"address" doc:"Mail address of the recipient."`
	KeyFile       string `toml:"key_file" doc:"File with the recipient's armored public key (required on encrypted lists, unless wkd is set)."`
	AllowMismatch bool   `toml:"allow_mismatch" doc:"Accept a key none of whose user IDs carries the recipient's address."`
	WKD           bool   `toml:"wkd" doc:"Instead of key_file: the gateway looks the key up in the Web Key Directory of the address's domain (HTTPS) and adds the entry when the key published is the one fingerprint names; another key is reported to the team and never used. Every member is told the outcome."`
	Fingerprint   string `toml:"fingerprint" doc:"With wkd: the fingerprint of the recipient's key, checked with its holder (secgate list add -wkd LIST ADDRESS shows what is published)."`
}

// TLS modes of SMTPConfig (the same names as secgate's [smtp] section).
const (
	TLSStartTLS = "starttls"
	TLSImplicit = "tls"
	TLSNone     = "plain-loopback" // no TLS; only to a loopback address ("none" is accepted too)
)

// SMTPConfig says how to reach the submission server.
type SMTPConfig struct {
	Addr              string        `toml:"addr" doc:"host:port of the submission server."`
	User              string        `toml:"user" doc:"User name for AUTH PLAIN; empty: no authentication."`
	Password          string        `toml:"password" doc:"Password for AUTH PLAIN (cmd/secgate may read it from password_file)."`
	TLS               string        `toml:"tls" doc:"starttls, tls (implicit TLS, port 465) or plain-loopback (no TLS, only allowed to a loopback address)."`
	CAFile            string        `toml:"ca_file" doc:"PEM file of CA certificates to trust instead of the system roots."`
	ServerName        string        `toml:"server_name" doc:"Name expected in the server certificate; defaults to the host of addr."`
	Parallel          int           `toml:"parallel" doc:"Number of SMTP connections used in parallel, each reused for many messages."`
	DialTimeout       time.Duration `toml:"dial_timeout" doc:"Time allowed to connect and finish the TLS handshake."`
	CommandTimeout    time.Duration `toml:"command_timeout" doc:"Time allowed for each SMTP command reply."`
	SubmissionTimeout time.Duration `toml:"submission_timeout" doc:"Time allowed for the reply after the message data."`
	EHLO              string        `toml:"ehlo" doc:"Name the client gives in EHLO; defaults to the domain of from."`
}

// WithDefaults returns c with every unset field at its default.
func (c Config) WithDefaults() Config {
	if c.Bounce == "" {
		c.Bounce = c.From
	}
	if c.MessageIDDomain == "" {
		c.MessageIDDomain = domainOf(c.From)
	}
	if c.RetryBase == 0 {
		c.RetryBase = time.Minute
	}
	if c.RetryMax == 0 {
		c.RetryMax = 12 * time.Hour
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = 10
	}
	if c.BounceFlagAfter == 0 {
		c.BounceFlagAfter = 3
	}
	if c.KeyWarning == 0 {
		c.KeyWarning = 30 * 24 * time.Hour
	}
	c.SMTP = c.SMTP.WithDefaults(domainOf(c.From))
	return c
}

// WithDefaults returns c with every unset field at its default; ehlo is the
// default EHLO name.
func (c SMTPConfig) WithDefaults(ehlo string) SMTPConfig {
	if c.TLS == "" {
		c.TLS = TLSStartTLS
	}
	if c.Parallel == 0 {
		c.Parallel = 4
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = 30 * time.Second
	}
	if c.CommandTimeout == 0 {
		c.CommandTimeout = time.Minute
	}
	if c.SubmissionTimeout == 0 {
		c.SubmissionTimeout = 5 * time.Minute
	}
	if c.EHLO == "" {
		c.EHLO = ehlo // may stay empty: "localhost" is used then
	}
	return c
}

// Validate reports the first problem of a defaulted Config.
func (c Config) Validate() error {
	if _, err := CanonicalAddress(c.From); err != nil {
		return fmt.Errorf("distlist: config: from %q is not a mail address", c.From)
	}
	// VERP adds +TOKEN to the bounce address's local part: it must be a
	// plain one, not quoted.
	if a, err := CanonicalAddress(c.Bounce); err != nil || strings.HasPrefix(a, `"`) {
		return fmt.Errorf("distlist: config: bounce %q is not a mail address with a plain local part", c.Bounce)
	}
	if c.RetryBase <= 0 || c.RetryMax < c.RetryBase {
		return errors.New("distlist: config: need 0 < retry_base <= retry_max")
	}
	if c.MaxAttempts < 1 {
		return errors.New("distlist: config: max_attempts must be at least 1")
	}
	for _, l := range c.Lists {
		if _, err := kindEncrypts(l.Kind); err != nil {
			return fmt.Errorf("distlist: config: list %q: %w", l.Name, err)
		}
		if err := l.CheckRules(); err != nil {
			return fmt.Errorf("distlist: config: %w", err)
		}
		if err := l.checkApplications(); err != nil {
			return fmt.Errorf("distlist: config: list %q: %w", l.Name, err)
		}
	}
	return c.SMTP.Validate()
}

// Validate reports the first problem of a defaulted SMTPConfig.
func (c SMTPConfig) Validate() error {
	host, _, err := net.SplitHostPort(c.Addr)
	if err != nil {
		return fmt.Errorf("distlist: smtp: addr %q: %w", c.Addr, err)
	}
	switch c.TLS {
	case TLSStartTLS, TLSImplicit:
	case TLSNone, "none":
		if !IsLoopback(host) {
			return fmt.Errorf("distlist: smtp: tls = %s is only allowed to a loopback address, not %q", c.TLS, host)
		}
	default:
		return fmt.Errorf("distlist: smtp: tls %q: want starttls, tls or plain-loopback", c.TLS)
	}
	if c.Parallel < 1 || c.Parallel > 64 {
		return fmt.Errorf("distlist: smtp: parallel %d: want 1..64", c.Parallel)
	}
	if c.DialTimeout <= 0 || c.CommandTimeout <= 0 || c.SubmissionTimeout <= 0 {
		return errors.New("distlist: smtp: timeouts must be positive")
	}
	return nil
}

// IsLoopback reports whether host names this machine's loopback interface:
// the only place where secgate talks IMAP or SMTP without TLS.
func IsLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func domainOf(addr string) string {
	if a, err := mail.ParseAddress(addr); err == nil {
		addr = a.Address
	}
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		return addr[i+1:]
	}
	return ""
}

// kindEncrypts reports whether a list kind requires encryption.
func kindEncrypts(kind string) (bool, error) {
	switch kind {
	case KindTeam, KindEmbargo:
		return true, nil
	case KindPublic:
		return false, nil
	}
	return false, fmt.Errorf("list kind %q: want team, embargo or public", kind)
}
