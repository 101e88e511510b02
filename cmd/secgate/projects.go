package main

import (
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"
)

// Many projects, one gateway process (issue #20). A configuration file that
// names [gateway] projects = "DIR" is the top file of a gateway serving
// several projects: every *.toml in DIR is one project, decoded over a
// fresh copy of the top file's sections (its defaults). Each project gets
// its own gateway (cmd/secgate/gateway.go) with its own database, team key,
// directory, outbox, workflow, scheduler and intake: no part of one holds a
// handle to another's database or key, so the projects are kept apart by
// construction. What only the top file may set (processWideKeys) applies
// to the whole process. Without projects, the file is one project, as it
// always was.

// processWideKeys are the keys only the top file may set: they are the
// process's, not a project's.
var processWideKeys = []string{"gateway.projects", "gateway.log_level", "gateway.memory_limit_mib", "gateway.gc_percent", "metrics.listen",
	"imap.shared", "imap.default_project", "web.listen", "web.tls_cert", "web.tls_key", "web.client_ca", "web.wkd"}

// sharedIMAPKeys are the [imap] keys of the shared mailbox: a project
// reading it (one without an imap.user of its own) takes the top file's.
var sharedIMAPKeys = []string{"imap.address", "imap.password_file", "imap.tls", "imap.push_listen"}

// ProjectSet is what a configuration file describes: its projects, in the
// order of their names.
type ProjectSet struct {
	File string // the top configuration file, as given
	// Top holds the process-wide settings (log level, memory, metrics).
	// For a single file it is the one project's configuration.
	Top *Config
	// Dir is the directory of the project files; "" for a single file.
	Dir      string
	Projects []*Config
	// partial: a project file did not load, so what needs every project
	// (the projects sharing a mailbox) is not checked.
	partial bool
}

// Several reports whether the file describes a gateway of several
// projects (the [gateway] projects form, even with one project file).
func (s *ProjectSet) Several() bool { return s.Dir != "" }

// Sharing returns the projects that read the shared mailbox (the top
// file's [imap], imap.shared), in the order of their names.
func (s *ProjectSet) Sharing() []*Config {
	var out []*Config
	for _, p := range s.Projects {
		if p.SharesMailbox {
			out = append(out, p)
		}
	}
	return out
}

// DefaultProject is the project whose quarantine holds the shared
// mailbox's mail that no project, or several, own: imap.default_project,
// or the one project sharing it.
func (s *ProjectSet) DefaultProject() string {
	if s.Top.IMAP.DefaultProject != "" {
		return s.Top.IMAP.DefaultProject
	}
	if sh := s.Sharing(); len(sh) == 1 {
		return sh[0].Name
	}
	return ""
}

// Project returns the project called name, or nil.
func (s *ProjectSet) Project(name string) *Config {
	for _, p := range s.Projects {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// Names lists the projects' names.
func (s *ProjectSet) Names() []string {
	var n []string
	for _, p := range s.Projects {
		n = append(n, p.Name)
	}
	return n
}

// LoadProjects reads the configuration file at path and, when it names a
// projects directory, every project file in it. Every problem of every
// file is returned at once, each with its file and line, as are the
// problems between projects (two sharing a name, a team address, a key
// file, a database, a mailbox).
func LoadProjects(path string) (*ProjectSet, error) {
	text, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read configuration: %w", err)
	}
	top := DefaultConfig()
	topLines, err := decodeStrict(path, text, &top)
	if err != nil {
		return nil, err
	}
	if top.Gateway.Projects == "" {
		cfg, err := LoadConfig(path)
		if err != nil {
			return nil, err
		}
		cfg.Name = cfg.projectName()
		return &ProjectSet{File: path, Top: cfg, Projects: []*Config{cfg}}, nil
	}
	topDir, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("configuration %s: %w", path, err)
	}
	top.File = path
	top.resolve(topDir)
	top.src = &configSource{files: []string{path}, lines: []lineIndex{topLines}}
	set := &ProjectSet{File: path, Top: &top, Dir: top.Gateway.Projects}
	files, err := filepath.Glob(filepath.Join(set.Dir, "*.toml"))
	if err == nil && len(files) == 0 {
		msg := fmt.Sprintf("no project file (*.toml) in %s", set.Dir)
		if _, serr := os.Stat(set.Dir); serr != nil {
			msg = fmt.Sprintf("%s: %v", set.Dir, errors.Unwrap(serr))
		}
		err = &ConfigError{File: path, Line: topLines.find("gateway.projects"), Key: "gateway.projects", Msg: msg}
	}
	if err != nil {
		return nil, err
	}
	slices.Sort(files)
	// Each file is decoded on its own, several at a time (startup.go).
	cfgs := make([]*Config, len(files))
	errs := runEach(len(files), startParallel(), false, func(i int) (err error) {
		cfgs[i], err = loadProject(path, text, topLines, topDir, files[i])
		return err
	})
	for _, cfg := range cfgs {
		if cfg != nil {
			set.Projects = append(set.Projects, cfg)
		}
	}
	errs = slices.DeleteFunc(errs, func(err error) bool { return err == nil })
	set.partial = len(errs) > 0
	errs = append(errs, set.crossCheck()...)
	if len(errs) > 0 {
		return nil, errors.Join(dedupe(errs)...)
	}
	slices.SortFunc(set.Projects, func(a, b *Config) int { return strings.Compare(a.Name, b.Name) })
	return set, nil
}

