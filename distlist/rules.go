package distlist

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Rules are an embargo list's own terms, which every case's notices to it
// follow besides the case's policy (issue #18: a linux-distros style list
// accepts at most 14 days and tags its subjects [vs]). The zero Rules add
// nothing to the policy.
//
// The two times differ in kind. NoticeBefore is when the plan tells the
// list: at T0 minus it, or at once when that has passed. MaxEmbargo is a
// limit: the list is never told earlier than T0 minus it, neither by the
// plan nor by /notify, forced or not; a re-plan that would stretch an
// embargo the list already knows beyond it must be forced.
type Rules struct {
	MaxEmbargo   time.Duration // longest time between the list's notice and T0 it accepts (0: the policy's)
	NoticeBefore time.Duration // the plan tells the list at T0 minus this (0: as early as MaxEmbargo and the policy allow)
	NoPreRelease bool          // the list gets no pre-release notice
	RequireCVE   bool          // the list is told only of a case with a CVE ID
	SubjectTag   string        // prefixed to the Subject of its notices ("[vs]")
}

// IsZero reports whether r adds nothing to the policy.
func (r Rules) IsZero() bool { return r == Rules{} }

// Lead is how long before T0 the plan tells the list (0: the policy
// decides): NoticeBefore, else MaxEmbargo.
func (r Rules) Lead() time.Duration {
	if r.NoticeBefore > 0 {
		return r.NoticeBefore
	}
	return r.MaxEmbargo
}

// Rules are the rules of lc, from its configuration.
func (lc ListConfig) Rules() Rules {
	r := Rules{MaxEmbargo: lc.MaxEmbargo, NoticeBefore: lc.NoticeBefore, RequireCVE: lc.RequireCVE,
		SubjectTag: strings.TrimSpace(lc.SubjectTag)}
	if lc.PreReleaseNotice != nil {
		r.NoPreRelease = !*lc.PreReleaseNotice
	}
	return r
}

// maxSubjectTag is the longest subject tag, in characters.
const maxSubjectTag = 32

// RuleProblem is a mistake in the rules of a configured list: Key is the
// key at fault (max_embargo, notice_before, subject_tag, kind).
type RuleProblem struct {
	Key string
	Msg string
}

// RuleProblems are the mistakes in the rules of list lc: negative times, a
// notice earlier than the list accepts, a subject tag that is not one short
// line, rules on a list that gets no embargo notice.
func (lc ListConfig) RuleProblems() []RuleProblem {
	r := lc.Rules()
	if r.IsZero() {
		return nil
	}
	var ps []RuleProblem
	if lc.Kind != KindEmbargo {
		ps = append(ps, RuleProblem{"kind", fmt.Sprintf("max_embargo, notice_before, pre_release_notice, require_cve and subject_tag are the rules of an embargo list, not of a list of kind %s", lc.Kind)})
	}
	if r.MaxEmbargo < 0 {
		ps = append(ps, RuleProblem{"max_embargo", "must not be negative"})
	}
	if r.NoticeBefore < 0 {
		ps = append(ps, RuleProblem{"notice_before", "must not be negative"})
	}
	if r.MaxEmbargo > 0 && r.NoticeBefore > r.MaxEmbargo {
		ps = append(ps, RuleProblem{"notice_before", fmt.Sprintf("%s is longer than max_embargo %s: the list would be told earlier than it accepts", r.NoticeBefore, r.MaxEmbargo)})
	}
	if err := checkSubjectTag(r.SubjectTag); err != nil {
		ps = append(ps, RuleProblem{"subject_tag", err.Error()})
	}
	return ps
}

// CheckRules reports the RuleProblems of lc as one error.
func (lc ListConfig) CheckRules() error {
	ps := lc.RuleProblems()
	if len(ps) == 0 {
		return nil
	}
	var errs []string
	for _, p := range ps {
		errs = append(errs, p.Key+": "+p.Msg)
	}
	return fmt.Errorf("list %q: %s", lc.Name, strings.Join(errs, "; "))
}

func checkSubjectTag(tag string) error {
	if utf8.RuneCountInString(tag) > maxSubjectTag || !utf8.ValidString(tag) {
		return fmt.Errorf("%q: at most %d characters of UTF-8", tag, maxSubjectTag)
	}
	for _, c := range tag {
		if unicode.IsControl(c) {
			return fmt.Errorf("%q: no control characters", tag)
		}
	}
	return nil
}

// setRules records the rules of list (none when r is zero) in tx.
func setRules(ctx context.Context, tx *sql.Tx, list string, r Rules) error {
	if r.IsZero() {
		_, err := tx.ExecContext(ctx, `DELETE FROM dir_list_rules WHERE list = ?`, list)
		return err
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO dir_list_rules (list, max_embargo, notice_before, pre_release, require_cve, subject_tag)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (list) DO UPDATE SET max_embargo = excluded.max_embargo,
		notice_before = excluded.notice_before, pre_release = excluded.pre_release, require_cve = excluded.require_cve,
		subject_tag = excluded.subject_tag`,
		list, r.MaxEmbargo.Milliseconds(), r.NoticeBefore.Milliseconds(), boolInt(!r.NoPreRelease), boolInt(r.RequireCVE), r.SubjectTag)
	return err
}

// loadRules reads the rules of list (zero when it has none).
func loadRules(ctx context.Context, q querier, list string) (Rules, error) {
	var r Rules
	var maxE, before, pre, cve int64
	err := q.QueryRowContext(ctx, `SELECT max_embargo, notice_before, pre_release, require_cve, subject_tag
		FROM dir_list_rules WHERE list = ?`, list).Scan(&maxE, &before, &pre, &cve, &r.SubjectTag)
	if errors.Is(err, sql.ErrNoRows) {
		return Rules{}, nil
	}
	if err != nil {
		return Rules{}, fmt.Errorf("distlist: rules of list %q: %w", list, err)
	}
	r.MaxEmbargo, r.NoticeBefore = time.Duration(maxE)*time.Millisecond, time.Duration(before)*time.Millisecond
	r.NoPreRelease, r.RequireCVE = pre == 0, cve != 0
	return r, nil
}
