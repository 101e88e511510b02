package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/secgate/secgate/cases"
	"github.com/secgate/secgate/distlist"
	"github.com/secgate/secgate/intake"
	"github.com/secgate/secgate/schedule"
	"github.com/secgate/secgate/templates"
)

// Config is the schema of secgate's one configuration file. Every field has
// a `toml` tag (its key) and a `doc` tag (one sentence for the generated
// reference and the annotated example); an `example` tag gives the value
// shown in the example when the default is empty. Durations are
// time.Duration and must be written as strings ("72h"). Relative paths are
// relative to the directory of the configuration file.
type Config struct {
	Gateway GatewayConfig `toml:"gateway" doc:"The gateway itself: the domain and team address it serves and where it keeps its data."`
	TeamKey TeamKeyConfig `toml:"team_key" doc:"The team's OpenPGP key, which signs everything the gateway sends and decrypts what it receives. The passphrase never goes in this file."`
	IMAP    IMAPConfig    `toml:"imap" doc:"The mailbox the gateway reads reports and team mail from."`
	SMTP    SMTPConfig    `toml:"smtp" doc:"The submission server the gateway sends through."`
	Metrics MetricsConfig `toml:"metrics" doc:"Health endpoint and Prometheus metrics."`
	Web     WebConfig     `toml:"web" doc:"The read-only web view of the cases, the outbox, the quarantine and the keys (see README, Web view)."`

	Project  ProjectConfig   `toml:"project" doc:"The project and its security team, as the texts name them."`
	Intake   intake.Config   `toml:"intake" doc:"How intake watches the mailbox and the limits on what it accepts."`
	Distlist distlist.Config `toml:"distlist" doc:"The security team, the distribution lists and their keys, and how the outbox retries."`
	Cases    cases.Config    `toml:"cases" doc:"How signed team commands are accepted."`
	Schedule schedule.Config `toml:"schedule" doc:"The disclosure policy, the lists notices go to, and where artifacts are written."`

	// File is the configuration file and Dir its directory; LoadConfig
	// resolves relative paths against Dir.
	File string `toml:"-"`
	Dir  string `toml:"-"`
	// Warnings are what ParseConfig accepted but the operator should
	// change (a deprecated key), each with its file and line.
	Warnings []string `toml:"-"`
	// SharesMailbox: the project reads the top file's shared mailbox
	// (imap.shared) through one routed poller; set by LoadProjects.
	SharesMailbox bool `toml:"-"`
	// Name is the project's short name (CLI, logs, metrics), set by
	// LoadProjects; see projectName.
	Name string `toml:"-"`
	// KeysDatabase, when set, is the database whose data keys open what
	// Gateway.Database holds: the project's, for its archive (archived).
	KeysDatabase string `toml:"-"`
	// src says which file set each key (a project file over the top
	// file), for errors found after loading; nil: File alone.
	src *configSource
}

// GatewayConfig is the [gateway] section.
type GatewayConfig struct {
	Domain    string `toml:"domain" doc:"Mail domain the gateway serves." example:"example.org"`
	Team      string `toml:"team" doc:"The security team's public address, where reports arrive (usually security@ the domain)." example:"security@example.org"`
	DataDir   string `toml:"data_dir" doc:"Directory for the gateway's data (advisories and other artifacts); created by secgate init."`
	Database  string `toml:"database" doc:"SQLite database file holding cases, the audit log, the outbox and inbound mail. In a project file (see projects) it defaults to data_dir/projects/NAME/secgate.db."`
	Templates string `toml:"templates" doc:"Directory of template overrides (files named like the built-in ones); empty: built-in texts only."`
	LogLevel  string `toml:"log_level" doc:"Log level: debug, info, warn or error. Message bodies and credentials are never logged."`
	// MemoryLimitMiB is the Go runtime's soft memory limit for serve.
	MemoryLimitMiB int `toml:"memory_limit_mib" doc:"Soft limit of the gateway's memory in MiB (the Go runtime's memory limit): near it the garbage collector runs sooner, so a big message does not double the process's size. It is not a cap: a message that needs more still goes through. 0: no limit; the GOMEMLIMIT environment variable, when set, takes precedence."`
	// GCPercent is the Go runtime's GOGC for serve.
	GCPercent int `toml:"gc_percent" doc:"How far the heap may grow over what is in use before the garbage collector runs, in percent (the Go runtime's GOGC), 25 to 1000. Below the memory limit a higher value spends less CPU on collection; near it the limit decides. The GOGC environment variable, when set, takes precedence."`
	// Projects is the directory of project files (issue #20).
	Projects string `toml:"projects" doc:"Directory of project files, one gateway process serving several projects: every *.toml in it is one project, with this file's sections as its defaults (a key the project file sets replaces this file's; an array of tables, such as [[distlist.member]], is replaced whole). Each project has its own name, team address, team key, database, mailbox and lists. Only this file may set projects, log_level, memory_limit_mib, gc_percent and [metrics] listen, which are the process's. Empty: this file is the one project. See Many projects in the README."`
}

