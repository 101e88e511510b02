package cases

import (
	"bytes"
	"fmt"
	"mime"
	"net/mail"
	"strings"
	"time"

	"github.com/secgate/secgate/crypto"
)

// NewCommandMail builds the CommandMail of a raw inbound message from its
// outer header (From, Message-ID, In-Reply-To, References, Subject) and the
// result of crypto.Open on it. Intake calls HandleCommandMail with it.
func NewCommandMail(raw []byte, opened *crypto.Opened, openErr error, received time.Time) (CommandMail, error) {
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return CommandMail{}, fmt.Errorf("cases: command mail header: %w", err)
	}
	h := msg.Header
	dec := new(mime.WordDecoder)
	subject := h.Get("Subject")
	if s, err := dec.DecodeHeader(subject); err == nil {
		subject = s
	}
	from := h.Get("From")
	if s, err := dec.DecodeHeader(from); err == nil {
		from = s
	}
	var rcpts []string
	for _, field := range []string{"To", "Cc"} {
		for _, v := range h[field] {
			l, err := mail.ParseAddressList(v)
			if err != nil {
				rcpts = append(rcpts, v) // unparsable: never the team alone
				continue
			}
			for _, a := range l {
				rcpts = append(rcpts, a.Address)
			}
		}
	}
	return CommandMail{
		Opened:     opened,
		OpenErr:    openErr,
		From:       from,
		FromFields: len(h["From"]),
		Recipients: rcpts,
		MessageID:  strings.TrimSpace(h.Get("Message-ID")),
		InReplyTo:  firstID(h.Get("In-Reply-To")),
		References: msgIDs(h.Get("References")),
		Subject:    subject,
		Received:   received,
	}, nil
}

// msgIDs splits a References-style list of <id> tokens.
func msgIDs(v string) []string {
	var out []string
	for {
		i := strings.IndexByte(v, '<')
		if i < 0 {
			return out
		}
		j := strings.IndexByte(v[i:], '>')
		if j < 0 {
			return out
		}
		out = append(out, v[i:i+j+1])
		v = v[i+j+1:]
		if len(out) == 100 {
			return out
		}
	}
}

func firstID(v string) string {
	if ids := msgIDs(v); len(ids) > 0 {
		return ids[0]
	}
	return strings.TrimSpace(v)
}

// AttachmentsFrom converts attachments decoded by crypto.TextBody.
func AttachmentsFrom(as []crypto.Attachment) []Attachment {
	out := make([]Attachment, 0, len(as))
	for _, a := range as {
		out = append(out, Attachment{Filename: a.Filename, ContentType: a.ContentType, Data: a.Data})
	}
	return out
}
