package cases

import (
	"encoding/json"
	"strconv"
)

// appendEventJSON appends what json.Marshal makes of the fields an
// event's hash covers, []any{CaseID, Seq, millis, Actor, Action, Detail,
// Source, PrevHash}, byte for byte (FuzzEventJSON holds it to that),
// without reflection: verifying the audit log hashes every event.
func appendEventJSON(b []byte, e AuditEvent, millis int64) []byte {
	b = append(b, '[')
	b = strconv.AppendInt(b, e.CaseID, 10)
	b = append(b, ',')
	b = strconv.AppendInt(b, e.Seq, 10)
	b = append(b, ',')
	b = strconv.AppendInt(b, millis, 10)
	for _, s := range [...]string{e.Actor, e.Action, e.Detail, e.Source, e.PrevHash} {
		b = append(b, ',')
		b = appendJSONString(b, s)
	}
	return append(b, ']')
}

// appendJSONString appends s as encoding/json quotes it: as it is when it
// is printable ASCII that needs no escape (json escapes ", \ and, for
// HTML, <, > and &), and through json.Marshal otherwise.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