// loadProject decodes the project file over a fresh copy of the top file
// (topPath, its text, its lines and directory) and validates the result.
// A relative path is relative to the file that sets it.
func loadProject(topPath string, topText []byte, topLines lineIndex, topDir, file string) (*Config, error) {
	text, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read project file: %w", err)
	}
	cfg := DefaultConfig()
	if _, err := decodeStrict(topPath, topText, &cfg); err != nil {
		return nil, err
	}
	cfg.resolve(topDir)
	cfg.resolveKeyFiles(topDir)
	// What the project file sets, to reset the arrays it replaces (the
	// decoder would otherwise fill the top file's elements in place) and
	// to find the keys it may not set.
	var raw map[string]any
	if _, err := toml.Decode(string(text), &raw); err == nil {
		resetArrays(reflect.ValueOf(&cfg).Elem(), raw)
	}
	lines, err := decodeStrict(file, text, &cfg)
	if err != nil {
		return nil, err
	}
	dir, err := filepath.Abs(filepath.Dir(file))
	if err != nil {
		return nil, fmt.Errorf("project file %s: %w", file, err)
	}
	cfg.File = file
	cfg.resolve(dir)
	cfg.resolveKeyFiles(dir)
	var errs []error
	for _, k := range processWideKeys {
		if defined(raw, k) {
			errs = append(errs, &ConfigError{File: file, Line: lines.find(k), Key: k,
				Msg: fmt.Sprintf("only the top file (%s) may set it: it applies to the whole process, every project", topPath)})
		}
	}
	src := &configSource{files: []string{topPath, file}, lines: []lineIndex{topLines, lines}}
	cfg.Name = shortName(cfg.Project.Name)
	if cfg.Name == "" {
		f, l := src.locate("project.name")
		errs = append(errs, &ConfigError{File: f, Line: l, Key: "project.name",
			Msg: "required in a project file: lower-cased (other signs than letters and digits as -) it names the project in commands, logs and metrics"})
	}
	// A project's own data by default: DATA_DIR/projects/NAME/.
	if src.level("gateway.database") < 0 && cfg.Name != "" {
		cfg.Gateway.Database = filepath.Join(cfg.Gateway.DataDir, "projects", cfg.Name, "secgate.db")
	}
	if src.level("team_key.path") < 0 && cfg.Name != "" {
		cfg.TeamKey.Path = filepath.Join(cfg.Gateway.DataDir, "projects", cfg.Name, "team-key.asc")
	}
	// A project without a mailbox of its own reads the shared one.
	if cfg.IMAP.Shared && src.level("imap.user") < 1 {
		cfg.SharesMailbox = true
		for _, k := range sharedIMAPKeys {
			if src.level(k) == 1 {
				errs = append(errs, &ConfigError{File: file, Line: lines.find(k), Key: k,
					Msg: fmt.Sprintf("the project reads the shared mailbox (imap.shared in %s), whose [imap] the top file sets: set imap.user too for a mailbox of its own", topPath)})
			}
		}
	}
	if err := cfg.finish(src); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return &cfg, nil
}