// TeamKeyConfig is the [team_key] section.
type TeamKeyConfig struct {
	Path           string `toml:"path" doc:"Armored private team key, locked with the passphrase; keep it readable by the gateway only (0600). In a project file it defaults to data_dir/projects/NAME/team-key.asc."`
	PassphraseFile string `toml:"passphrase_file" doc:"File whose first line is the key's passphrase; set this or passphrase_env."`
	PassphraseEnv  string `toml:"passphrase_env" doc:"Environment variable holding the key's passphrase; set this or passphrase_file."`
}

// TLS modes of [imap] and [smtp].
const (
	TLSImplicit      = "tls"            // TLS from the first byte (993, 465)
	TLSStartTLS      = "starttls"       // STARTTLS on the plain port (143, 587)
	TLSPlainLoopback = "plain-loopback" // no TLS; only to a loopback address
)

var tlsModes = []string{TLSImplicit, TLSStartTLS, TLSPlainLoopback}

// IMAPConfig is the [imap] section.
type IMAPConfig struct {
	Address      string `toml:"address" doc:"IMAP server as host:port." example:"imap.example.org:993"`
	User         string `toml:"user" doc:"Login name of the security mailbox." example:"security@example.org"`
	PasswordFile string `toml:"password_file" doc:"File whose first line is the IMAP password." example:"imap.pass"`
	TLS          string `toml:"tls" doc:"Transport security: tls, starttls, or plain-loopback (no TLS, only to a loopback address)."`
	// PushListen is where Dovecot's push notifications are received.
	PushListen string `toml:"push_listen" doc:"Loopback host:port where Dovecot's push_notification plugin (OX driver) posts on each delivery, so new mail is fetched at once instead of after Dovecot's IDLE delay (about 0.5 s). The poller asks for the posts at login (IMAP METADATA); a post only wakes it, its content is dropped. Empty: IDLE alone. See Install and deploy."`
	// Shared and DefaultProject make the top file's mailbox one that
	// several projects share (issue #20).
	Shared         bool   `toml:"shared" doc:"In the top file of several projects (see projects): this [imap] mailbox is shared by every project whose file sets no imap.user of its own, read by one poller that routes each message to its project by the address it was delivered for (Delivered-To, X-Original-To), then To and Cc, matched against each project's team, from, bounce and [project] addresses, plus-addressing allowed. A project setting imap.user reads its own mailbox. See Many projects in the README."`
	DefaultProject string `toml:"default_project" doc:"With shared: the project (its short name) whose quarantine holds the mail of the shared mailbox that no project, or several, own (class route), and which keeps the mailbox's state; required when more than one project shares it."`
}

// SMTPConfig is the [smtp] section.
type SMTPConfig struct {
	Address      string `toml:"address" doc:"Submission server as host:port." example:"smtp.example.org:587"`
	User         string `toml:"user" doc:"Login name for AUTH PLAIN." example:"security@example.org"`
	PasswordFile string `toml:"password_file" doc:"File whose first line is the SMTP password." example:"smtp.pass"`
	TLS          string `toml:"tls" doc:"Transport security: starttls, tls, or plain-loopback (no TLS, only to a loopback address)."`
	Parallel     int    `toml:"parallel" doc:"Number of SMTP connections used in parallel for outgoing mail (1 to 64)."`
}

// MetricsConfig is the [metrics] section.
type MetricsConfig struct {
	Listen string `toml:"listen" doc:"Loopback host:port serving /healthz and /metrics; empty disables both."`
}

