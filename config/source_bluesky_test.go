package config

import (
	"strings"
	"testing"
)

func TestBlueskySource(t *testing.T) {
	cfg, err := Parse([]byte(`sources:
  - {id: a, kind: bluesky, handle: "@Reuters.com", code: RTRS}
  - {id: b, kind: bluesky, handle: bsky.app, did: "did:plc:z72i7hdynmk6r22z27h6tvur", reposts: true, replies: false, backfill: 50,
     jetstream_url: "ws://127.0.0.1:6008/subscribe", appview_url: "http://127.0.0.1:8081", compression: none}
`))
	if err != nil {
		t.Fatal(err)
	}
	a, b := cfg.Sources[0], cfg.Sources[1]
	if BlueskyHandle(a.Handle) != "reuters.com" || a.Replies != nil || a.Reposts || a.JetstreamURL != "" {
		t.Errorf("a: %+v", a.BlueskyOptions)
	}
	if b.DID != "did:plc:z72i7hdynmk6r22z27h6tvur" || !b.Reposts || b.Replies == nil || *b.Replies || b.Backfill != 50 ||
		b.JetstreamURL != "ws://127.0.0.1:6008/subscribe" || b.AppViewURL != "http://127.0.0.1:8081" || b.Compression != "none" {
		t.Errorf("b: %+v", b.BlueskyOptions)
	}
	for _, tc := range []struct{ line, want string }{
		{`{id: a, kind: bluesky}`, "sources[0].handle: is required"},
		{`{id: a, kind: bluesky, handle: "not a handle"}`, "sources[0].handle: \"not a handle\" is not a Bluesky handle"},
		{`{id: a, kind: bluesky, handle: x.example, did: "plc:abc"}`, "sources[0].did: \"plc:abc\" is not a did:plc or did:web"},
		{`{id: a, kind: bluesky, handle: x.example, jetstream_url: "https://jetstream.example/subscribe"}`, "sources[0].jetstream_url: must be a ws:// or wss:// URL"},
		{`{id: a, kind: bluesky, handle: x.example, appview_url: "ftp://x"}`, "sources[0].appview_url: must be an http(s) URL"},
		{`{id: a, kind: bluesky, handle: x.example, compression: gzip}`, "sources[0].compression: must be zstd or none"},
		{`{id: a, kind: bluesky, handle: x.example, backfill: -1}`, "sources[0].backfill: must be within 0..1000"},
		{`{id: a, kind: bluesky, handle: x.example, interval: 5m}`, "sources[0].interval: does not apply to kind bluesky"},
	} {
		_, err := Parse([]byte("sources:\n  - " + tc.line + "\n"))
		if err == nil || !strings.Contains(err.Error(), "line 2: "+tc.want) {
			t.Errorf("%s: %v", tc.line, err)
		}
	}
}
