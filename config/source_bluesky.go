package config

import (
	"net/url"
	"regexp"
	"strings"
)

// BlueskyOptions are the options of a bluesky source (one followed
// account); `backfill` (the latest posts taken on the first start,
// default 20) is shared with the telegram kinds.
//
//   - {id: reuters-bsky, kind: bluesky, handle: reuters.com, code: RTRS}
//   - {id: ap, kind: bluesky, handle: apnews.com, did: "did:plc:…", reposts: true, replies: false}
//   - {id: x, kind: bluesky, handle: x.example, jetstream_url: "wss://jetstream1.us-west.bsky.network/subscribe"}
//
// Sources with the same jetstream_url, appview_url and compression share
// one Jetstream connection.
type BlueskyOptions struct {
	// Handle is the account's handle ("@alice.bsky.social" or
	// "alice.bsky.social"); DID, when given, pins the account and skips
	// resolving the handle.
	Handle string `yaml:"handle"`
	DID    string `yaml:"did"`
	// Reposts also takes the account's reposts (default false); Replies
	// takes its replies (default true).
	Reposts bool  `yaml:"reposts"`
	Replies *bool `yaml:"replies"`
	// JetstreamURL (default wss://jetstream2.us-east.bsky.network/subscribe)
	// and AppViewURL (default https://public.api.bsky.app) name the
	// services read; Compression is zstd (default) or none.
	JetstreamURL string `yaml:"jetstream_url"`
	AppViewURL   string `yaml:"appview_url"`
	Compression  string `yaml:"compression"`
}

var (
	blueskyHandle = regexp.MustCompile(`^([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$`)
	blueskyDID    = regexp.MustCompile(`^did:(plc:[a-z2-7]{24}|web:[a-zA-Z0-9.:%-]+)$`)
)

// BlueskyHandle returns the bare handle of a handle option: "@x.y" → "x.y".
func BlueskyHandle(s string) string {
	return strings.ToLower(strings.TrimPrefix(strings.TrimSpace(s), "@"))
}

// checkBluesky validates the options of a bluesky source.
func checkBluesky(s *Source, add func(sub, format string, args ...any)) {
	switch h := BlueskyHandle(s.Handle); {
	case h == "" && s.DID == "":
		add(".handle", "is required (the account's handle, such as reuters.com)")
	case h != "" && (len(h) > 253 || !blueskyHandle.MatchString(h)):
		add(".handle", "%q is not a Bluesky handle (a domain name such as alice.bsky.social)", s.Handle)
	}
	if s.DID != "" && !blueskyDID.MatchString(s.DID) {
		add(".did", "%q is not a did:plc or did:web identifier", s.DID)
	}
	if s.Backfill < 0 || s.Backfill > 1000 {
		add(".backfill", "must be within 0..1000")
	}
	if s.JetstreamURL != "" {
		u, err := url.Parse(s.JetstreamURL)
		if err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" || u.Fragment != "" || u.User != nil {
			add(".jetstream_url", "must be a ws:// or wss:// URL without fragment or user info, not %q", s.JetstreamURL)
		}
	}
	if s.AppViewURL != "" {
		u, err := url.Parse(s.AppViewURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			add(".appview_url", "must be an http(s) URL without query, fragment or user info, not %q", s.AppViewURL)
		}
	}
	switch s.Compression {
	case "", "zstd", "none":
	default:
		add(".compression", "must be zstd or none, not %q", s.Compression)
	}
	if s.Interval != 0 {
		add(".interval", "does not apply to kind bluesky (Jetstream pushes posts as they are made)")
	}
}
