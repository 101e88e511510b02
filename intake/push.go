package intake

import (
	"errors"
	"io"
	"net/http"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// PushMetadataKey is the server METADATA entry (RFC 5464) by which a
// Dovecot user asks its push_notification plugin (OX driver) for a post on
// each new message.
const PushMetadataKey = "/private/vendor/vendor.dovecot/http-notify"

// askPush asks the server, by setting PushMetadataKey, to post a push
// notification for each new message. A server that cannot (no METADATA,
// or no plugin configured) leaves IDLE to do the work: a warning, not a
// failure.
func (p *Poller) askPush(c *imapclient.Client) {
	if !c.Caps().Has(imap.CapMetadata) && !c.Caps().Has(imap.CapMetadataServer) {
		p.log.Warn("intake: push requested but the server has no METADATA; relying on IDLE alone")
		return
	}
	v := []byte("user=" + p.cfg.User)
	if err := c.SetMetadata("", map[string]*[]byte{PushMetadataKey: &v}).Wait(); err != nil {
		p.log.Warn("intake: push requested but the server refused it; relying on IDLE alone", "err", err)
	}
}

// maxPushBody bounds what PushHandler reads of a notification.
const maxPushBody = 64 << 10

// PushHandler receives the server's push notifications (Dovecot's
// push_notification plugin, OX driver, posts JSON on each new message) and
// kicks the poller, which then fetches as it would after an IDLE
// notification. The body is read and dropped unparsed: it may hold the
// subject and the first words of a report, and nothing in it is trusted;
// a push only makes the poller look sooner. Serve it on loopback only.
func PushHandler(p *Poller) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPut && r.Method != http.MethodPost {
			w.Header().Set("Allow", "PUT, POST")
			http.Error(w, "push notifications are PUT or POST", http.StatusMethodNotAllowed)
			return
		}
		_, err := io.Copy(io.Discard, http.MaxBytesReader(w, r.Body, maxPushBody))
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			http.Error(w, "push notification too large", http.StatusRequestEntityTooLarge)
			return
		}
		p.Kick()
		w.WriteHeader(http.StatusNoContent)
	})
}
