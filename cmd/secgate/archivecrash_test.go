package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/secgate/secgate/cases"
	"github.com/secgate/secgate/internal/clock"
)

// runArchiveProc runs `secgate archive` as a subprocess, killed with
// SIGKILL at the step killAt names ("": never, see killAt); killed
// reports that it was.
func runArchiveProc(t *testing.T, bin string, f *archiveFixture, killAt string) (out string, killed bool) {
	t.Helper()
	cmd := exec.Command(bin, "archive", "-config", f.cfg, "-before", archiveBefore)
	cmd.Env = append(os.Environ(), "SECGATE_PASSPHRASE="+testPass, archiveKillEnv+"="+killAt)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	b, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			return string(b), true
		}
	}
	if err != nil {
		t.Fatalf("secgate archive: %v\n%s", err, b)
	}
	return string(b), false
}

// checkArchiveWhole checks what a kill may leave: every case whole in the
// project's database, or whole in the archive and gone from the
// project's but for its audit chain, or (a move cut between its two
// transactions) whole in both; never partly anywhere, never twice; and
// both audit logs verify.
func checkArchiveWhole(t *testing.T, f *archiveFixture, before map[string]map[string]int) (moved int) {
	t.Helper()
	for ref, want := range before {
		id := f.ids[ref]
		live, arch := countCase(t, f.db, id), countCase(t, f.arch, id)
		archWhole := arch != nil && sameCounts(arch, want)
		archEmpty := arch == nil || sameCounts(arch, map[string]int{"cases": 0, "messages": 0, "attachments": 0, "pieces": 0,
			"team": 0, "audit": 0, "outbox": 0, "bytes": 0, "attempts": 0})
		switch {
		case sameCounts(live, want) && (archWhole || archEmpty):
		case live["cases"] == 0 && archWhole && live["audit"] == want["audit"] && live["messages"] == 0 && live["outbox"] == 0 && live["pieces"] == 0:
			moved++
		default:
			t.Fatalf("%s: before %v; now live %v, archive %v", ref, want, live, arch)
		}
	}
	for _, args := range [][]string{{"audit", "verify", "-config", f.cfg}, {"audit", "verify", "-config", f.cfg, "-archive"}} {
		if !fileExists(f.arch) && len(args) == 5 {
			continue
		}
		if code, out, errs := runCLI(t, f.env, args...); code != 0 {
			t.Fatalf("%v: exit %d: %s %s", args, code, out, errs)
		}
	}
	return moved
}