// DefaultConfig returns the defaults of every field.
func DefaultConfig() Config {
	return Config{
		Gateway: GatewayConfig{
			DataDir:        "data",
			Database:       "data/secgate.db",
			LogLevel:       "info",
			MemoryLimitMiB: 96,
			GCPercent:      200,
		},
		TeamKey: TeamKeyConfig{
			Path:          "data/team-key.asc",
			PassphraseEnv: "SECGATE_PASSPHRASE",
		},
		IMAP:     IMAPConfig{TLS: TLSImplicit},
		Intake:   intake.DefaultConfig(),
		Distlist: distlist.Config{}.WithDefaults(),
		Cases:    cases.DefaultConfig(),
		Schedule: schedule.DefaultConfig(),
		SMTP:     SMTPConfig{TLS: TLSStartTLS, Parallel: 4},
		Metrics:  MetricsConfig{Listen: "127.0.0.1:9464"},
	}
}

// ConfigError is a problem in a configuration file, located as precisely
// as possible.
type ConfigError struct {
	File string // the file, as given
	Line int    // 0 when unknown
	Key  string // dotted key, e.g. "imap.tls"; "" for syntax errors
	Msg  string
}

func (e *ConfigError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	if e.Key != "" {
		b.WriteString(": " + e.Key)
	}
	b.WriteString(": " + e.Msg)
	return b.String()
}

// LoadConfig reads, decodes and validates the configuration file at path
// and makes its relative paths absolute. It does not look at the files the
// configuration names; CheckFiles does.
func LoadConfig(path string) (*Config, error) {
	text, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read configuration: %w", err)
	}
	cfg, err := ParseConfig(path, text)
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("configuration %s: %w", path, err)
	}
	cfg.File = path
	cfg.resolve(abs)
	return cfg, nil
}

