package schedule

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/secgate/secgate/templates"
)

var (
	cveIDRE  = regexp.MustCompile(`^CVE-[0-9]{4}-[0-9]{4,19}$`)
	ghsaRE   = regexp.MustCompile(`^GHSA(-[23456789cfghjmpqrvwx]{4}){3}$`)
	uuidRE   = regexp.MustCompile(`^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-4[0-9A-Fa-f]{3}-[89ABab][0-9A-Fa-f]{3}-[0-9A-Fa-f]{12}$`)
	safeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)
)

// BuildArtifacts renders the files published at disclosure time: the
// advisory (markdown, from the advisory template), the texts for the chat
// channel and the tracking issue, the OSV record and, when
// the case has a CVE ID and the config a CNA organisation ID, the CVE JSON 5
// record. The map is file name → content. Each file is built on its own:
// the ones that could be built are returned with the error of the others.
func BuildArtifacts(cfg ArtifactsConfig, tmpl *templates.Set, d templates.Data, published time.Time) (map[string][]byte, error) {
	c := d.Case
	base := c.Advisory
	if base == "" {
		base = c.Ref
	}
	base = safeName.ReplaceAllString(base, "_")
	files := map[string][]byte{}
	var errs []error
	if adv, err := tmpl.Render(templates.Advisory, d); err != nil {
		errs = append(errs, fmt.Errorf("schedule: advisory: %w", err))
	} else {
		files[base+".md"] = []byte(adv.Body)
	}
	// The texts to post in the chat channel and as the tracking issue.
	if chat, err := tmpl.Render(templates.AnnouncementChat, d); err != nil {
		errs = append(errs, fmt.Errorf("schedule: chat announcement: %w", err))
	} else {
		files[base+".chat.txt"] = []byte(chat.Body)
	}
	if issue, err := tmpl.Render(templates.AnnouncementIssue, d); err != nil {
		errs = append(errs, fmt.Errorf("schedule: issue announcement: %w", err))
	} else {
		files[base+".issue.md"] = []byte("# " + issue.Subject + "\n\n" + issue.Body)
	}
	if osv, err := OSVRecord(cfg, c, published); err != nil {
		errs = append(errs, err)
	} else {
		files[base+".osv.json"] = osv
	}
	switch {
	case c.CVE == "":
	case cfg.CNAOrgID == "":
		errs = append(errs, fmt.Errorf("schedule: CVE record of %s not written: [schedule.artifacts] cna_org_id is not set "+
			"(a CVE JSON 5 record names the CNA that assigned the ID by its UUID)", c.CVE))
	default:
		if cve, err := CVERecord(cfg, c, published); err != nil {
			errs = append(errs, err)
		} else {
			files[c.CVE+".json"] = cve
		}
	}
	return files, errors.Join(errs...)
}

// WriteArtifacts writes files into dir, each atomically (temporary file,
// fsync, rename), and returns the paths written, sorted.
func WriteArtifacts(dir string, files map[string][]byte) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("schedule: artifacts dir: %w", err)
	}
	var paths []string
	for name, data := range files {
		if name != filepath.Base(name) || strings.HasPrefix(name, ".") {
			return nil, fmt.Errorf("schedule: artifact name %q", name)
		}
		p := filepath.Join(dir, name)
		f, err := os.CreateTemp(dir, ".tmp-"+name+"-*")
		if err != nil {
			return nil, fmt.Errorf("schedule: write %s: %w", name, err)
		}
		_, werr := f.Write(data)
		serr := f.Sync()
		cerr := f.Close()
		if err := errors.Join(werr, serr, cerr); err != nil {
			os.Remove(f.Name())
			return nil, fmt.Errorf("schedule: write %s: %w", name, err)
		}
		if err := os.Chmod(f.Name(), 0o644); err != nil {
			os.Remove(f.Name())
			return nil, fmt.Errorf("schedule: write %s: %w", name, err)
		}
		if err := os.Rename(f.Name(), p); err != nil {
			os.Remove(f.Name())
			return nil, fmt.Errorf("schedule: write %s: %w", name, err)
		}
		paths = append(paths, p)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	sort.Strings(paths)
	return paths, nil
}

func isURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}

func advisoryURL(cfg ArtifactsConfig, c templates.CaseData) string {
	if cfg.AdvisoryURL == "" || c.Advisory == "" {
		return ""
	}
	return strings.TrimRight(cfg.AdvisoryURL, "/") + "/" + url.PathEscape(c.Advisory)
}

