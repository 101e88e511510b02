package cases

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/secgate/secgate/templates"
)

// CommandLines returns the lines of text that Parse would take as commands,
// valid or not: a "/" and a command name (known or not; "/etc/passwd" is
// not one) at the start of a line, outside quoted lines, an armored key
// after /list, and the signature. The
// reporter's "/agree CODE" (see considerConsent) and a distributor's
// "/ack CODE" (the acknowledgement of a notice) are theirs, not team
// commands, and are left out. At most maxCommands lines are returned.
//
// Only a team member's signed mail runs commands. Intake looks for these
// lines in the mail of everyone else on a case (the reporter, a
// distributor, a stranger), so that the audit log, the team and, where the
// gateway may write to them, the sender learn that they were not applied.
func CommandLines(text string) []Command {
	text = strings.ReplaceAll(text, "\r\n", "\n")
	text = strings.ReplaceAll(text, "\r", "\n")
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		if l == "-- " || l == "--" {
			lines = lines[:i] // the signature
			break
		}
	}
	// Untrusted-text markers are not honoured here (Parse honours them in a
	// member's mail): their tokens go only to members, so in anyone else's
	// mail a marker is the sender's own, and would hide their lines.
	var out []Command
	for i := 0; i < len(lines) && len(out) < maxCommands; i++ {
		line := strings.TrimRight(lines[i], " \t")
		if isQuoted(line) || !strings.HasPrefix(line, "/") {
			continue
		}
		name, _, _ := strings.Cut(line[1:], " ")
		name, _, _ = strings.Cut(name, "\t")
		name = strings.ToLower(name)
		if !namePattern.MatchString(name) {
			continue
		}
		if name != "agree" && name != "ack" {
			out = append(out, Command{Line: i + 1, Raw: line, Name: name})
		}
		// What Parse takes as part of the command: a block's lines, and
		// the armored key after /list.
		if vocabulary[name].block {
			for i+1 < len(lines) {
				next := strings.TrimRight(lines[i+1], " \t")
				if next == "" || isQuoted(next) || strings.HasPrefix(next, "/") {
					break
				}
				i++
			}
		}
		if name == "list" && i+1 < len(lines) && strings.TrimSpace(lines[i+1]) == armorBegin {
			j := i + 1
			for j < len(lines) && strings.TrimSpace(lines[j]) != armorEnd {
				j++
			}
			i = j
		}
	}
	return out
}

// CommandNames names the commands of lines without quoting them, for the
// audit log (which is in clear) and the team: each command of the
// vocabulary once ("/status"), then how many lines name no command of it
// ("2 unknown").
func CommandNames(lines []Command) []string {
	var out []string
	seen := map[string]bool{}
	unknown := 0
	for _, c := range lines {
		if _, ok := vocabulary[c.Name]; !ok {
			unknown++
			continue
		}
		if !seen[c.Name] {
			seen[c.Name] = true
			out = append(out, "/"+c.Name)
		}
	}
	if unknown > 0 {
		out = append(out, fmt.Sprintf("%d unknown", unknown))
	}
	return out
}

// refuseCommandLines records in c's audit log, as a refusal by actor, that
// the lines of message m that read as commands were not applied: its
// author is not a team member (a member's mail is a command mail, never a
// message of the case). The detail names the commands, never the text
// (the log is in clear), and says what the sender was told (m.Told).
func (w *Workflow) refuseCommandLines(ctx context.Context, tx *sql.Tx, c *Case, actor string, m Message) error {
	lines := CommandLines(m.Text)
	if len(lines) == 0 {
		return nil
	}
	told := m.Told
	if told == "" {
		told = "nobody was told"
	}
	detail := fmt.Sprintf("%s that read as commands (%s) not applied: the sender is not a team member; commands are taken only from team members, in mail signed with their key; %s",
		templates.Count(len(lines), "line"), strings.Join(CommandNames(lines), ", "), told)
	if err := w.Audit(ctx, tx, c.ID, actor, ActionRefused, detail, m.MessageID); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO case_refusal (code, n) VALUES ('not-a-member', 1) ON CONFLICT (code) DO UPDATE SET n = n + 1`); err != nil {
		return fmt.Errorf("cases: count refusal: %w", err)
	}
	return nil
}
