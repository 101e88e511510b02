package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/secgate/secgate/cases"
	"github.com/secgate/secgate/crypto"
	"github.com/secgate/secgate/distlist"
	"github.com/secgate/secgate/store"
	"github.com/secgate/secgate/templates"
)

// auditVerifyJSON is the result of `secgate audit verify --json`.
type auditVerifyJSON struct {
	Verified bool             `json:"verified"`
	Events   int64            `json:"events"`
	TeamKey  string           `json:"team_key"`
	Chains   []auditChainJSON `json:"chains"`
	Head     *auditHeadJSON   `json:"head"`     // the newest signed head stored; null when there is none
	Unsigned int64            `json:"unsigned"` // events no signed head covers
	Held     []auditHeadJSON  `json:"held"`     // the heads given with -head
	Errors   []string         `json:"errors"`
}

type auditChainJSON struct {
	Case   string `json:"case"` // the case's reference, "gateway" for the gateway log
	CaseID int64  `json:"case_id"`
	Events int    `json:"events"`
	Error  string `json:"error,omitempty"`
}

type auditHeadJSON struct {
	File   string     `json:"file,omitempty"`
	Events int64      `json:"events"`
	Time   *time.Time `json:"time"`
	Hash   string     `json:"hash"`
	Error  string     `json:"error,omitempty"`
}

func toAuditHeadJSON(h cases.HeadCheck, file string) auditHeadJSON {
	j := auditHeadJSON{File: file, Events: h.Events, Time: jsonTime(h.At), Hash: h.Hash}
	if h.Err != nil {
		j.Error = h.Err.Error()
	}
	return j
}

// chainName names a chain for people: the case's reference, or the
// gateway log.
func chainName(ch cases.ChainCheck) string {
	switch {
	case ch.CaseID == cases.GatewayLog:
		return "gateway log"
	case ch.Ref != "":
		return ch.Ref
	}
	return fmt.Sprintf("case %d (gone)", ch.CaseID)
}

// headLine describes a signed head: its time and how many events it covers.
func headLine(h cases.Head) string {
	return fmtTime(h.At) + ", " + templates.Count(int(h.Events), "event")
}

// verifiedAgainst says what a log that verified was verified against.
func verifiedAgainst(chk *cases.AuditCheck) string {
	if chk.Head == nil {
		return "the audit log is empty"
	}
	return fmt.Sprintf("verified against the signed head of %s", headLine(chk.Head.Head))
}

// errAuditLog is what a command returns when the audit log does not verify.
var errAuditLog = errors.New("the audit log does not verify (see secgate audit verify)")