func orDefault(s, d string) string {
	if strings.TrimSpace(s) == "" {
		return d
	}
	return s
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}

// ---- CVE JSON 5 ----

type cveRecord struct {
	DataType    string        `json:"dataType"`
	DataVersion string        `json:"dataVersion"`
	CVEMetadata cveMetadata   `json:"cveMetadata"`
	Containers  cveContainers `json:"containers"`
}

type cveMetadata struct {
	CVEID             string `json:"cveId"`
	AssignerOrgID     string `json:"assignerOrgId"`
	AssignerShortName string `json:"assignerShortName,omitempty"`
	State             string `json:"state"`
	DatePublished     string `json:"datePublished,omitempty"`
	DateUpdated       string `json:"dateUpdated,omitempty"`
}

type cveContainers struct {
	CNA cveCNA `json:"cna"`
}

type cveCNA struct {
	ProviderMetadata struct {
		OrgID     string `json:"orgId"`
		ShortName string `json:"shortName,omitempty"`
	} `json:"providerMetadata"`
	Title        string           `json:"title,omitempty"`
	DatePublic   string           `json:"datePublic,omitempty"`
	Descriptions []cveText        `json:"descriptions"`
	Affected     []cveProduct     `json:"affected"`
	References   []cveReference   `json:"references"`
	Metrics      []map[string]any `json:"metrics,omitempty"`
	Workarounds  []cveText        `json:"workarounds,omitempty"`
	Credits      []cveCredit      `json:"credits,omitempty"`
	Source       map[string]any   `json:"source,omitempty"`
}

type cveText struct {
	Lang  string `json:"lang"`
	Value string `json:"value"`
}

type cveProduct struct {
	Vendor        string       `json:"vendor"`
	Product       string       `json:"product"`
	Repo          string       `json:"repo,omitempty"`
	DefaultStatus string       `json:"defaultStatus,omitempty"`
	Versions      []cveVersion `json:"versions,omitempty"`
}

type cveVersion struct {
	Version         string `json:"version"`
	Status          string `json:"status"`
	VersionType     string `json:"versionType,omitempty"`
	LessThan        string `json:"lessThan,omitempty"`
	LessThanOrEqual string `json:"lessThanOrEqual,omitempty"`
}

type cveReference struct {
	URL  string   `json:"url"`
	Tags []string `json:"tags,omitempty"`
}

type cveCredit struct {
	Lang  string `json:"lang"`
	Value string `json:"value"`
	Type  string `json:"type,omitempty"`
}

