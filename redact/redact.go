// Package redact keeps credentials out of logs and error messages: the
// password (or token) in a URL's userinfo, bearer and basic credentials,
// secret-looking query parameters, and any secret value the configuration
// resolved (env: and file: secrets included), whatever the log line put
// them in.
package redact

import (
	"bytes"
	"encoding/json"
	"net/url"
	"regexp"
	"sync"

	"go.uber.org/zap/zapcore"
)

// Mask replaces what is hidden.
const Mask = "[redacted]"

var (
	// userinfo in scheme://user:pass@host or scheme://token@host.
	userinfo = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.\-]*://)([^/?#@\s"'\\]+)@`)
	// Bearer x anywhere, Basic x after Authorization (also as Go's %v of
	// a header map writes it).
	authz = regexp.MustCompile(`(?i)(\bbearer(?:\s+|%20)|\bauthorization\W{0,4}basic(?:\s+|%20))[A-Za-z0-9._~+/=\-]{6,}`)
	// ?token=x&password=y and similar.
	param = regexp.MustCompile(`(?i)([?&;](?:access_token|auth_token|token|password|passwd|pass|secret|api_key|apikey|api_hash|key|sig|signature)=)[^&\s"'\\]+`)
)

// String hides the credentials that patterns can find in s: URL userinfo
// (the user name of user:password is kept), bearer and basic
// credentials, and secret query parameters.
func String(s string) string {
	s = userinfo.ReplaceAllStringFunc(s, func(m string) string {
		sm := userinfo.FindStringSubmatch(m)
		user, _, hasPass := cutByte(sm[2], ':')
		if hasPass {
			return sm[1] + user + ":" + Mask + "@"
		}
		return sm[1] + Mask + "@"
	})
	s = authz.ReplaceAllString(s, "${1}"+Mask)
	return param.ReplaceAllString(s, "$1"+Mask)
}

func cutByte(s string, b byte) (string, string, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == b {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// URL is String for one URL, for messages that name where they connect.
func URL(u string) string {
	if pu, err := url.Parse(u); err == nil && pu.User != nil {
		return String(pu.String())
	}
	return String(u)
}

// Scrubber hides known secret values and the patterns String finds.
type Scrubber struct {
	mu      sync.RWMutex
	secrets [][]byte
}

// NewScrubber hides secrets (values shorter than 4 bytes are ignored: they
// would mask ordinary text and protect nothing).
func NewScrubber(secrets ...string) *Scrubber {
	s := &Scrubber{}
	s.Add(secrets...)
	return s
}

// Add hides more secret values, as written and as JSON escapes them.
func (s *Scrubber) Add(secrets ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range secrets {
		if len(v) < 4 {
			continue
		}
		s.secrets = append(s.secrets, []byte(v))
		if q, err := json.Marshal(v); err == nil {
			if esc := q[1 : len(q)-1]; !bytes.Equal(esc, []byte(v)) {
				s.secrets = append(s.secrets, esc)
			}
		}
		if esc := url.QueryEscape(v); esc != v {
			s.secrets = append(s.secrets, []byte(esc))
		}
	}
}

// Bytes returns p with every secret hidden.
func (s *Scrubber) Bytes(p []byte) []byte {
	s.mu.RLock()
	for _, v := range s.secrets {
		p = bytes.ReplaceAll(p, v, []byte(Mask))
	}
	s.mu.RUnlock()
	return []byte(String(string(p)))
}

// Writer wraps a log sink so that nothing written through it carries a
// secret, whichever logger (ours or nats-server's) wrote the line.
func (s *Scrubber) Writer(w zapcore.WriteSyncer) zapcore.WriteSyncer {
	return &writer{s: s, w: w}
}

type writer struct {
	s *Scrubber
	w zapcore.WriteSyncer
}

// Write writes the scrubbed line and reports len(p), as the caller's
// bytes were all consumed.
func (w *writer) Write(p []byte) (int, error) {
	if _, err := w.w.Write(w.s.Bytes(p)); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (w *writer) Sync() error { return w.w.Sync() }
