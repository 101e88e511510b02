package cases

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// SealedMessage is a message's subject, text and attachments encrypted at
// rest ahead of the transaction that stores them (Workflow.SealMessage), so
// that OpenCase has no public-key work left for them inside it. It keeps
// what it sealed: a message that differs is sealed again when stored.
type SealedMessage struct {
	subject, text string
	atts          []Attachment
	body          []byte
	names, data   [][]byte
}

// SealMessage encrypts subject, text and attachments at rest as storing a
// message does. It touches no database: call it outside the transaction,
// and for many messages in parallel.
func (w *Workflow) SealMessage(subject, text string, atts []Attachment) (*SealedMessage, error) {
	s := &SealedMessage{subject: subject, text: text, atts: atts}
	var err error
	if s.body, err = w.sealBody(subject, text); err != nil {
		return nil, err
	}
	for _, a := range atts {
		name, data, err := w.sealAttachment(a)
		if err != nil {
			return nil, err
		}
		s.names, s.data = append(s.names, name), append(s.data, data)
	}
	return s, nil
}

// sealedFor returns s when it sealed exactly m's subject, text and
// attachments, and nil otherwise.
func (s *SealedMessage) sealedFor(m Message) *SealedMessage {
	if s == nil || s.subject != m.Subject || s.text != m.Text || len(s.atts) != len(m.Attachments) {
		return nil
	}
	for i, a := range m.Attachments {
		if a.Filename != s.atts[i].Filename || !bytes.Equal(a.Data, s.atts[i].Data) {
			return nil
		}
	}
	return s
}

// sealBody encrypts a message's subject and text at rest.
func (w *Workflow) sealBody(subject, text string) ([]byte, error) {
	plain, err := json.Marshal(storedBody{Subject: subject, Text: text})
	if err != nil {
		return nil, err
	}
	body, err := w.atRest.EncryptAtRest(plain)
	if err != nil {
		return nil, fmt.Errorf("cases: encrypt message: %w", err)
	}
	return body, nil
}

// sealAttachment encrypts an attachment's name and data at rest.
func (w *Workflow) sealAttachment(a Attachment) (name, data []byte, err error) {
	if name, err = w.atRest.EncryptAtRest([]byte(a.Filename)); err != nil {
		return nil, nil, fmt.Errorf("cases: encrypt attachment: %w", err)
	}
	if data, err = w.atRest.EncryptAtRest(a.Data); err != nil {
		return nil, nil, fmt.Errorf("cases: encrypt attachment: %w", err)
	}
	return name, data, nil
}