// CVERecord builds the CVE JSON 5 record (state PUBLISHED) of a case.
func CVERecord(cfg ArtifactsConfig, c templates.CaseData, published time.Time) ([]byte, error) {
	if !cveIDRE.MatchString(c.CVE) {
		return nil, fmt.Errorf("schedule: CVE record: %q is not a CVE ID", c.CVE)
	}
	if !uuidRE.MatchString(cfg.CNAOrgID) {
		return nil, fmt.Errorf("schedule: CVE record: artifacts.cna_org_id %q is not a UUID", cfg.CNAOrgID)
	}
	ts := published.UTC().Format("2006-01-02T15:04:05Z")
	r := cveRecord{DataType: "CVE_RECORD", DataVersion: "5.1"}
	r.CVEMetadata = cveMetadata{CVEID: c.CVE, AssignerOrgID: cfg.CNAOrgID, State: "PUBLISHED", DatePublished: ts, DateUpdated: ts}
	if n := len(cfg.CNAShortName); n >= 2 && n <= 32 {
		r.CVEMetadata.AssignerShortName = cfg.CNAShortName
	}
	cna := &r.Containers.CNA
	cna.ProviderMetadata.OrgID = cfg.CNAOrgID
	cna.ProviderMetadata.ShortName = r.CVEMetadata.AssignerShortName
	if c.Title != "" {
		cna.Title = truncate(c.Title, 256)
	}
	cna.DatePublic = ts
	cna.Descriptions = []cveText{{Lang: "en", Value: truncate(orDefault(c.Impact, orDefault(c.Title, "See the advisory.")), 4096)}}
	prod := cveProduct{
		Vendor:  truncate(orDefault(cfg.Vendor, "N/A"), 512),
		Product: truncate(orDefault(c.Component, orDefault(cfg.Product, "N/A")), 2048),
		Repo:    "",
	}
	if isURL(cfg.Repo) {
		prod.Repo = cfg.Repo
	}
	if rs, ok := parseAffected(c.Affected, c.Fixed); ok {
		seen := map[cveVersion]bool{}
		add := func(v cveVersion) {
			if !seen[v] {
				seen[v] = true
				prod.Versions = append(prod.Versions, v)
			}
		}
		for _, vr := range rs {
			switch {
			case vr.Exact != "":
				add(cveVersion{Version: vr.Exact, Status: "affected"})
			case vr.Fixed != "":
				add(cveVersion{Version: vr.Introduced, Status: "affected", VersionType: "semver", LessThan: vr.Fixed})
			case vr.LastAffected != "":
				add(cveVersion{Version: vr.Introduced, Status: "affected", VersionType: "semver", LessThanOrEqual: vr.LastAffected})
			default:
				add(cveVersion{Version: vr.Introduced, Status: "affected"})
			}
		}
		prod.DefaultStatus = "unaffected"
	} else if strings.TrimSpace(c.Affected) != "" {
		prod.Versions = []cveVersion{{Version: truncate(c.Affected, 1024), Status: "affected"}}
		prod.DefaultStatus = "unknown"
	} else {
		prod.DefaultStatus = "unknown"
	}
	cna.Affected = []cveProduct{prod}
	seen := map[string]bool{}
	addRef := func(u string, tags ...string) {
		if isURL(u) && !seen[u] {
			seen[u] = true
			cna.References = append(cna.References, cveReference{URL: u, Tags: tags})
		}
	}
	addRef(advisoryURL(cfg, c), "vendor-advisory")
	for _, p := range c.Patches {
		addRef(p, "patch")
	}
	addRef(c.Release, "release-notes")
	for _, u := range c.References {
		addRef(u)
	}
	if len(cna.References) == 0 {
		return nil, fmt.Errorf("schedule: CVE record %s: a CVE record needs at least one reference URL (set artifacts.advisory_url or add references)", c.CVE)
	}
	if m := cvssMetric(c); m != nil {
		cna.Metrics = []map[string]any{m}
	}
	if c.Mitigation != "" {
		cna.Workarounds = []cveText{{Lang: "en", Value: truncate(c.Mitigation, 4096)}}
	}
	if c.CreditConsent && c.Credit != "" {
		cna.Credits = []cveCredit{{Lang: "en", Value: truncate(c.Credit, 4096), Type: "finder"}}
	}
	cna.Source = map[string]any{"discovery": "EXTERNAL"}
	return json.MarshalIndent(r, "", "  ")
}

func cvssMetric(c templates.CaseData) map[string]any {
	sev := strings.ToUpper(c.Severity)
	switch sev {
	case "NONE", "LOW", "MEDIUM", "HIGH", "CRITICAL":
	default:
		return nil
	}
	body := map[string]any{"vectorString": c.CVSSVector, "baseScore": c.CVSSScore, "baseSeverity": sev}
	switch {
	case strings.HasPrefix(c.CVSSVector, "CVSS:3.1/"):
		body["version"] = "3.1"
		return map[string]any{"format": "CVSS", "cvssV3_1": body}
	case strings.HasPrefix(c.CVSSVector, "CVSS:4.0/"):
		body["version"] = "4.0"
		return map[string]any{"format": "CVSS", "cvssV4_0": body}
	}
	return nil
}

// ---- OSV ----

type osvRecord struct {
	SchemaVersion string         `json:"schema_version"`
	ID            string         `json:"id"`
	Modified      string         `json:"modified"`
	Published     string         `json:"published"`
	Aliases       []string       `json:"aliases,omitempty"`
	Summary       string         `json:"summary,omitempty"`
	Details       string         `json:"details,omitempty"`
	Severity      []osvSeverity  `json:"severity,omitempty"`
	Affected      []osvAffected  `json:"affected"`
	References    []osvReference `json:"references,omitempty"`
	Credits       []osvCredit    `json:"credits,omitempty"`
}

type osvSeverity struct {
	Type  string `json:"type"`
	Score string `json:"score"`
}

