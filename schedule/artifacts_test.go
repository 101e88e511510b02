package schedule

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/secgate/secgate/templates"
)

// schemasDir is the directory of the official schemas, vendored with
// their sources and licence terms (testdata/schemas/README.md).
const schemasDir = "testdata/schemas"

func compileSchema(t testing.TB, file string) *jsonschema.Schema {
	t.Helper()
	path := filepath.Join(schemasDir, file)
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("schema %s: %v", path, err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	url := "file:///schemas/" + file
	if err := c.AddResource(url, doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(url)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func validate(t *testing.T, s *jsonschema.Schema, name string, data []byte) {
	t.Helper()
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if err := s.Validate(inst); err != nil {
		t.Errorf("%s does not validate: %v\n%s", name, err, data)
	}
}

var testArtifacts = ArtifactsConfig{
	Vendor:       "Example",
	Product:      "example",
	Ecosystem:    "Go",
	Package:      "example.org/server",
	Repo:         "https://example.org/server.git",
	CNAOrgID:     "6c2a1f0e-3b4d-4e5f-8a9b-0c1d2e3f4a5b",
	CNAShortName: "example",
	OSVPrefix:    "x_EXAMPLE",
	AdvisoryURL:  "https://example.org/advisories",
}

func artifactCases() map[string]templates.CaseData {
	full := templates.Sample().Case
	v4 := full
	v4.CVSSVector = "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"
	v4.CVSSScore, v4.Severity = 9.3, "CRITICAL"
	v4.Affected, v4.Fixed = ">= 1.0.0, < 1.2.3; >= 1.3.0 < 1.3.1", ""
	v4.Advisory = "GHSA-xxxx-xxxx-xxxx"
	v4.Advisory = "GHSA-2c4m-59x4-fv9h"
	freeText := full
	freeText.Affected, freeText.Fixed = "all releases before the December patch", ""
	freeText.CVSSVector, freeText.Severity = "", ""
	freeText.CreditConsent = false
	minimal := templates.CaseData{Ref: "SEC-2026-0002", CVE: "CVE-2026-0002", Advisory: "EXSA-2026-002"}
	exact := full
	exact.Affected, exact.Fixed = "v1.2.0, v1.2.1", "v1.2.2"
	return map[string]templates.CaseData{"full": full, "cvss4-ranges": v4, "free-text": freeText, "minimal": minimal, "exact": exact}
}

func TestArtifactsValidate(t *testing.T) {
	cveSchema := compileSchema(t, "CVE_Record_Format_bundled.json")
	osvSchema := compileSchema(t, "osv-schema.json")
	published := time.Date(2026, 12, 15, 16, 0, 0, 0, time.UTC)
	for name, c := range artifactCases() {
		t.Run(name, func(t *testing.T) {
			cve, err := CVERecord(testArtifacts, c, published)
			if err != nil {
				t.Fatal(err)
			}
			validate(t, cveSchema, "CVE record", cve)
			osv, err := OSVRecord(testArtifacts, c, published)
			if err != nil {
				t.Fatal(err)
			}
			validate(t, osvSchema, "OSV record", osv)
		})
	}
}

func TestArtifactsContent(t *testing.T) {
	published := time.Date(2026, 12, 15, 16, 0, 0, 0, time.UTC)
	c := artifactCases()["cvss4-ranges"]
	osv, err := OSVRecord(testArtifacts, c, published)
	if err != nil {
		t.Fatal(err)
	}
	var rec struct {
		ID       string   `json:"id"`
		Aliases  []string `json:"aliases"`
		Affected []struct {
			Ranges []struct {
				Events []map[string]string `json:"events"`
			} `json:"ranges"`
		} `json:"affected"`
	}
	if err := json.Unmarshal(osv, &rec); err != nil {
		t.Fatal(err)
	}
	if rec.ID != "GHSA-2c4m-59x4-fv9h" || len(rec.Aliases) != 1 || rec.Aliases[0] != "CVE-2026-12345" {
		t.Errorf("id %q aliases %q", rec.ID, rec.Aliases)
	}
	ev, _ := json.Marshal(rec.Affected[0].Ranges[0].Events)
	if string(ev) != `[{"introduced":"1.0.0"},{"fixed":"1.2.3"},{"introduced":"1.3.0"},{"fixed":"1.3.1"}]` {
		t.Errorf("events %s", ev)
	}
	if id := OSVID(testArtifacts, artifactCases()["full"]); id != "x_EXAMPLE-EXSA-2026-001" {
		t.Errorf("local OSV id %q", id)
	}
	// No credit without consent.
	ft := artifactCases()["free-text"]
	cve, _ := CVERecord(testArtifacts, ft, published)
	if bytes.Contains(cve, []byte("Rita")) {
		t.Error("credit published without consent")
	}
	// Bad inputs are errors, not invalid records.
	bad := ft
	bad.CVE = "CVE-12"
	if _, err := CVERecord(testArtifacts, bad, published); err == nil {
		t.Error("bad CVE ID accepted")
	}
	cfg := testArtifacts
	cfg.CNAOrgID = "not-a-uuid"
	if _, err := CVERecord(cfg, ft, published); err == nil {
		t.Error("bad CNA org ID accepted")
	}
}

func TestBuildAndWriteArtifacts(t *testing.T) {
	set, err := templates.Load("")
	if err != nil {
		t.Fatal(err)
	}
	d := templates.Sample()
	files, err := BuildArtifacts(testArtifacts, set, d, d.Case.DiscloseAt)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	paths, err := WriteArtifacts(dir, files)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range paths {
		names = append(names, filepath.Base(p))
	}
	if strings.Join(names, " ") != "CVE-2026-12345.json EXSA-2026-001.chat.txt EXSA-2026-001.issue.md EXSA-2026-001.md EXSA-2026-001.osv.json" {
		t.Errorf("files %v", names)
	}
	md, _ := os.ReadFile(filepath.Join(dir, "EXSA-2026-001.md"))
	if !bytes.HasPrefix(md, []byte("# EXSA-2026-001: Path traversal")) {
		t.Errorf("advisory:\n%s", md)
	}
	if _, err := WriteArtifacts(dir, map[string][]byte{"../x": nil}); err == nil {
		t.Error("path escape accepted")
	}
}

func TestParseAffected(t *testing.T) {
	tests := []struct {
		aff, fixed string
		want       string
		ok         bool
	}{
		{"< 1.2.3", "", "[0,1.2.3)", true},
		{"", "1.2.3", "[0,1.2.3)", true},
		{">= 1.0, < 1.2.3", "", "[1.0,1.2.3)", true},
		{">=1.0 <1.2.3 || >=2.0 <2.0.4", "", "[1.0,1.2.3) [2.0,2.0.4)", true},
		{"<= 1.1.9", "", "[0,1.1.9]", true},
		{">= 1.0", "1.2.3", "[1.0,1.2.3)", true},
		{"v1.2.0, v1.2.1", "", "=1.2.0 =1.2.1", true},
		{"all of them", "", "", false},
		{"< ", "", "", false},
		{"<< 1", "", "", false},
	}
	for _, tc := range tests {
		rs, ok := parseAffected(tc.aff, tc.fixed)
		var parts []string
		for _, r := range rs {
			switch {
			case r.Exact != "":
				parts = append(parts, "="+r.Exact)
			case r.LastAffected != "":
				parts = append(parts, "["+r.Introduced+","+r.LastAffected+"]")
			default:
				parts = append(parts, "["+r.Introduced+","+r.Fixed+")")
			}
		}
		if got := strings.Join(parts, " "); ok != tc.ok || (ok && got != tc.want) {
			t.Errorf("parseAffected(%q, %q) = %q %v, want %q %v", tc.aff, tc.fixed, got, ok, tc.want, tc.ok)
		}
	}
}

func FuzzArtifacts(f *testing.F) {
	f.Add("< 1.2.3", "1.2.3", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "https://x.example/p")
	f.Add(">= 1.0, < 2", "", "", "")
	f.Fuzz(func(t *testing.T, aff, fixed, vector, ref string) {
		c := templates.CaseData{Ref: "SEC-2026-0001", CVE: "CVE-2026-0001", Affected: aff, Fixed: fixed,
			CVSSVector: vector, Severity: "HIGH", References: []string{ref, "https://example.org/a"}}
		if _, err := OSVRecord(testArtifacts, c, time.Unix(0, 0)); err != nil {
			t.Fatal(err)
		}
		if _, err := CVERecord(testArtifacts, c, time.Unix(0, 0)); err != nil {
			t.Fatal(err)
		}
	})
}