// crossCheck returns what the projects may not share: a name, a team (or
// sending or bounce) address, a team key file, a database, a mailbox (user
// and server), a push listener, an artifacts directory. Each problem names
// both files and is located in the later one.
func (s *ProjectSet) crossCheck() []error {
	var errs []error
	type owner struct {
		p   *Config
		key string
	}
	seen := map[string]owner{}
	claim := func(p *Config, key, what, value string) {
		if value == "" {
			return
		}
		id := what + "\x00" + value
		o, ok := seen[id]
		if !ok {
			seen[id] = owner{p, key}
			return
		}
		if o.p == p {
			return
		}
		file, line := p.locate(key)
		errs = append(errs, &ConfigError{File: file, Line: line, Key: key,
			Msg: fmt.Sprintf("%s %q is also project %s's (%s, %s): each project has its own", what, value, o.p.Name, o.p.File, o.key)})
	}
	for _, p := range s.Projects {
		claim(p, "project.name", "name", p.Name)
		dc := p.packageDistlist()
		for _, a := range []struct{ key, addr string }{{"gateway.team", p.Gateway.Team}, {"distlist.from", dc.From}, {"distlist.bounce", dc.Bounce}} {
			claim(p, a.key, "address", strings.ToLower(a.addr))
		}
		for _, a := range p.Project.Addresses {
			claim(p, "project.addresses", "address", strings.ToLower(a))
		}
		claim(p, "team_key.path", "team key file", filepath.Clean(p.TeamKey.Path))
		claim(p, "gateway.database", "database", filepath.Clean(p.Gateway.Database))
		if d := p.Schedule.ArtifactsDir; d != "" {
			claim(p, "schedule.artifacts_dir", "artifacts directory", filepath.Clean(d))
		}
		if p.SharesMailbox {
			continue // the shared mailbox and its push listener: below
		}
		if p.IMAP.User != "" && p.IMAP.Address != "" {
			claim(p, "imap.user", "mailbox", strings.ToLower(p.IMAP.User)+" on "+strings.ToLower(p.IMAP.Address))
		}
		claim(p, "imap.push_listen", "push listener", p.IMAP.PushListen)
	}
	return append(errs, s.checkShared()...)
}

// checkShared checks the shared mailbox (imap.shared): a default project
// that shares it when more than one does, and no project reading it, or
// listening on its push listener, as a mailbox of its own.
func (s *ProjectSet) checkShared() []error {
	t := s.Top.IMAP
	if !t.Shared || s.partial {
		return nil
	}
	var errs []error
	topErr := func(key, format string, args ...any) {
		file, line := s.Top.locate(key)
		errs = append(errs, &ConfigError{File: file, Line: line, Key: key, Msg: fmt.Sprintf(format, args...)})
	}
	sharing := s.Sharing()
	var names []string
	for _, p := range sharing {
		names = append(names, p.Name)
	}
	switch {
	case len(sharing) == 0:
		topErr("imap.shared", "no project reads the shared mailbox: each sets an imap.user of its own")
	case t.DefaultProject == "" && len(sharing) > 1:
		topErr("imap.shared", "set imap.default_project, the project whose quarantine holds the mail that no project, or several, own: %s share the mailbox",
			strings.Join(names, ", "))
	case t.DefaultProject != "" && !slices.Contains(names, t.DefaultProject):
		msg := fmt.Sprintf("%q is not a project reading the shared mailbox (%s)", t.DefaultProject, strings.Join(names, ", "))
		if s.Project(t.DefaultProject) != nil {
			msg = fmt.Sprintf("project %s reads a mailbox of its own (imap.user); the default project is one reading the shared mailbox (%s)",
				t.DefaultProject, strings.Join(names, ", "))
		}
		topErr("imap.default_project", "%s", msg)
	}
	if len(sharing) == 0 {
		return errs
	}
	shared := strings.ToLower(t.User) + " on " + strings.ToLower(t.Address)
	for _, p := range s.Projects {
		if p.SharesMailbox {
			continue
		}
		if strings.ToLower(p.IMAP.User)+" on "+strings.ToLower(p.IMAP.Address) == shared {
			file, line := p.locate("imap.user")
			errs = append(errs, &ConfigError{File: file, Line: line, Key: "imap.user",
				Msg: fmt.Sprintf("mailbox %q is the shared mailbox (%s, imap.shared) that %s read: remove imap.user to share it, or give the project a mailbox of its own",
					shared, s.File, strings.Join(names, ", "))})
		}
		if l := p.IMAP.PushListen; l != "" && l == t.PushListen {
			file, line := p.locate("imap.push_listen")
			errs = append(errs, &ConfigError{File: file, Line: line, Key: "imap.push_listen",
				Msg: fmt.Sprintf("push listener %q is the shared mailbox's (%s): set another in %s for project %s's own mailbox, or push_listen = \"\"", l, s.File, p.File, p.Name)})
		}
	}
	return errs
}

// dedupe drops repeated errors: a problem of the top file is found again
// in every project made from it.
func dedupe(errs []error) []error {
	var out []error
	seen := map[string]bool{}
	var add func(e error)
	add = func(e error) {
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, p := range j.Unwrap() {
				add(p)
			}
			return
		}
		if !seen[e.Error()] {
			seen[e.Error()] = true
			out = append(out, e)
		}
	}
	for _, e := range errs {
		add(e)
	}
	return out
}