type osvAffected struct {
	Package struct {
		Ecosystem string `json:"ecosystem"`
		Name      string `json:"name"`
	} `json:"package"`
	Ranges   []osvRange `json:"ranges,omitempty"`
	Versions []string   `json:"versions,omitempty"`
}

type osvRange struct {
	Type   string              `json:"type"`
	Events []map[string]string `json:"events"`
}

type osvReference struct {
	Type string `json:"type"`
	URL  string `json:"url"`
}

type osvCredit struct {
	Name string `json:"name"`
	Type string `json:"type,omitempty"`
}

// OSVID is the ID of a case's OSV record: its GHSA ID when it has one,
// otherwise the configured local prefix and the advisory ID or case ref.
func OSVID(cfg ArtifactsConfig, c templates.CaseData) string {
	if ghsaRE.MatchString(c.Advisory) {
		return c.Advisory
	}
	local := c.Advisory
	if local == "" {
		local = c.Ref
	}
	prefix := orDefault(cfg.OSVPrefix, "x_SECGATE")
	return prefix + "-" + safeName.ReplaceAllString(local, "_")
}

// OSVRecord builds the OSV record of a case.
func OSVRecord(cfg ArtifactsConfig, c templates.CaseData, published time.Time) ([]byte, error) {
	ts := published.UTC().Format("2006-01-02T15:04:05Z")
	r := osvRecord{SchemaVersion: "1.7.0", ID: OSVID(cfg, c), Modified: ts, Published: ts}
	for _, a := range []string{c.CVE, c.Advisory} {
		if a != "" && a != r.ID && (cveIDRE.MatchString(a) || ghsaRE.MatchString(a)) {
			r.Aliases = append(r.Aliases, a)
		}
	}
	r.Summary = truncate(c.Title, 120)
	r.Details = strings.TrimSpace(c.Impact)
	if c.Mitigation != "" {
		r.Details = strings.TrimSpace(r.Details + "\n\n### Mitigation\n\n" + c.Mitigation)
	}
	switch {
	case strings.HasPrefix(c.CVSSVector, "CVSS:3."):
		r.Severity = []osvSeverity{{Type: "CVSS_V3", Score: c.CVSSVector}}
	case strings.HasPrefix(c.CVSSVector, "CVSS:4.0/"):
		r.Severity = []osvSeverity{{Type: "CVSS_V4", Score: c.CVSSVector}}
	}
	var aff osvAffected
	aff.Package.Ecosystem = orDefault(cfg.Ecosystem, "Go")
	aff.Package.Name = orDefault(c.Component, orDefault(cfg.Package, orDefault(cfg.Product, "unknown")))
	if rs, ok := parseAffected(c.Affected, c.Fixed); ok {
		rng := osvRange{Type: "ECOSYSTEM"}
		if aff.Package.Ecosystem == "Go" || aff.Package.Ecosystem == "crates.io" || aff.Package.Ecosystem == "npm" {
			rng.Type = "SEMVER"
		}
		for _, vr := range rs {
			switch {
			case vr.Exact != "":
				aff.Versions = append(aff.Versions, vr.Exact)
			default:
				rng.Events = append(rng.Events, map[string]string{"introduced": vr.Introduced})
				if vr.Fixed != "" {
					rng.Events = append(rng.Events, map[string]string{"fixed": vr.Fixed})
				} else if vr.LastAffected != "" {
					rng.Events = append(rng.Events, map[string]string{"last_affected": vr.LastAffected})
				}
			}
		}
		if len(rng.Events) > 0 {
			aff.Ranges = []osvRange{rng}
		}
	} else if strings.TrimSpace(c.Affected) != "" {
		aff.Versions = []string{c.Affected}
	}
	r.Affected = []osvAffected{aff}
	seen := map[string]bool{}
	addRef := func(typ, u string) {
		if isURL(u) && !seen[u] {
			seen[u] = true
			r.References = append(r.References, osvReference{Type: typ, URL: u})
		}
	}
	addRef("ADVISORY", advisoryURL(cfg, c))
	for _, p := range c.Patches {
		addRef("FIX", p)
	}
	addRef("PACKAGE", c.Release) // the fixed release
	for _, u := range c.References {
		addRef("WEB", u)
	}
	if c.CreditConsent && c.Credit != "" {
		r.Credits = []osvCredit{{Name: c.Credit, Type: "FINDER"}}
	}
	return json.MarshalIndent(r, "", "  ")
}