// ParseConfig decodes and validates the text of a configuration file; name
// is used in errors. Relative paths are left as written.
func ParseConfig(name string, text []byte) (*Config, error) {
	cfg := DefaultConfig()
	lines, err := decodeStrict(name, text, &cfg)
	if err != nil {
		return nil, err
	}
	if err := cfg.finish(&configSource{files: []string{name}, lines: []lineIndex{lines}}); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// finish applies what depends on which keys were set (src: one file, or a
// project file over the top file) and validates the result, each problem
// located in the file that set its key.
func (cfg *Config) finish(src *configSource) error {
	// A passphrase file written in place of the default variable (or of
	// a variable the top file named) replaces it, and the other way round.
	fileAt, envAt := src.level("team_key.passphrase_file"), src.level("team_key.passphrase_env")
	switch {
	case fileAt > envAt && cfg.TeamKey.PassphraseFile != "":
		cfg.TeamKey.PassphraseEnv = ""
	case envAt > fileAt && fileAt >= 0 && cfg.TeamKey.PassphraseEnv != "":
		cfg.TeamKey.PassphraseFile = ""
	}
	var errs []error
	// One key sets the policy of new cases: [schedule] policy, beside the
	// policies it can name. [cases] policy is its old alias.
	if src.level("cases.policy") >= 0 {
		file, line := src.locate("cases.policy")
		switch {
		case src.level("schedule.policy") < 0:
			cfg.Schedule.Policy = cfg.Cases.Policy
			cfg.Warnings = append(cfg.Warnings, fmt.Sprintf("%s:%d: cases.policy: deprecated alias of schedule.policy (which also names the policies defined under [schedule.policies]); move it there",
				file, line))
		case cfg.Cases.Policy != cfg.Schedule.Policy:
			errs = append(errs, &ConfigError{File: file, Line: line, Key: "cases.policy",
				Msg: fmt.Sprintf("%q differs from schedule.policy %q, which sets the policy of new cases; remove cases.policy", cfg.Cases.Policy, cfg.Schedule.Policy)})
		default:
			cfg.Warnings = append(cfg.Warnings, fmt.Sprintf("%s:%d: cases.policy: deprecated alias of schedule.policy, which says the same; remove it",
				file, line))
		}
	}
	cfg.Cases.Policy = cfg.Schedule.Policy
	if len(src.files) == 1 {
		for _, k := range []string{"imap.shared", "imap.default_project"} {
			if k == "imap.shared" && cfg.IMAP.Shared || k == "imap.default_project" && cfg.IMAP.DefaultProject != "" {
				file, line := src.locate(k)
				errs = append(errs, &ConfigError{File: file, Line: line, Key: k,
					Msg: "only in the top file of several projects ([gateway] projects): a shared mailbox is several projects'"})
			}
		}
	}
	for _, e := range cfg.Validate() {
		file, line := src.locate(e.Key)
		e.File = file
		if e.Line == 0 {
			e.Line = line
		}
		errs = append(errs, e)
	}
	cfg.src = src
	return errors.Join(errs...)
}

// decodeStrict decodes TOML text into v (a pointer to a struct holding the
// defaults) and rejects unknown keys and integers given for durations, each
// with its line. It returns the line index of the text.
func decodeStrict(name string, text []byte, v any) (lineIndex, error) {
	md, err := toml.Decode(string(text), v)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, &ConfigError{File: name, Line: pe.Position.Line, Key: pe.LastKey, Msg: pe.Message}
		}
		// Type mismatches come as "toml: line N (last key "k"): msg".
		ce := &ConfigError{File: name, Msg: strings.TrimPrefix(err.Error(), "toml: ")}
		if m := decodeErrRE.FindStringSubmatch(err.Error()); m != nil {
			ce.Line, _ = strconv.Atoi(m[1])
			ce.Key, ce.Msg = m[2], m[3]
		}
		return nil, ce
	}
	lines := keyLines(text)
	var errs []error
	undecoded := md.Undecoded()
	for _, k := range undecoded {
		key := k.String()
		// A key inside an unknown table is reported with its table.
		if parent := k[:len(k)-1]; len(parent) > 0 && slices.ContainsFunc(undecoded, func(u toml.Key) bool { return u.String() == parent.String() }) {
			continue
		}
		msg := "unknown key"
		if md.Type(k...) == "Hash" {
			msg = "unknown table"
		}
		if last := strings.ToLower(k[len(k)-1]); strings.Contains(last, "passphrase") || strings.Contains(last, "password") {
			msg = "unknown key (secrets never go in the configuration: use a *_file or *_env setting)"
		}
		errs = append(errs, &ConfigError{File: name, Line: lines.find(strings.Join(k, ".")), Key: key, Msg: msg})
	}
	// BurntSushi/toml decodes `timeout = 25` as 25ns: durations must be
	// strings.
	t := reflect.TypeOf(v).Elem()
	for _, k := range md.Keys() {
		if fieldType(t, k) == durationType && md.Type(k...) != "String" {
			errs = append(errs, &ConfigError{File: name, Line: lines.find(strings.Join(k, ".")), Key: k.String(),
				Msg: fmt.Sprintf("a duration must be a string such as \"30s\", \"15m\" or \"72h\", not a TOML %s", strings.ToLower(md.Type(k...)))})
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return lines, nil
}

var decodeErrRE = regexp.MustCompile(`^toml: (?:line (\d+) )?\(last key "(.*?)"\): (.*)$`)

var durationType = reflect.TypeOf(time.Duration(0))

// fieldType returns the Go type of the field that key decodes into, or nil.
func fieldType(t reflect.Type, key toml.Key) reflect.Type {
	for _, part := range key {
		for t.Kind() == reflect.Slice || t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct {
			return nil
		}
		f, ok := fieldByKey(t, part)
		if !ok {
			return nil
		}
		t = f.Type
	}
	return t
}

// fieldByKey finds the struct field whose toml key is name.
func fieldByKey(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		if tomlKey(f) == name {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// tomlKey is the key a field is decoded from ("" when it is skipped).
func tomlKey(f reflect.StructField) string {
	tag := f.Tag.Get("toml")
	if tag == "-" {
		return ""
	}
	if name, _, _ := strings.Cut(tag, ","); name != "" {
		return name
	}
	return f.Name
}

// keyLines maps dotted keys to the line they are set on.
type lineIndex map[string]int

// keyLines scans TOML text for table headers and key assignments. It is a
// best effort (multi-line strings may confuse it); an unknown line is 0.
func keyLines(text []byte) lineIndex {
	idx := lineIndex{}
	table, item := "", "" // item: "distlist.list[2]" inside the second [[distlist.list]]
	items := map[string]int{}
	sc := bufio.NewScanner(strings.NewReader(string(text)))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || line[0] == '#':
			continue
		case strings.HasPrefix(line, "[[") || strings.HasPrefix(line, "["):
			h := strings.TrimLeft(line, "[")
			if i := strings.Index(h, "]"); i >= 0 {
				h = h[:i]
			}
			table, item = normKey(h), ""
			if _, ok := idx[table]; !ok && table != "" {
				idx[table] = n
			}
			if strings.HasPrefix(line, "[[") {
				items[table]++
				item = fmt.Sprintf("%s[%d]", table, items[table])
				idx[item] = n
			}
		default:
			k, _, ok := strings.Cut(line, "=")
			if !ok {
				continue
			}
			key := normKey(k)
			if table != "" {
				key = table + "." + key
			}
			if _, ok := idx[key]; !ok {
				idx[key] = n
			}
			if item != "" {
				idx[item+"."+normKey(k)] = n
			}
		}
	}
	return idx
}

func normKey(k string) string {
	parts := strings.Split(k, ".")
	for i, p := range parts {
		parts[i] = strings.Trim(strings.TrimSpace(p), `"'`)
	}
	return strings.Join(parts, ".")
}

// find returns the line of key, or of its closest enclosing table.
func (idx lineIndex) find(key string) int {
	for key != "" {
		if n, ok := idx[key]; ok {
			return n
		}
		i := strings.LastIndex(key, ".")
		if i < 0 {
			break
		}
		key = key[:i]
	}
	return 0
}

// Validate checks the values of the configuration without touching the
// file system. Each problem names its key.
func (c *Config) Validate() []*ConfigError {
	var errs []*ConfigError
	bad := func(key, format string, args ...any) {
		errs = append(errs, &ConfigError{Key: key, Msg: fmt.Sprintf(format, args...)})
	}
	g := c.Gateway
	if g.Domain == "" {
		bad("gateway.domain", "required")
	} else if !validDomain(g.Domain) {
		bad("gateway.domain", "%q is not a domain name", g.Domain)
	}
	if g.Team == "" {
		bad("gateway.team", "required")
	} else if err := validAddress(g.Team); err != nil {
		bad("gateway.team", "%v", err)
	}
	if g.DataDir == "" {
		bad("gateway.data_dir", "required")
	}
	if g.Database == "" {
		bad("gateway.database", "required")
	}
	if !slices.Contains([]string{"debug", "info", "warn", "error"}, g.LogLevel) {
		bad("gateway.log_level", "%q is not one of debug, info, warn, error", g.LogLevel)
	}
	if g.MemoryLimitMiB != 0 && g.MemoryLimitMiB < minMemoryLimitMiB {
		bad("gateway.memory_limit_mib", "%d is below %d: the collector would run all the time (0: no limit)", g.MemoryLimitMiB, minMemoryLimitMiB)
	}
	if g.GCPercent < minGCPercent || g.GCPercent > maxGCPercent {
		bad("gateway.gc_percent", "%d is not between %d and %d", g.GCPercent, minGCPercent, maxGCPercent)
	}

	k := c.TeamKey
	if k.Path == "" {
		bad("team_key.path", "required")
	}
	switch {
	case k.PassphraseFile == "" && k.PassphraseEnv == "":
		bad("team_key", "set passphrase_file or passphrase_env")
	case k.PassphraseFile != "" && k.PassphraseEnv != "":
		bad("team_key.passphrase_env", "set passphrase_file or passphrase_env, not both")
	}

	checkServer := func(section, addr, user, pwFile, tls string) {
		if addr == "" {
			bad(section+".address", "required")
		} else if host, err := hostPort(addr); err != nil {
			bad(section+".address", "%v", err)
		} else if tls == TLSPlainLoopback && !distlist.IsLoopback(host) {
			bad(section+".tls", "plain-loopback needs a loopback address, not %q: use tls or starttls", host)
		}
		if !slices.Contains(tlsModes, tls) {
			bad(section+".tls", "%q is not one of tls, starttls, plain-loopback", tls)
		}
		if user == "" {
			bad(section+".user", "required")
		}
		if pwFile == "" {
			bad(section+".password_file", "required")
		}
	}
	checkServer("imap", c.IMAP.Address, c.IMAP.User, c.IMAP.PasswordFile, c.IMAP.TLS)
	checkServer("smtp", c.SMTP.Address, c.SMTP.User, c.SMTP.PasswordFile, c.SMTP.TLS)
	if c.SMTP.Parallel < 1 || c.SMTP.Parallel > 64 {
		bad("smtp.parallel", "%d is out of range 1 to 64", c.SMTP.Parallel)
	}

	for _, l := range []struct{ key, addr, what string }{
		{"metrics.listen", c.Metrics.Listen, "metrics are"},
		{"imap.push_listen", c.IMAP.PushListen, "push notifications are"},
	} {
		if l.addr == "" {
			continue
		}
		if host, err := hostPort(l.addr); err != nil {
			bad(l.key, "%v", err)
		} else if !distlist.IsLoopback(host) {
			bad(l.key, "%q is not a loopback address: %s served on loopback only", host, l.what)
		}
	}
	if c.IMAP.PushListen != "" && c.IMAP.PushListen == c.Metrics.Listen {
		bad("imap.push_listen", "%q is also metrics.listen", c.IMAP.PushListen)
	}
	if key, err := c.Web.check(c.Metrics.Listen, c.IMAP.PushListen); err != nil {
		bad(key, "%v", err)
	}
	for i, a := range c.Project.Addresses {
		if err := validAddress(a); err != nil {
			bad("project.addresses", "item %d: %v", i+1, err)
		}
	}
	if err := c.Project.checkCasePrefix(); err != nil {
		bad("project.case_prefix", "%v", err)
	}

	for i, l := range c.Distlist.Lists {
		for _, p := range l.RuleProblems() {
			bad(fmt.Sprintf("distlist.list[%d].%s", i+1, p.Key), "list %q: %s", l.Name, p.Msg)
		}
	}
	if len(errs) > 0 {
		return errs // the package checks below repeat what is missing above
	}
	for _, pc := range []struct {
		key string
		err error
	}{
		{"intake", c.packageIntake().Check()},
		{"distlist", c.packageDistlist().Validate()},
		{"schedule", c.Schedule.WithDefaults().Validate()},
	} {
		if pc.err == nil {
			continue
		}
		key := pc.key
		var pe *schedule.PolicyConfigError
		if errors.As(pc.err, &pe) {
			key = "schedule.policies." + pe.Name // its own table's line
		}
		bad(key, "%v", pc.err)
	}
	return errs
}

// resolve makes every relative path absolute against dir.
func (c *Config) resolve(dir string) {
	c.Dir = dir
	for _, p := range []*string{&c.Gateway.DataDir, &c.Gateway.Database, &c.TeamKey.Path, &c.TeamKey.PassphraseFile, &c.IMAP.PasswordFile, &c.SMTP.PasswordFile, &c.Gateway.Templates, &c.Schedule.ArtifactsDir, &c.Gateway.Projects,
		&c.Web.TLSCert, &c.Web.TLSKey, &c.Web.ClientCA} {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
}

// CheckFiles checks what the configuration points to: the data directory,
// the key and password files, the passphrase variable. getenv reads the
// environment.
func (c *Config) CheckFiles(getenv func(string) string) []error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, &ConfigError{File: c.File, Key: key, Msg: fmt.Sprintf(format, args...)})
	}
	if fi, err := os.Stat(c.Gateway.DataDir); err != nil {
		bad("gateway.data_dir", "%v", err)
	} else if !fi.IsDir() {
		bad("gateway.data_dir", "%s is not a directory", c.Gateway.DataDir)
	}
	if fi, err := os.Stat(filepath.Dir(c.Gateway.Database)); err != nil || !fi.IsDir() {
		bad("gateway.database", "directory of %s does not exist", c.Gateway.Database)
	}
	readable := func(key, path string, private bool) {
		if path == "" {
			return
		}
		fi, err := os.Stat(path)
		if err != nil {
			bad(key, "%v", err)
			return
		}
		if fi.IsDir() {
			bad(key, "%s is a directory", path)
			return
		}
		if private && fi.Mode().Perm()&0o077 != 0 {
			bad(key, "%s is readable by others (mode %04o); chmod 600 it", path, fi.Mode().Perm())
		}
	}
	readable("team_key.path", c.TeamKey.Path, true)
	readable("team_key.passphrase_file", c.TeamKey.PassphraseFile, true)
	readable("imap.password_file", c.IMAP.PasswordFile, true)
	readable("smtp.password_file", c.SMTP.PasswordFile, true)
	if v := c.TeamKey.PassphraseEnv; v != "" && getenv(v) == "" {
		bad("team_key.passphrase_env", "environment variable %s is not set", v)
	}
	return errs
}

