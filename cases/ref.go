package cases

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// DefaultPrefix is the prefix of case references when the project sets
// none ([project] case_prefix): SEC-YYYY-NNNN, as every case was named
// before projects chose their own.
const DefaultPrefix = "SEC"

var (
	prefixPattern = regexp.MustCompile(`^[A-Z][A-Z0-9]{1,9}$`)
	// refShape is the shape of any project's case reference: a /case
	// line of this shape names a case, of this project or another's.
	refShape = regexp.MustCompile(`^[A-Z][A-Z0-9]{1,9}-[0-9]{4}-[0-9]{4,}$`)
	// defaultRefs are the references of the zero Refs: DefaultPrefix.
	defaultRefs = mustRefs(DefaultPrefix)
)

// CheckPrefix refuses a case prefix that would not make a reference
// PREFIX-YYYY-NNNN: 2 to 10 upper-case letters and digits, starting with a
// letter. CVE is refused: CVE-YYYY-NNNN is a CVE ID.
func CheckPrefix(p string) error {
	if !prefixPattern.MatchString(p) {
		return fmt.Errorf("%q: want 2 to 10 upper-case letters and digits, starting with a letter (SEC, KN, KATA)", p)
	}
	if p == "CVE" {
		return errors.New(`"CVE": CVE-YYYY-NNNN is a CVE ID, not a case`)
	}
	return nil
}

// FormatRef returns the reference of the seq-th case of year under prefix:
// PREFIX-YYYY-NNNN.
func FormatRef(prefix string, year, seq int) string {
	return fmt.Sprintf("%s-%04d-%04d", prefix, year, seq)
}

// Refs are the case references of one workflow: PREFIX-YYYY-NNNN for the
// cases it opens, and those of the cases its database already holds under
// other prefixes (the project changed its prefix), which stay addressable.
// A /case line or a subject tag with any other prefix does not name a case
// of this project. The zero Refs are DefaultPrefix's.
type Refs struct {
	prefix string
	older  []string       // the prefixes of stored cases besides prefix
	ref    *regexp.Regexp // one whole reference
	tag    *regexp.Regexp // a reference tagged [REF] in a subject
}

// NewRefs returns the references of prefix ("" is DefaultPrefix), with
// older the prefixes of the cases already stored (prefix among them or
// not).
func NewRefs(prefix string, older ...string) (Refs, error) {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	if err := CheckPrefix(prefix); err != nil {
		return Refs{}, err
	}
	r := Refs{prefix: prefix}
	alts := []string{regexp.QuoteMeta(prefix)}
	for _, o := range older {
		if o == "" || o == prefix || slices.Contains(r.older, o) {
			continue
		}
		r.older = append(r.older, o)
		alts = append(alts, regexp.QuoteMeta(o))
	}
	p := `(?:` + strings.Join(alts, "|") + `)-[0-9]{4}-[0-9]{4,}`
	r.ref = regexp.MustCompile(`^` + p + `$`)
	r.tag = regexp.MustCompile(`\[(` + p + `)\]`)
	return r, nil
}

func mustRefs(prefix string) Refs {
	r, err := NewRefs(prefix)
	if err != nil {
		panic(err)
	}
	return r
}

func (r Refs) orDefault() Refs {
	if r.ref == nil {
		return defaultRefs
	}
	return r
}

// Prefix is the prefix of the cases the workflow opens.
func (r Refs) Prefix() string { return r.orDefault().prefix }

// Older are the other prefixes of the stored cases, which stay addressable.
func (r Refs) Older() []string { return slices.Clone(r.orDefault().older) }

// Format returns the reference of the seq-th case of year.
func (r Refs) Format(year, seq int) string { return FormatRef(r.Prefix(), year, seq) }

// Form is the reference's form for texts: "KN-YYYY-NNNN".
func (r Refs) Form() string { return r.Prefix() + "-YYYY-NNNN" }

// Match reports whether s is a whole reference of this workflow's (upper
// case: a /case line's argument is upper-cased first).
func (r Refs) Match(s string) bool { return r.orDefault().ref.MatchString(s) }

// Tag returns the first reference of this workflow's tagged [REF] in a
// subject, "" when there is none. A tag of another shape or prefix
// ([CVE-2026-12345], another project's [KATA-2026-0001]) is not a case
// tag here.
func (r Refs) Tag(subject string) string {
	if m := r.orDefault().tag.FindStringSubmatch(subject); m != nil {
		return m[1]
	}
	return ""
}
