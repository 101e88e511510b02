package main

import (
	"cmp"
	"fmt"

	"github.com/secgate/secgate/cases"
	"github.com/secgate/secgate/distlist"
	"github.com/secgate/secgate/intake"
	"github.com/secgate/secgate/schedule"
	"github.com/secgate/secgate/templates"
)

// packageIntake returns the intake configuration with the connection
// settings of the [imap] section filled in.
func (c *Config) packageIntake() intake.Config {
	ic := c.Intake
	ic.Address = c.IMAP.Address
	ic.User = c.IMAP.User
	ic.PasswordFile = c.IMAP.PasswordFile
	ic.TLS = c.IMAP.TLS
	ic.Push = c.IMAP.PushListen != ""
	return ic.WithDefaults()
}

// packageDistlist returns the distlist configuration with the team address,
// the [smtp] section (without its password, which is read at start) and the
// directory key files are relative to.
func (c *Config) packageDistlist() distlist.Config {
	dc := c.Distlist
	if dc.From == "" {
		dc.From = c.Gateway.Team
	}
	dc.BaseDir = c.Dir
	dc.SMTP.Addr = c.SMTP.Address
	dc.SMTP.User = c.SMTP.User
	dc.SMTP.TLS = c.SMTP.TLS
	dc.SMTP.Parallel = c.SMTP.Parallel
	return dc.WithDefaults()
}

// ProjectConfig is the [project] section.
type ProjectConfig struct {
	Name           string `toml:"name" doc:"Project name used in every text." example:"Example"`
	Team           string `toml:"team" doc:"Name of the security team; default: the project name and \"Product Security Team\"."`
	KeyURL         string `toml:"key_url" doc:"Where the team's public key is published."`
	PolicyURL      string `toml:"policy_url" doc:"The project's vulnerability disclosure policy."`
	AdvisoryURL    string `toml:"advisory_url" doc:"Base URL under which advisories are published."`
	AnnounceList   string `toml:"announce_list" doc:"Public announcement list address, named in texts."`
	IssueTracker   string `toml:"issue_tracker" doc:"Public issue tracker URL, named in texts."`
	AdvisoryPrefix string `toml:"advisory_prefix" doc:"Prefix of the project's own advisory IDs (e.g. GHSA, KCSA)."`
	NotePrefix     string `toml:"note_prefix" doc:"Prefix of security note IDs (e.g. KCSN)."`
	CasePrefix     string `toml:"case_prefix" doc:"Prefix of case references, PREFIX-YYYY-NNNN (KN-2026-0001): 2 to 10 upper-case letters and digits, starting with a letter; default SEC. Cases are numbered per prefix and year from 0001; cases opened under an earlier prefix keep their references and stay addressable." example:"SEC"`
	// Addresses route a shared mailbox's mail to the project (#20).
	Addresses []string `toml:"addresses" doc:"Further addresses of the project's team, such as aliases delivered into its mailbox: with a shared mailbox (imap.shared) mail delivered for one of them, or for one with a +detail, is the project's, as is mail for its team, from and bounce addresses."`
}

// checkCasePrefix checks case_prefix: a prefix that makes a reference, and
// not the prefix of the project's advisory or security note IDs, which a
// reference would then read like.
func (p ProjectConfig) checkCasePrefix() error {
	if p.CasePrefix == "" {
		return nil
	}
	if err := cases.CheckPrefix(p.CasePrefix); err != nil {
		return err
	}
	for _, o := range []struct{ what, prefix string }{
		{"advisory IDs (advisory_prefix)", p.AdvisoryPrefix},
		{"security note IDs (note_prefix)", cmp.Or(p.NotePrefix, schedule.DefaultNotePrefix)},
	} {
		if p.CasePrefix == o.prefix {
			return fmt.Errorf("%q is also the prefix of the project's %s: a case reference would read like one", p.CasePrefix, o.what)
		}
	}
	return nil
}

// project returns the names the templates use; fingerprint is the team key's.
func (c *Config) project(fingerprint string) templates.Project {
	p := c.Project
	team := p.Team
	if team == "" {
		team = p.Name + " Product Security Team"
	}
	return templates.Project{
		Name: p.Name, Team: team, TeamAddress: c.Gateway.Team, KeyFingerprint: fingerprint,
		KeyURL: p.KeyURL, PolicyURL: p.PolicyURL, AdvisoryURL: p.AdvisoryURL,
		AnnounceList: p.AnnounceList, IssueTracker: p.IssueTracker,
		AdvisoryPrefix: p.AdvisoryPrefix, NotePrefix: p.NotePrefix, CasePrefix: p.CasePrefix,
	}
}