// dbCounts counts the rows of every table of the database at path.
func dbCounts(t *testing.T, path string) map[string]int {
	t.Helper()
	db, err := openRO(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for rows.Next() {
		var n string
		rows.Scan(&n)
		names = append(names, n)
	}
	rows.Close()
	out := map[string]int{}
	for _, n := range names {
		var c int
		if err := db.QueryRow(`SELECT count(*) FROM ` + n).Scan(&c); err != nil {
			t.Fatal(err)
		}
		out[n] = c
	}
	return out
}

// TestArchiveCrash kills `secgate archive` with SIGKILL again and again on
// the same databases: after each of the first rows it writes inside the
// archive's open transaction, after a copy is committed (between the two
// transactions of a move), after a delete is committed; then at its first
// step, its second, and so on, until a run ends by itself, so that kills
// land in the recovery of the ones before too. After each kill nothing is
// lost or twice and both logs verify; the run that ends finishes the job;
// the next changes nothing.
func TestArchiveCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the secgate binary")
	}
	const done = 8
	f := newArchiveFixture(t, done)
	bin := buildSecgate(t, t.TempDir())
	before := map[string]map[string]int{}
	for ref, id := range f.ids {
		before[ref] = countCase(t, f.db, id)
	}
	var points []string
	for k := 1; k <= 14; k++ {
		points = append(points, fmt.Sprintf("row:%d", k))
	}
	points = append(points, "copied:1", "copied:1", "copied:2", "moved:1", "copied:1", "moved:2", "moved:1")
	for k := 1; k <= 300; k++ {
		points = append(points, strconv.Itoa(k))
	}
	kills := 0
	landed := map[string]int{}
	for i, at := range points {
		if i == len(points)-1 {
			t.Fatal("secgate archive never ended by itself")
		}
		out, killed := runArchiveProc(t, bin, f, at)
		moved := checkArchiveWhole(t, f, before)
		if !killed {
			if moved != done || !strings.Contains(out, "1 case kept") {
				t.Fatalf("the run that ended moved %d cases of %d:\n%s", moved, done, out)
			}
			if i < 21 {
				t.Fatalf("a run ended by itself before every kill point was tried (at %s)", at)
			}
			break
		}
		kills++
		if _, step, ok := strings.Cut(out, "killed after step "); ok {
			landed[strings.TrimSpace(step)]++
		}
	}
	for _, step := range []string{"row", "copied", "moved"} {
		if landed[step] == 0 {
			t.Errorf("no kill after a step %s (kills: %v)", step, landed)
		}
	}
	t.Logf("%d kills: %v", kills, landed)
	liveBefore, archBefore := dbCounts(t, f.db), dbCounts(t, f.arch)
	out, _ := runArchiveProc(t, bin, f, "")
	if !strings.Contains(out, "archived 0 cases") {
		t.Errorf("the run after the job was done: %s", out)
	}
	if live, arch := dbCounts(t, f.db), dbCounts(t, f.arch); fmt.Sprint(live) != fmt.Sprint(liveBefore) || fmt.Sprint(arch) != fmt.Sprint(archBefore) {
		t.Errorf("a run with nothing to do changed the databases:\nlive %v\nwas  %v\narchive %v\nwas     %v", live, liveBefore, arch, archBefore)
	}
}

// TestArchiveWhileGatewayWrites runs `secgate archive` while the gateway
// (this test process, through the same code serve runs) opens cases and
// writes audit events in the same database: archive may run while serve
// runs. Both wait for the other's short transactions; nothing fails, new
// cases take fresh ids and numbers, and both logs verify.
func TestArchiveWhileGatewayWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the secgate binary")
	}
	f := newArchiveFixture(t, 6)
	bin := buildSecgate(t, t.TempDir())
	cfg, err := LoadConfig(f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	g := openArchiveGateway(t, cfg, clock.NewFake(fixtureTime))
	defer g.db.Close()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var werr error
	var opened []*cases.Case
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ctx.Err() == nil; i++ {
			werr = g.db.Tx(ctx, func(tx *sql.Tx) error {
				if err := g.w.Audit(ctx, tx, cases.GatewayLog, cases.ActorGateway, "refused", fmt.Sprintf("test event %d", i), ""); err != nil {
					return err
				}
				if i%5 != 0 {
					return nil
				}
				c, err := g.w.OpenCase(ctx, tx, cases.Report{MessageID: fmt.Sprintf("<busy%d@example.net>", i), From: "rita@example.net",
					Subject: "report", Text: "more", Received: fixtureTime})
				if err != nil {
					return err
				}
				opened = append(opened, c)
				return nil
			})
			if werr != nil {
				if ctx.Err() != nil {
					werr = nil
				}
				return
			}
		}
	}()
	out, _ := runArchiveProc(t, bin, f, "")
	cancel()
	wg.Wait()
	if werr != nil {
		t.Fatalf("the gateway's writes failed while archive ran: %v", werr)
	}
	if !strings.Contains(out, "archived 6 cases") {
		t.Errorf("archive: %s", out)
	}
	seen := map[string]bool{}
	for _, ref := range f.done {
		seen[ref] = true
	}
	for _, c := range opened {
		if seen[c.Ref] {
			t.Errorf("case %s opened while archiving reuses a reference", c.Ref)
		}
		seen[c.Ref] = true
	}
	t.Logf("%d cases opened while archiving", len(opened))
	for _, args := range [][]string{{}, {"-archive"}} {
		if code, out, errs := runCLI(t, f.env, append([]string{"audit", "verify", "-config", f.cfg}, args...)...); code != 0 {
			t.Errorf("audit verify %v: exit %d: %s %s", args, code, out, errs)
		}
	}
}
