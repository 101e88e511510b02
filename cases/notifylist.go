package cases

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// listNameRE is what /notify LIST accepts as a list's name.
var listNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// parseNotify reads "/notify [LIST] [force: REASON]".
func parseNotify(rest string) (list, force string, err error) {
	main, force, err := cutForce(rest)
	if err != nil {
		return "", "", err
	}
	switch f := strings.Fields(main); len(f) {
	case 0:
		return "", force, nil
	case 1:
		if !listNameRE.MatchString(f[0]) {
			return "", "", fmt.Errorf("%q is not a list name", short(f[0]))
		}
		return f[0], force, nil
	}
	return "", "", errUsage
}

// notify carries out /notify [LIST] with sch; lines say what happens to
// each list when the case has several.
func notify(ctx context.Context, sch Scheduler, tx *sql.Tx, c *Case, cmd *Command, actor string) (lines string, err error) {
	if ln, ok := sch.(ListNotifier); ok {
		return ln.NotifyList(ctx, tx, c, cmd.List, cmd.Force, actor)
	}
	if cmd.List != "" {
		return "", errors.New("/notify LIST: this gateway sends notices to one embargo list")
	}
	return "", sch.NotifyNow(ctx, tx, c, cmd.Force, actor)
}
