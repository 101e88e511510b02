package cases

import (
	"database/sql"
	"strings"
	"testing"
)

// TestHiddenCharactersShown: a /title holding a bidi override reaches the
// member's answer, and a text handed to Alert reaches the lead, with the
// override shown as <U+202E>, never as such.
func TestHiddenCharactersShown(t *testing.T) {
	e := newEnv(t)
	c := e.open(true)
	alice := e.keys["alice@example.org"]
	e.handle(e.signed("alice@example.org", alice, "["+c.Ref+"]", "/title Upload of abc\u202efdp.exe\n/component image\u200bd", t0))
	answers := e.mailsTo("alice@example.org", MailAnswer)
	lastContains(t, "answer", answers, "abc<U+202E>fdp.exe")
	lastContains(t, "answer", answers, "image<U+200B>d")
	if got := e.get(c.ID); got.Title != "Upload of abc\u202efdp.exe" {
		t.Errorf("stored title %q: the case keeps what was written, texts show it", got.Title)
	}

	err := e.db.Tx(e.ctx, func(tx *sql.Tx) error {
		return e.wf.Alert(e.ctx, tx, c.ID, "odd \u2067subject", "the reporter wrote \u2066evil\u2069 and\u2028more\n")
	})
	if err != nil {
		t.Fatal(err)
	}
	alerts := e.mailsTo("alice@example.org", MailAlert)
	lastContains(t, "alert", alerts, "the reporter wrote <U+2066>evil<U+2069> and<U+2028>more")
	for _, m := range append(answers, alerts...) {
		if strings.ContainsAny(m, "\u202e\u200b\u2066\u2067\u2069\u2028") {
			t.Errorf("mail carries a hidden character: %q", m)
		}
	}
}
