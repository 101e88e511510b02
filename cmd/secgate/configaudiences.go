package main

import (
	"fmt"
	"sort"

	"github.com/secgate/secgate/distlist"
	"github.com/secgate/secgate/schedule"
)

// checkAudiences reports the lists a policy's audiences name that are not
// embargo lists (kinds: every list the configuration and the database
// define, by name), each at its policy's audiences key. A name given twice
// is the policy's own mistake (schedule.Policy.Check).
func checkAudiences(sc schedule.Config, kinds map[string]string) []*ConfigError {
	var errs []*ConfigError
	names := make([]string, 0, len(sc.Policies))
	for n := range sc.Policies {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		o := sc.Policies[n]
		if o.Audiences == nil {
			continue
		}
		key := "schedule.policies." + n + ".audiences"
		if len(*o.Audiences) == 0 {
			errs = append(errs, &ConfigError{Key: key, Msg: "empty: name at least one embargo list, or remove the key (the embargo_list)"})
		}
		for _, l := range *o.Audiences {
			if msg := notEmbargoList(kinds, l); msg != "" {
				errs = append(errs, &ConfigError{Key: key, Msg: msg})
			}
		}
	}
	return errs
}

// notEmbargoList says why list name cannot get embargo notices (kinds:
// every list defined, by name), "" when it can.
func notEmbargoList(kinds map[string]string, name string) string {
	k, ok := kinds[name]
	switch {
	case !ok:
		return fmt.Sprintf("list %q is not defined under [[distlist.list]] (nor created with secgate list create)", name)
	case k != distlist.KindEmbargo:
		return fmt.Sprintf("list %q is %s list, not an embargo list: its notices would not be encrypted to each recipient", name, withArticle(k))
	}
	return ""
}
