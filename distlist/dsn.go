package distlist

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/mail"
	"net/textproto"
	"strings"

	mtext "github.com/emersion/go-message/textproto"
)

// ErrNotDSN is returned by ParseDSN for a message that is not an RFC 3464
// delivery status notification.
var ErrNotDSN = errors.New("distlist: not a delivery status notification")

// DSN limits.
const (
	maxDSNSize       = 4 << 20
	maxDSNParts      = 8
	maxDSNRecipients = 100
)

// DSN is a parsed delivery status notification (RFC 3464).
type DSN struct {
	// Addressees are the addresses the DSN was delivered to, from To,
	// Delivered-To, X-Original-To and Envelope-To: where the VERP token is.
	Addressees   []string
	EnvelopeID   string
	ReportingMTA string
	Recipients   []DSNRecipient
	// OriginalMessageID is the Message-ID of the returned message (without
	// <>), when its header came back.
	OriginalMessageID string
}

// DSNRecipient is the per-recipient part of a DSN.
type DSNRecipient struct {
	FinalRecipient    string // address, without the "rfc822;" type
	OriginalRecipient string
	Action            string // failed, delayed, delivered, relayed, expanded (lower case)
	Status            string // RFC 3463 x.y.z
	DiagnosticCode    string
	RemoteMTA         string
}

// Hard reports whether the recipient part reports a permanent failure.
func (r DSNRecipient) Hard() bool {
	return r.Action == "failed" && strings.HasPrefix(r.Status, "5")
}

// ParseDSN parses raw as a multipart/report; report-type=delivery-status
// message. Only the top-level parts are read.
func ParseDSN(raw []byte) (*DSN, error) {
	if len(raw) > maxDSNSize {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrNotDSN, maxDSNSize)
	}
	br := bufio.NewReader(bytes.NewReader(raw))
	h, err := mtext.ReadHeader(br)
	if err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrNotDSN, err)
	}
	mt, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil || mt != "multipart/report" || params["boundary"] == "" {
		return nil, fmt.Errorf("%w: content type %q", ErrNotDSN, h.Get("Content-Type"))
	}
	if rt := strings.ToLower(params["report-type"]); rt != "delivery-status" {
		return nil, fmt.Errorf("%w: report type %q", ErrNotDSN, rt)
	}
	d := &DSN{}
	for _, f := range []string{"To", "Delivered-To", "X-Original-To", "Envelope-To"} {
		for _, v := range h.Values(f) {
			d.Addressees = append(d.Addressees, addressees(v)...)
		}
	}
	mr := mtext.NewMultipartReader(br, params["boundary"])
	found := false
	for i := 0; ; i++ {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			if found {
				break // a broken trailing part does not spoil the status
			}
			return nil, fmt.Errorf("%w: %v", ErrNotDSN, err)
		}
		if i == maxDSNParts {
			break
		}
		pt, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		body, err := io.ReadAll(io.LimitReader(p, maxDSNSize))
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrNotDSN, err)
		}
		switch strings.ToLower(pt) {
		case "message/delivery-status", "message/global-delivery-status":
			if found {
				return nil, fmt.Errorf("%w: two delivery-status parts", ErrNotDSN)
			}
			if err := d.parseStatus(body); err != nil {
				return nil, err
			}
			found = true
		case "message/rfc822", "text/rfc822-headers", "message/global", "message/global-headers":
			oh, _ := mtext.ReadHeader(bufio.NewReader(bytes.NewReader(body)))
			if oh.Has("Message-Id") {
				d.OriginalMessageID = strings.Trim(strings.TrimSpace(oh.Get("Message-Id")), "<>")
			}
		}
	}
	if !found {
		return nil, fmt.Errorf("%w: no delivery-status part", ErrNotDSN)
	}
	return d, nil
}

// parseStatus reads the per-message fields and the per-recipient groups.
func (d *DSN) parseStatus(body []byte) error {
	body = bytes.ReplaceAll(body, []byte("\r\n"), []byte("\n"))
	groups := bytes.Split(bytes.TrimSpace(body), []byte("\n\n"))
	for i, g := range groups {
		g = bytes.TrimSpace(g)
		if len(g) == 0 {
			continue
		}
		tr := textproto.NewReader(bufio.NewReader(bytes.NewReader(append(g, "\n\n"...))))
		h, err := tr.ReadMIMEHeader()
		if err != nil && len(h) == 0 {
			return fmt.Errorf("%w: status fields: %v", ErrNotDSN, err)
		}
		if i == 0 {
			d.EnvelopeID = h.Get("Original-Envelope-Id")
			d.ReportingMTA = typedValue(h.Get("Reporting-Mta"))
			if h.Get("Final-Recipient") == "" {
				continue
			}
		}
		if len(d.Recipients) == maxDSNRecipients {
			break
		}
		r := DSNRecipient{
			FinalRecipient:    dsnAddress(h.Get("Final-Recipient")),
			OriginalRecipient: dsnAddress(h.Get("Original-Recipient")),
			Action:            strings.ToLower(strings.TrimSpace(h.Get("Action"))),
			Status:            strings.TrimSpace(h.Get("Status")),
			DiagnosticCode:    headerSafe(typedValue(h.Get("Diagnostic-Code"))),
			RemoteMTA:         typedValue(h.Get("Remote-Mta")),
		}
		if f := strings.Fields(r.Status); len(f) > 0 {
			r.Status = f[0]
		}
		if r.FinalRecipient == "" || r.Action == "" {
			return fmt.Errorf("%w: recipient group without Final-Recipient or Action", ErrNotDSN)
		}
		d.Recipients = append(d.Recipients, r)
	}
	if len(d.Recipients) == 0 {
		return fmt.Errorf("%w: no recipient in the delivery status", ErrNotDSN)
	}
	return nil
}

// addressees returns the addresses of an address list header value, each
// in canonical form (CanonicalAddress). A value that does not parse as a
// list is read item by item at its commas, and what does not parse is left
// out.
func addressees(v string) []string {
	var out []string
	if l, err := mail.ParseAddressList(v); err == nil {
		for _, a := range l {
			if c, err := CanonicalAddress(a.Address); err == nil {
				out = append(out, c)
			}
		}
		return out
	}
	for _, a := range strings.Split(v, ",") {
		if c, err := CanonicalAddress(a); err == nil {
			out = append(out, c)
		}
	}
	return out
}

// dsnAddress returns the address of a Final-Recipient or
// Original-Recipient field ("rfc822; a@b") in canonical form
// (CanonicalAddress), or, when it does not parse as one (another address
// type, say), the value as it is in lower case, made safe: it is compared
// with the row's recipient and shown, never sent to.
func dsnAddress(v string) string {
	v = typedValue(v)
	if a, err := CanonicalAddress(v); err == nil {
		return a
	}
	return strings.ToLower(headerSafe(v))
}

// typedValue strips the "type;" prefix of a DSN field ("rfc822; a@b").
func typedValue(v string) string {
	if _, after, ok := strings.Cut(v, ";"); ok {
		v = after
	}
	return strings.TrimSpace(v)
}
