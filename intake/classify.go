package intake

import (
	"regexp"
	"slices"
	"strings"
)

// Classes of inbound messages, in the order they are tested.
const (
	ClassDSN            = "dsn"             // bounce or delivery status notification
	ClassAutoReply      = "auto-reply"      // RFC 3834 automatic reply, vacation notice
	ClassList           = "list"            // mail from a mailing list that is not one of [intake] own_lists
	ClassLoop           = "loop"            // our own mail coming back
	ClassLimit          = "limit"           // exceeds a size/structure limit or the rate limit
	ClassMalformed      = "malformed"       // cannot be parsed
	ClassUndecryptable  = "undecryptable"   // encrypted, cannot be opened
	ClassWrongKey       = "wrong-key"       // encrypted to a key we do not hold
	ClassBadSignature   = "bad-signature"   // signed, signature does not verify
	ClassCommand        = "command"         // from the team: handed to the workflow
	ClassReplay         = "replay"          // a ciphertext or plaintext we received before, re-sent
	ClassNested         = "nested"          // encryption inside decrypted content from someone not on the team
	ClassDuplicate      = "duplicate"       // same Message-ID as another message, different content
	ClassDistributorAck = "distributor-ack" // a distributor's reply to a notice (recorded in the case, copied to the team)
	ClassFollowUp       = "followup"        // reply to an existing case
	ClassReport         = "report"          // a new report: a case was opened
	ClassEmpty          = "empty"           // no text and no attachment
	ClassError          = "error"           // processing failed twice; held for the operator
)

var (
	bounceSubject = regexp.MustCompile(`(?i)^(undeliver(ed|able)|delivery (status notification|failure|has failed)|mail delivery (failed|failure|subsystem)|returned mail|failure notice|non[- ]?delivery)`)
	bounceSender  = regexp.MustCompile(`(?i)^(mailer-daemon|postmaster|double-bounce)@`)
	autoSubject   = regexp.MustCompile(`(?i)(^|\W)(auto(matic)?[ -]?(reply|response|antwort)|out of (the )?office|ooo:|abwesenheit|vacation|away from (my )?(desk|office)|on leave|r[ée]ponse automatique|autosvar|risposta automatica|respuesta autom[aá]tica)(\W|$)`)
)

// isBounce reports whether the message is a bounce or a DSN, and why.
func (in *Inspection) isBounce() (bool, string) {
	switch {
	case in.ContentType == "multipart/report" && in.ReportType == "delivery-status":
		return true, "delivery status notification (RFC 3464)"
	case in.ReturnPath == "<>" && (bounceSender.MatchString(in.From) || bounceSubject.MatchString(in.Subject)):
		return true, "bounce from " + in.From
	case bounceSender.MatchString(in.From) && !strings.HasPrefix(in.From, "postmaster@"):
		return true, "bounce from " + in.From
	case bounceSender.MatchString(in.From) && bounceSubject.MatchString(in.Subject):
		return true, "bounce from " + in.From
	}
	return false, ""
}

// isAutoReply reports whether the message was sent automatically (RFC 3834
// and the usual heuristics), and why. Such mail is never answered.
func (in *Inspection) isAutoReply() (bool, string) {
	switch {
	case in.AutoSubmitted != "" && in.AutoSubmitted != "no":
		return true, "Auto-Submitted: " + in.AutoSubmitted
	case slices.Contains([]string{"junk", "auto_reply"}, in.Precedence):
		return true, "Precedence: " + in.Precedence
	case in.ContentType == "multipart/report":
		return true, "report (" + in.ReportType + ")"
	case in.ReturnPath == "<>":
		return true, "null envelope sender"
	case autoSubject.MatchString(in.Subject):
		return true, "automatic reply (subject)"
	}
	return false, ""
}

// isForeignList reports whether the message came through a mailing list
// other than own (the lists or groups that deliver the security address's
// own mail), and why. RFC 3834 forbids answering it; a report forwarded by
// a list must not be lost either, so it is held rather than dropped.
func (in *Inspection) isForeignList(own []string) (bool, string) {
	listy := in.ListHeaders || in.Precedence == "list" || in.Precedence == "bulk"
	switch {
	case !listy:
		return false, ""
	case in.ListID != "" && slices.Contains(own, in.ListID):
		return false, ""
	case in.ListID != "":
		return true, "mailing-list mail (List-Id <" + in.ListID + ">)"
	case in.ListHeaders:
		return true, "mailing-list mail (List-Unsubscribe or List-Post, no List-Id)"
	}
	return true, "Precedence: " + in.Precedence
}

// isLoop reports whether the message is our own coming back.
func (in *Inspection) isLoop(self []string) (bool, string) {
	switch {
	case in.Loop:
		return true, "carries " + LoopHeader
	case in.Received > 100:
		return true, "more than 100 Received fields"
	case in.From != "" && slices.Contains(self, in.From):
		return true, "From is our own address " + in.From
	}
	return false, ""
}

// answerable reports whether the sender may get an automatic answer: never
// for bounces, automatic mail, our own mail, an empty sender, or mail from
// a list not in own (unless an operator released it: a person decided).
func (in *Inspection) answerable(self, own []string, released bool) bool {
	if in.From == "" || !strings.Contains(in.From, "@") || slices.Contains(self, in.From) {
		return false
	}
	if l, _ := in.isForeignList(own); l && !released {
		return false
	}
	if b, _ := in.isBounce(); b {
		return false
	}
	if a, _ := in.isAutoReply(); a {
		return false
	}
	return !in.Loop && !bounceSender.MatchString(in.From)
}