// shortName is a project's short name from its display name: lower-cased,
// every run of other signs than letters and digits written as one "-"
// ("Kata Containers": kata-containers).
func shortName(display string) string {
	var b strings.Builder
	sep := false
	for _, r := range strings.ToLower(display) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			if sep && b.Len() > 0 {
				b.WriteByte('-')
			}
			sep = false
			b.WriteRune(r)
			continue
		}
		sep = true
	}
	return b.String()
}

// projectName is the project's short name: Name once loaded, else made
// from [project] name, else "default".
func (c *Config) projectName() string {
	if c.Name != "" {
		return c.Name
	}
	if n := shortName(c.Project.Name); n != "" {
		return n
	}
	return "default"
}

// resolveKeyFiles makes the relative key files of members and list
// entries absolute against dir: each is relative to the file naming it.
func (c *Config) resolveKeyFiles(dir string) {
	abs := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	for i := range c.Distlist.Members {
		abs(&c.Distlist.Members[i].KeyFile)
	}
	for i := range c.Distlist.Lists {
		for j := range c.Distlist.Lists[i].Recipients {
			abs(&c.Distlist.Lists[i].Recipients[j].KeyFile)
		}
	}
}

// resetArrays empties every array (of values or of tables) of v that raw,
// a decoded TOML document, sets, so that decoding raw replaces it whole.
func resetArrays(v reflect.Value, raw map[string]any) {
	for k, val := range raw {
		f, ok := fieldByKey(v.Type(), k)
		if !ok {
			continue
		}
		fv := v.FieldByIndex(f.Index)
		switch {
		case fv.Kind() == reflect.Slice:
			fv.Set(reflect.Zero(fv.Type()))
		case fv.Kind() == reflect.Struct:
			if sub, ok := val.(map[string]any); ok {
				resetArrays(fv, sub)
			}
		}
	}
}

// defined reports whether the dotted key is set in raw.
func defined(raw map[string]any, key string) bool {
	parts := strings.Split(key, ".")
	m := raw
	for i, p := range parts {
		v, ok := m[p]
		if !ok {
			return false
		}
		if i == len(parts)-1 {
			return true
		}
		if m, ok = v.(map[string]any); !ok {
			return false
		}
	}
	return false
}

// configSource says where a configuration's keys come from: one file, or
// a project file over the top file (least specific first).
type configSource struct {
	files []string
	lines []lineIndex
}

// level is the index of the most specific file setting key, -1 when none
// does.
func (s *configSource) level(key string) int {
	for i := len(s.files) - 1; i >= 0; i-- {
		if _, ok := s.lines[i][key]; ok {
			return i
		}
	}
	return -1
}

// locate returns the file and line of key: the most specific file setting
// it; when none does, the most specific file (a project's own), at the
// line of key's closest enclosing table there, or 0.
func (s *configSource) locate(key string) (string, int) {
	if i := s.level(key); i >= 0 {
		return s.files[i], s.lines[i][key]
	}
	last := len(s.files) - 1
	return s.files[last], s.lines[last].find(key)
}

// locate is the file and line of key in c's configuration.
func (c *Config) locate(key string) (string, int) {
	if c.src == nil {
		return c.File, 0
	}
	file, line := c.src.locate(key)
	if line == 0 {
		file = c.File
	}
	return file, line
}

// caseCount counts the cases in a project's database, read-only; -1 when
// there is no database yet.
func caseCount(path string) (int, error) {
	if _, err := os.Stat(path); err != nil {
		return -1, nil
	}
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		return 0, err
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM cases`).Scan(&n); err != nil {
		return 0, fmt.Errorf("database %s: %w", path, err)
	}
	return n, nil
}

// hasCase reports whether the project's database holds case ref,
// read-only; false when there is no database.
func hasCase(path, ref string) (bool, error) {
	if _, err := os.Stat(path); err != nil {
		return false, nil
	}
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		return false, err
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM cases WHERE ref = ?`, ref).Scan(&n); err != nil {
		return false, fmt.Errorf("database %s: %w", path, err)
	}
	if n == 0 {
		// An archived case names its project too (-archive reads it).
		if err := db.QueryRow(`SELECT count(*) FROM archived_case WHERE ref = ?`, ref).Scan(&n); err != nil && !strings.Contains(err.Error(), "no such table") {
			return false, fmt.Errorf("database %s: %w", path, err)
		}
	}
	return n > 0, nil
}