func runAuditVerify(ctx context.Context, a *app, c *command, args []string) error {
	fs := c.flagSet(a)
	sel := configFlag(fs)
	asJSON := jsonFlag(fs)
	var files []string
	fs.Func("head", "also check the log against the signed head in `FILE`, saved from a key report mail (repeatable)", func(s string) error {
		files = append(files, s)
		return nil
	})
	arch := archiveFlag(fs)
	if _, err := c.parse(a, fs, args, 0); err != nil {
		return err
	}
	var held []cases.Head
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return fmt.Errorf("-head: %w", err)
		}
		h, err := cases.ParseHead(b)
		if err != nil {
			return fmt.Errorf("-head %s: %w", f, err)
		}
		held = append(held, h)
	}
	projects, err := sel.projects()
	if err != nil {
		return err
	}
	if len(files) > 0 && len(projects) > 1 {
		// A head a member kept is one project's.
		return fmt.Errorf("-head: %w", sel.needProject(projects))
	}
	return perProject(a, projects, *asJSON, func(a *app, cfg *Config) error {
		acfg, err := archived(cfg, *arch)
		if err != nil {
			return err
		}
		v, err := openView(ctx, a, acfg, false)
		if err != nil {
			return err
		}
		defer v.Close()
		team, err := teamVerifierOf(ctx, a, cfg, v)
		if err != nil {
			return err
		}
		w, err := v.workflow()
		if err != nil {
			return err
		}
		chk, err := w.VerifyAuditLog(ctx, team, held...)
		if err != nil {
			return err
		}
		errs := chk.Errs()

		if *asJSON {
			out := auditVerifyJSON{Verified: len(errs) == 0, Events: chk.Events, TeamKey: team.Fingerprint(), Unsigned: chk.Unsigned,
				Chains: []auditChainJSON{}, Held: []auditHeadJSON{}, Errors: []string{}}
			for _, ch := range chk.Chains {
				cj := auditChainJSON{Case: ch.Ref, CaseID: ch.CaseID, Events: ch.Events}
				if ch.CaseID == cases.GatewayLog {
					cj.Case = "gateway"
				}
				if ch.Err != nil {
					cj.Error = ch.Err.Error()
				}
				out.Chains = append(out.Chains, cj)
			}
			if chk.Head != nil {
				hj := toAuditHeadJSON(*chk.Head, "")
				out.Head = &hj
			}
			for i, h := range chk.Held {
				out.Held = append(out.Held, toAuditHeadJSON(h, files[i]))
			}
			for _, e := range errs {
				out.Errors = append(out.Errors, e.Error())
			}
			if err := a.printJSON(out); err != nil {
				return err
			}
			if len(errs) > 0 {
				return errAuditLog
			}
			return nil
		}

		out := a.stdout
		fmt.Fprintf(out, "audit log: %s in %s\n", templates.Count(int(chk.Events), "event"), templates.Count(len(chk.Chains), "chain"))
		tw := newTable(out)
		for _, ch := range chk.Chains {
			state := "ok"
			if ch.Err != nil {
				state = "BROKEN: " + oneLine(ch.Err)
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", chainName(ch), templates.Count(int(ch.Events), "event"), state)
		}
		tw.Flush()
		switch h := chk.Head; {
		case h == nil && chk.Events == 0:
			fmt.Fprintf(out, "signed head:  none yet (no events)\n")
		case h == nil:
			fmt.Fprintf(out, "signed head:  NONE: no signature covers these events; a database from before signed heads is signed once with secgate audit sign\n")
		case h.Err != nil:
			fmt.Fprintf(out, "signed head:  %s: DOES NOT MATCH: %s\n", headLine(h.Head), oneLine(h.Err))
		default:
			fmt.Fprintf(out, "signed head:  %s, signed by the team key %s: matches\n", headLine(h.Head), team.Fingerprint())
		}
		if h := chk.Head; h != nil && chk.Unsigned > 0 {
			fmt.Fprintf(out, "              %s after it, covered by no signature\n", templates.Count(int(chk.Unsigned), "event"))
		}
		for i, h := range chk.Held {
			if h.Err != nil {
				fmt.Fprintf(out, "held head:    %s (%s): DOES NOT MATCH: %s\n", headLine(h.Head), files[i], oneLine(h.Err))
				continue
			}
			fmt.Fprintf(out, "held head:    %s (%s): matches the log's first %s\n", headLine(h.Head), files[i], templates.Count(int(h.Events), "event"))
		}
		if len(errs) > 0 {
			fmt.Fprintf(out, "audit log: NOT VERIFIED:\n")
			for _, e := range errs {
				fmt.Fprintf(out, "  - %s\n", oneLine(e))
			}
			return errAuditLog
		}
		fmt.Fprintf(out, "audit log: %s\n", verifiedAgainst(chk))
		return nil
	})
}

func runAuditSign(ctx context.Context, a *app, c *command, args []string) error {
	fs := c.flagSet(a)
	sel := configFlag(fs)
	if _, err := c.parse(a, fs, args, 0); err != nil {
		return err
	}
	cfg, err := sel.one()
	if err != nil {
		return err
	}
	v, err := openView(ctx, a, cfg, true)
	if err != nil {
		return err
	}
	defer v.Close()
	w, err := v.workflow()
	if err != nil {
		return err
	}
	h, trusted, err := w.SignAuditHead(ctx)
	if err != nil {
		return err
	}
	if trusted == 0 {
		fmt.Fprintf(a.stdout, "nothing to sign: the signed head of %s covers the whole log\n", headLine(h))
		return nil
	}
	fmt.Fprintf(a.stdout, "signed the audit log as it is: head of %s\n%s covered by no signature until now: taken on trust from now on\n",
		headLine(h), templates.Count(int(trusted), "event"))
	return nil
}

