package bluesky

import (
	"encoding/json"
	"errors"
	"testing"
	"unicode/utf8"
)

// FuzzFrame feeds Jetstream frames, seeded with the captured events, to
// the event decoder and the post reader: any input gives an event or
// ErrMalformed, and a post's item has valid UTF-8 text, never a panic.
func FuzzFrame(f *testing.F) {
	for _, l := range jetstreamLines(f) {
		f.Add(l)
	}
	f.Add([]byte(`{"did":"did:plc:x","time_us":1,"kind":"commit","commit":{"operation":"create","collection":"app.bsky.feed.post","rkey":"1","cid":"c","record":{"text":"日本","facets":[{"index":{"byteStart":1,"byteEnd":99},"features":[{"$type":"app.bsky.richtext.facet#link","uri":"https://x.example"}]}]}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		ev, err := decodeEvent(data)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v is not ErrMalformed", err)
			}
			return
		}
		if ev.Commit == nil || ev.Commit.Collection != CollectionPost || len(ev.Commit.Record) == 0 {
			return
		}
		item, _, _, err := postItem(ev.Commit.Record, URI{ev.DID, CollectionPost, ev.Commit.RKey}, author{DID: ev.DID}, noNames)
		if err != nil {
			if !errors.Is(err, ErrBadRecord) {
				t.Fatalf("error %v is not ErrBadRecord", err)
			}
			return
		}
		if !utf8.ValidString(item.Body) {
			t.Fatalf("body is not UTF-8: %q", item.Body)
		}
		if _, err := json.Marshal(item); err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzFacets: whatever the offsets, the text comes back whole or with
// spans replaced at character boundaries.
func FuzzFacets(f *testing.F) {
	f.Add("www.youtube.com/watch?v=V5lD...", 0, 31, "https://www.youtube.com/watch?v=V5lDo-jw8mA")
	f.Add("日本 example.com/x…", 7, 24, "https://example.com/x/full")
	f.Add("🇯🇵 x", 1, 3, "https://a.example/")
	f.Fuzz(func(t *testing.T, text string, start, end int, uri string) {
		if !utf8.ValidString(text) || !utf8.ValidString(uri) {
			return
		}
		var fc facet
		fc.Index.ByteStart, fc.Index.ByteEnd = start, end
		fc.Features = append(fc.Features, struct {
			Type string `json:"$type"`
			URI  string `json:"uri"`
		}{"app.bsky.richtext.facet#link", uri})
		out, bad := ResolveFacets(text, []facet{fc})
		if !utf8.ValidString(out) {
			t.Fatalf("%q → %q is not UTF-8", text, out)
		}
		if bad == 0 && out != text[:start]+uri+text[end:] {
			t.Fatalf("applied facet gave %q", out)
		}
		if bad == 1 && out != text {
			t.Fatalf("a facet left out changed the text to %q", out)
		}
	})
}
