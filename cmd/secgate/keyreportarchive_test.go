package main

import (
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "modernc.org/sqlite"
)

// TestKeyReportArchiveHead: once secgate archive has made an archive
// database, the key report gives the archive's signed audit head to keep
// too, and `audit verify -archive -head FILE` checks the archive against
// it; a rewrite of an archived case's event is reported as the archive's
// log failing, while the project's head is still given.
func TestKeyReportArchiveHead(t *testing.T) {
	f := newArchiveFixture(t, 2)
	out, errs := "", ""
	code := 0
	if code, out, errs = runCLI(t, f.env, "key", "report", "-config", f.cfg); code != 0 {
		t.Fatalf("key report: exit %d: %s %s", code, out, errs)
	}
	if strings.Contains(out, "Archive audit head") {
		t.Errorf("a report before any archive names an archive head:\n%s", out)
	}
	if code, out, errs = runCLI(t, f.env, "archive", "-config", f.cfg, "-before", archiveBefore); code != 0 {
		t.Fatalf("archive: exit %d: %s %s", code, out, errs)
	}
	if code, out, errs = runCLI(t, f.env, "key", "report", "-config", f.cfg); code != 0 {
		t.Fatalf("key report: exit %d: %s %s", code, out, errs)
	}
	live, arch, ok := strings.Cut(out, "Archive audit head to keep")
	if !ok || !strings.Contains(live, "Audit head to keep") || !strings.Contains(arch, "secgate audit verify -archive -head FILE") {
		t.Fatalf("the key report does not give both heads:\n%s", out)
	}
	// The member saves the archive's head from the mail and checks with it.
	head := arch[strings.Index(arch, "secgate audit head"):]
	head = head[:strings.Index(head, "-----END PGP SIGNATURE-----")+len("-----END PGP SIGNATURE-----")] + "\n"
	file := filepath.Join(t.TempDir(), "archive-head.txt")
	if err := os.WriteFile(file, []byte(head), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out, errs = runCLI(t, f.env, "audit", "verify", "-config", f.cfg, "-archive", "-head", file); code != 0 {
		t.Errorf("audit verify -archive -head: exit %d: %s %s", code, out, errs)
	}

	// Someone with write access rewrites an archived event.
	db, err := sql.Open("sqlite", f.arch)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{`DROP TRIGGER case_audit_no_update`,
		`UPDATE case_audit SET detail = 'nothing happened' WHERE id = (SELECT min(id) FROM case_audit WHERE case_id != 0)`} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	code, out, errs = runCLI(t, f.env, "key", "report", "-config", f.cfg)
	if !strings.Contains(out, "THE ARCHIVE'S AUDIT LOG DOES NOT VERIFY") || !strings.Contains(out, "Audit head to keep") {
		t.Errorf("key report after a rewrite of the archive: exit %d:\n%s %s", code, out, errs)
	}
	if code, _, _ = runCLI(t, f.env, "audit", "verify", "-config", f.cfg, "-archive", "-head", file); code == 0 {
		t.Error("audit verify -archive -head passed after the rewrite")
	}
}
