package schedule

import (
	"strings"
)

// versionRange is one range of affected versions: [Introduced, Fixed) or
// [Introduced, LastAffected], or one Exact version.
type versionRange struct {
	Introduced   string // "0": from the beginning
	Fixed        string // first unaffected version (exclusive upper bound)
	LastAffected string // last affected version (inclusive upper bound)
	Exact        string
}

// parseAffected reads the free-text affected versions of a case:
// ranges separated by ";", "||" or ",", each made of bounds like
// ">= 1.0", "< 1.2.3", "<= 1.1.9", or a single version. A lone lower bound
// followed by a lone upper bound (">= 1.0, < 1.2.3") is one range. fixed
// (comma-separated) closes ranges without an upper bound. ok is false when
// the text is not in that form; callers then keep it as free text.
func parseAffected(affected, fixed string) (rs []versionRange, ok bool) {
	norm := strings.NewReplacer("||", ";", ",", ";").Replace(affected)
	var pending *versionRange
	for _, part := range strings.Split(norm, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		r, good := parseBounds(part)
		if !good {
			return nil, false
		}
		// ">= A" then "< B": merge.
		if pending != nil && r.Introduced == "" && r.Exact == "" && (r.Fixed != "" || r.LastAffected != "") {
			pending.Fixed, pending.LastAffected = r.Fixed, r.LastAffected
			rs = append(rs, *pending)
			pending = nil
			continue
		}
		if pending != nil {
			rs = append(rs, *pending)
			pending = nil
		}
		if r.Introduced != "" && r.Fixed == "" && r.LastAffected == "" {
			pending = &r
			continue
		}
		if r.Exact == "" && r.Introduced == "" {
			r.Introduced = "0"
		}
		rs = append(rs, r)
	}
	if pending != nil {
		rs = append(rs, *pending)
	}
	// Close open ranges with the fixed versions, in order.
	var fx []string
	for _, f := range strings.FieldsFunc(fixed, func(r rune) bool { return r == ',' || r == ';' || r == ' ' }) {
		if f = cleanVersion(f); f != "" {
			fx = append(fx, f)
		}
	}
	for i := range rs {
		if rs[i].Exact == "" && rs[i].Fixed == "" && rs[i].LastAffected == "" && len(fx) > 0 {
			rs[i].Fixed, fx = fx[0], fx[1:]
		}
	}
	if len(rs) == 0 && len(fx) > 0 && strings.TrimSpace(affected) == "" {
		for _, f := range fx {
			rs = append(rs, versionRange{Introduced: "0", Fixed: f})
			break
		}
	}
	return rs, len(rs) > 0
}

func parseBounds(s string) (versionRange, bool) {
	var r versionRange
	var toks []string
	for i := 0; i < len(s); {
		switch c := s[i]; {
		case c == ' ' || c == '\t':
			i++
		case c == '>' || c == '<' || c == '=':
			if i+1 < len(s) && s[i+1] == '=' && c != '=' {
				toks = append(toks, s[i:i+2])
				i += 2
			} else {
				toks = append(toks, s[i:i+1])
				i++
			}
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t<>=", rune(s[j])) {
				j++
			}
			toks = append(toks, s[i:j])
			i = j
		}
	}
	if len(toks) == 1 {
		v := cleanVersion(toks[0])
		r.Exact = v
		return r, v != ""
	}
	if len(toks) == 0 || len(toks)%2 != 0 {
		return r, false
	}
	for i := 0; i < len(toks); i += 2 {
		op, v := toks[i], cleanVersion(toks[i+1])
		if v == "" {
			return r, false
		}
		switch op {
		case ">=":
			r.Introduced = v
		case "<":
			r.Fixed = v
		case "<=":
			r.LastAffected = v
		case "=":
			r.Exact = v
		default:
			return r, false
		}
	}
	return r, true
}

// cleanVersion accepts a version token: digits, letters, dots, dashes,
// plus and underscore, with an optional leading "v" removed.
func cleanVersion(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '.' || r == '-' || r == '+' || r == '_') {
			return ""
		}
	}
	if (s[0] == 'v' || s[0] == 'V') && len(s) > 1 && s[1] >= '0' && s[1] <= '9' {
		s = s[1:]
	}
	if s[0] < '0' || s[0] > '9' {
		return ""
	}
	return s
}