// auditReport is the key report's part about the audit log: the newest
// signed head, for members to keep, and whether the log verifies now.
type auditReport struct {
	text   string // "" when there is nothing to say (no events yet)
	broken bool   // the log does not verify
}

// makeAuditReport checks the audit log with team (the public team key) and
// writes the key report's part about it; archive says w is the archive
// database's (secgate archive), whose log is checked and kept the same way.
func makeAuditReport(ctx context.Context, w *cases.Workflow, team *crypto.Key, archive bool) (auditReport, error) {
	chk, err := w.VerifyAuditLog(ctx, team)
	if err != nil {
		return auditReport{}, err
	}
	log, head, verify, covers := "THE AUDIT LOG", "Audit head", "secgate audit verify", "the audit log, every case's events and the\ngateway's"
	if archive {
		log, head, verify, covers = "THE ARCHIVE'S AUDIT LOG", "Archive audit head", "secgate audit verify -archive",
			"the archive's audit log, the events of every\narchived case and of their moves"
	}
	var r auditReport
	var b strings.Builder
	if errs := chk.Errs(); len(errs) > 0 {
		r.broken = true
		fmt.Fprintf(&b, "%s DOES NOT VERIFY (checked as this report was made):\n", log)
		for _, e := range errs {
			fmt.Fprintf(&b, "  - %s\n", oneLine(e))
		}
		fmt.Fprintf(&b, "Run `%s -head FILE` on the gateway with the head of an earlier report.\n\n", verify)
	}
	// A head is given to keep only when the team key signed it.
	if h := chk.Head; h != nil && h.Verify(team) == nil {
		fmt.Fprintf(&b, "%s to keep (%s):\n"+
			"the team key signed this head of %s. Keep this mail: no later rewrite of those\n"+
			"events can match it. To check the log against it, save the lines from\n"+
			"\"secgate audit head\" to the end of the signature in FILE and run\n"+
			"`%s -head FILE`; gpg --verify checks the signature over the\n"+
			"head's four lines.\n\n%s", head, headLine(h.Head), covers, verify, h.Signed())
	}
	r.text = b.String()
	return r, nil
}

// keyAuditReport is the key report's part about the audit logs: the
// project's (w), then, once secgate archive made one, the archive
// database's, each checked with team and its signed head given to keep.
func keyAuditReport(ctx context.Context, cfg *Config, w *cases.Workflow, team *crypto.Key) (auditReport, error) {
	r, err := makeAuditReport(ctx, w, team, false)
	if err != nil {
		return r, err
	}
	path := archiveFile(cfg.Gateway.Database)
	if !fileExists(path) {
		return r, nil
	}
	acfg, err := archived(cfg, true)
	if err != nil {
		return r, err
	}
	db, err := store.Open(ctx, path)
	if err != nil {
		return r, fmt.Errorf("archive database: %w", err)
	}
	defer db.Close()
	v := &view{cfg: acfg, db: db, dir: distlist.NewDirectory(db, nil, nil)}
	aw, err := v.workflow()
	if err != nil {
		return r, err
	}
	ar, err := makeAuditReport(ctx, aw, team, true)
	if err != nil {
		return r, fmt.Errorf("archive database: %w", err)
	}
	if ar.text != "" {
		r.text += "\n" + ar.text
	}
	r.broken = r.broken || ar.broken
	return r, nil
}

// keyReportMail composes the weekly report mail of week from the key
// report (distlist's KeyReport, "" when no key needs attention) and the
// audit part. send is false when neither has anything to say.
func keyReportMail(week, keys string, audit auditReport) (subject, body string, send bool) {
	if keys == "" && audit.text == "" {
		return "", "", false
	}
	subject = "Key report " + week + ": keys need attention"
	switch {
	case audit.broken:
		subject = "Key report " + week + ": the audit log does not verify"
	case keys == "":
		subject = "Key report " + week + ": the audit head to keep"
	}
	if keys != "" {
		body = keys + "\nA recipient without a usable key gets nothing embargoed. `secgate key report` prints this report.\n"
	} else {
		body = "No key needs attention: every key in use is valid beyond the warning period and no address is flagged for bounces.\n"
	}
	if audit.text != "" {
		body += "\n" + audit.text
	}
	return subject, body, true
}