// Passphrase returns the team key's passphrase from its file or variable.
func (c *Config) Passphrase(getenv func(string) string) ([]byte, error) {
	if c.TeamKey.PassphraseFile != "" {
		return readSecretFile(c.TeamKey.PassphraseFile)
	}
	v := getenv(c.TeamKey.PassphraseEnv)
	if v == "" {
		return nil, fmt.Errorf("team_key.passphrase_env: environment variable %s is not set", c.TeamKey.PassphraseEnv)
	}
	return []byte(v), nil
}

// readSecretFile returns the first line of a passphrase or password file.
func readSecretFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read secret: %w", err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	line = strings.TrimSuffix(line, "\r")
	if line == "" {
		return nil, fmt.Errorf("read secret: %s: first line is empty", path)
	}
	return []byte(line), nil
}

func hostPort(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("%q is not host:port", addr)
	}
	if host == "" || port == "" {
		return "", fmt.Errorf("%q is not host:port", addr)
	}
	return host, nil
}

func validDomain(d string) bool {
	if len(d) > 253 || !strings.Contains(d, ".") {
		return false
	}
	for _, label := range strings.Split(d, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

// validAddress accepts a bare address (local@domain), no display name.
func validAddress(s string) error {
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" {
		return fmt.Errorf("%q is not a bare mail address (local@domain)", s)
	}
	_, domain, _ := strings.Cut(s, "@")
	if !validDomain(domain) {
		return fmt.Errorf("%q: %q is not a domain name", s, domain)
	}
	return nil
}

// checkResult is the outcome of config check, also printed as JSON: of
// one project, or of a gateway of several and each of its projects.
type checkResult struct {
	File        string   `json:"file"`
	Project     string   `json:"project,omitempty"`
	OK          bool     `json:"ok"`
	Problems    []string `json:"problems,omitempty"`
	Warnings    []string `json:"warnings,omitempty"`
	Fingerprint string   `json:"team_key_fingerprint,omitempty"`
	// Policies are the policies the configuration resolves to, by name.
	Policies map[string]schedule.Policy `json:"policies,omitempty"`
	// Projects are the results of each project of a gateway of several.
	Projects []checkResult `json:"projects,omitempty"`
}

func runConfigCheck(ctx context.Context, a *app, c *command, args []string) error {
	fs := c.flagSet(a)
	sel := configFlag(fs)
	asJSON := jsonFlag(fs)
	if _, err := c.parse(a, fs, args, 0); err != nil {
		return err
	}
	path := sel.path
	set, err := sel.load()
	if err != nil {
		// The problems of every file, and between the projects.
		res := checkResult{File: path, Problems: problemLines([]error{err})}
		if *asJSON {
			if err := a.printJSON(res); err != nil {
				return err
			}
		} else {
			for _, p := range res.Problems {
				fmt.Fprintln(a.stdout, p)
			}
		}
		return fmt.Errorf("%s: %s", path, templates.Count(len(res.Problems), "problem"))
	}
	projects, err := sel.projects()
	if err != nil {
		return err
	}
	results := make([]checkResult, len(projects))
	fprs := map[string]string{} // team key fingerprint -> project
	for i, cfg := range projects {
		results[i] = checkProject(a, cfg)
		// Each project's reports are encrypted to its own key.
		if k, err := teamPublicKey(cfg); err == nil && set.Several() {
			if o, ok := fprs[k.Fingerprint()]; ok {
				results[i].Problems = append(results[i].Problems, fmt.Sprintf("%s: team_key.path: team key %s is also project %s's: each project has its own",
					cfg.File, k.Fingerprint(), o))
				results[i].OK = false
			}
			fprs[k.Fingerprint()] = cfg.Name
		}
	}
	if !set.Several() {
		res := results[0]
		res.File = path
		res.Project = ""
		if !*asJSON {
			for _, w := range res.Warnings {
				fmt.Fprintln(a.stdout, "warning: "+w)
			}
		}
		if *asJSON {
			if err := a.printJSON(res); err != nil {
				return err
			}
		} else if res.OK {
			fmt.Fprintf(a.stdout, "%s: OK (team key %s)\n\npolicies (new cases get the default; secgate config reference explains each column):\n", path, res.Fingerprint)
			if err := writePolicies(a.stdout, projects[0]); err != nil {
				return err
			}
		} else {
			for _, p := range res.Problems {
				fmt.Fprintln(a.stdout, p)
			}
		}
		if !res.OK {
			return fmt.Errorf("%s: %s", path, templates.Count(len(res.Problems), "problem"))
		}
		return nil
	}
	// A gateway of several projects: each under its heading.
	all := checkResult{File: path, OK: true, Projects: results}
	var bad []string
	problems := 0
	for _, r := range results {
		if !r.OK {
			all.OK = false
			bad = append(bad, r.Project)
			problems += len(r.Problems)
		}
	}
	if *asJSON {
		if err := a.printJSON(all); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(a.stdout, "%s: %s in %s\n", path, templates.Count(len(set.Projects), "project"), set.Dir)
		for i, r := range results {
			fmt.Fprintf(a.stdout, "\n== project %s (%s) ==\n", r.Project, r.File)
			for _, w := range r.Warnings {
				fmt.Fprintln(a.stdout, "warning: "+w)
			}
			if !r.OK {
				for _, p := range r.Problems {
					fmt.Fprintln(a.stdout, p)
				}
				continue
			}
			fmt.Fprintf(a.stdout, "OK: team %s, team key %s, database %s\n\npolicies (new cases get the default; secgate config reference explains each column):\n",
				projects[i].Gateway.Team, r.Fingerprint, projects[i].Gateway.Database)
			if err := writePolicies(a.stdout, projects[i]); err != nil {
				return err
			}
		}
	}
	if !all.OK {
		return fmt.Errorf("%s: %s in %s %s", path, templates.Count(problems, "problem"), map[bool]string{true: "project", false: "projects"}[len(bad) == 1], strings.Join(bad, ", "))
	}
	return nil
}

// checkProject checks one project's configuration and what it points to.
func checkProject(a *app, cfg *Config) checkResult {
	res := checkResult{File: cfg.File, Project: cfg.Name}
	problems := cfg.CheckFiles(a.getenv)
	if len(problems) == 0 {
		fpr, err := checkTeamKey(cfg, a.getenv)
		if err != nil {
			problems = append(problems, err)
		}
		res.Fingerprint = fpr
	}
	var keyProblems []error
	res.Warnings, keyProblems = checkDirectoryKeys(cfg, time.Now())
	problems = append(problems, keyProblems...)
	res.Warnings = append(append(slices.Clone(cfg.Warnings), res.Warnings...), cfg.wholeWarnings()...)
	problems = append(problems, cfg.wholeProblems()...)
	if ps, err := cfg.Schedule.WithDefaults().Resolve(); err == nil {
		res.Policies = ps
	}
	res.Problems = problemLines(problems)
	res.OK = len(res.Problems) == 0
	return res
}

// problemLines are errors as lines: errors.Join of several ConfigErrors
// gives one problem per line.
func problemLines(errs []error) []string {
	var out []string
	for _, p := range errs {
		out = append(out, strings.Split(p.Error(), "\n")...)
	}
	return out
}

// checkTeamKey unlocks the team key and checks it is usable now.
func checkTeamKey(cfg *Config, getenv func(string) string) (string, error) {
	key, err := loadTeamKey(cfg, getenv)
	if err != nil {
		return "", err
	}
	return key.Fingerprint(), nil
}

// checkDirectoryKeys reads the key files of the configured members and list
// entries as serve does when it starts. A key that cannot be used now
// (expired, revoked, without a usable encryption subkey) is a warning, one
// line per key with the reason: serve loads its holder marked unusable, and
// starts. A key file serve would refuse (unreadable, not a public key,
// another person's key, missing where one is required) is a problem.
func checkDirectoryKeys(cfg *Config, now time.Time) (warnings []string, problems []error) {
	probs, err := distlist.CheckConfig(cfg.packageDistlist(), now)
	for _, p := range probs {
		warnings = append(warnings, p.String())
	}
	if err == nil {
		return warnings, nil
	}
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	for _, e := range errs {
		problems = append(problems, &ConfigError{File: cfg.File, Key: "distlist", Msg: e.Error()})
	}
	return warnings, problems
}
