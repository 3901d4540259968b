package bluesky

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/newswire/newswire/wire"
)

// recordOf finds a captured record: a Jetstream commit by rkey, or a post
// of an AppView answer by URI.
func jetstreamRecord(t *testing.T, rkey string) (did string, rec json.RawMessage) {
	t.Helper()
	for _, l := range jetstreamLines(t) {
		var ev event
		if err := json.Unmarshal(l, &ev); err != nil {
			t.Fatal(err)
		}
		if ev.Commit != nil && ev.Commit.RKey == rkey {
			return ev.DID, ev.Commit.Record
		}
	}
	t.Fatalf("no captured commit %s", rkey)
	return "", nil
}

// appViewPost finds a post view anywhere in a captured AppView answer
// (feed items, and the posts their replies answer).
func appViewPost(t *testing.T, file, uri string) postView {
	t.Helper()
	var doc any
	if err := json.Unmarshal(fixture(t, file), &doc); err != nil {
		t.Fatal(err)
	}
	var found any
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if v["uri"] == uri && v["record"] != nil && found == nil {
				found = v
			}
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(doc)
	if found == nil {
		t.Fatalf("%s has no post %s", file, uri)
	}
	data, _ := json.Marshal(found)
	var p postView
	if err := json.Unmarshal(data, &p); err != nil {
		t.Fatal(err)
	}
	return p
}

func noNames(did string) (string, string) { return did, did }

// TestPostItemFromCapturedRecords turns real records into items: link
// facets replace the shortened text with the full URI at UTF-8 byte
// offsets (in Japanese text too), a link card's URI is kept, replies and
// quotes name the other post.
func TestPostItemFromCapturedRecords(t *testing.T) {
	type want struct {
		body, lang, published, reply, quote, media string
	}
	cases := []struct {
		name string
		rec  func() (URI, json.RawMessage)
		want want
	}{
		{"jetstream link facet over a shortened link", func() (URI, json.RawMessage) {
			did, rec := jetstreamRecord(t, "3mptbyoeyc22k")
			return URI{did, CollectionPost, "3mptbyoeyc22k"}, rec
		}, want{body: "https://www.youtube.com/watch?v=V5lDo-jw8mA", lang: "en", published: "2026-07-04T14:38:06.240Z", media: "link"}},
		{"jetstream reply with only a link card", func() (URI, json.RawMessage) {
			did, rec := jetstreamRecord(t, "3mptbyproxc2q")
			return URI{did, CollectionPost, "3mptbyproxc2q"}, rec
		}, want{body: "https://", lang: "en", reply: "at://", media: "link"}},
		{"jetstream facets after emoji and text, two languages", func() (URI, json.RawMessage) {
			did, rec := jetstreamRecord(t, "3mptbyo7tas2u")
			return URI{did, CollectionPost, "3mptbyo7tas2u"}, rec
		}, want{body: "\"Behind them, Timmi and Wanky'u follow silently but as fast as possible.\"\n\nhttps://www.tumblr.com/tempo-tales/", lang: "es", media: "photo"}},
		{"appview Japanese text with link facets at byte offsets", func() (URI, json.RawMessage) {
			p := appViewPost(t, "getAuthorFeed.json", "at://did:plc:iijrtk7ocored6zuziwmqq3c/app.bsky.feed.post/3jukdwsblqu2l")
			return URI{"did:plc:iijrtk7ocored6zuziwmqq3c", CollectionPost, "3jukdwsblqu2l"}, p.Record
		}, want{body: "ブロックしたらフォローが外れるように修正されるみたいだから、知り合いのアカウントでテストする人は気をつけてね\n\nhttp", media: "link"}},
		{"appview reply with an image", func() (URI, json.RawMessage) {
			p := appViewPost(t, "getListFeed.json", "at://did:plc:iijrtk7ocored6zuziwmqq3c/app.bsky.feed.post/3k7fx6ra6my2u")
			return URI{"did:plc:iijrtk7ocored6zuziwmqq3c", CollectionPost, "3k7fx6ra6my2u"}, p.Record
		}, want{body: "たぶん元ネタはこれです", lang: "en", reply: "at://did:plc:uqzpqmrjnptsxezjx4xuh2mn/app.bsky.feed.post/3k7fx434b742y", media: "photo"}},
		{"appview quote of another post", func() (URI, json.RawMessage) {
			p := appViewPost(t, "getListFeed.json", "at://did:plc:uqzpqmrjnptsxezjx4xuh2mn/app.bsky.feed.post/3k7fwlmbetk2l")
			return URI{"did:plc:uqzpqmrjnptsxezjx4xuh2mn", CollectionPost, "3k7fwlmbetk2l"}, p.Record
		}, want{body: "これっていつの投稿なのかな", lang: "ja", quote: "at://did:plc:q6gjnaw2blty4crticxkmujt/app.bsky.feed.post/3k7fqn7pljn27"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			uri, rec := tc.rec()
			item, _, bad, err := postItem(rec, uri, author{DID: uri.DID, Handle: "example.test"}, noNames)
			if err != nil {
				t.Fatal(err)
			}
			if bad != 0 {
				t.Errorf("%d facets left out", bad)
			}
			if !strings.HasPrefix(item.Body, tc.want.body) {
				t.Errorf("body\n got %q\nwant prefix %q", item.Body, tc.want.body)
			}
			if item.NativeID != uri.String() || item.URL != "https://bsky.app/profile/example.test/post/"+uri.RKey || item.Kind != Kind {
				t.Errorf("identity: %q %q %q", item.Kind, item.NativeID, item.URL)
			}
			if item.Lang != tc.want.lang {
				t.Errorf("lang %q, want %q", item.Lang, tc.want.lang)
			}
			if tc.want.published != "" && item.Published != tc.want.published {
				t.Errorf("published %q", item.Published)
			}
			if got := refURI(item.ReplyTo); !strings.HasPrefix(got, tc.want.reply) || (tc.want.reply == "") != (got == "") {
				t.Errorf("reply_to %q, want %q", got, tc.want.reply)
			}
			if got := refURI(item.QuoteOf); got != tc.want.quote {
				t.Errorf("quote_of %q, want %q", got, tc.want.quote)
			}
			media := ""
			if item.Meta != nil {
				media = item.Meta.MediaType
			}
			if media != tc.want.media {
				t.Errorf("media %q, want %q", media, tc.want.media)
			}
		})
	}
}

func refURI(r *wire.Ref) string {
	if r == nil {
		return ""
	}
	return r.NativeID
}

// TestResolveFacetsBadOffsets: facets that do not fit the text are left
// out and counted, never applied half or allowed to panic.
func TestResolveFacetsBadOffsets(t *testing.T) {
	text := "日本 see example.com/x…" // 日 and 本 are 3 bytes each
	link := func(s, e int, uri string) facet {
		var f facet
		f.Index.ByteStart, f.Index.ByteEnd = s, e
		f.Features = append(f.Features, struct {
			Type string `json:"$type"`
			URI  string `json:"uri"`
		}{"app.bsky.richtext.facet#link", uri})
		return f
	}
	start := strings.Index(text, "example")
	end := start + len("example.com/x…")
	cases := []struct {
		name   string
		facets []facet
		want   string
		bad    int
	}{
		{"good", []facet{link(start, end, "https://example.com/x/full")}, "日本 see https://example.com/x/full", 0},
		{"inside a character", []facet{link(1, 3, "https://a.example/")}, text, 1},
		{"past the end", []facet{link(start, end+1, "https://a.example/")}, text, 1},
		{"inverted", []facet{link(end, start, "https://a.example/")}, text, 1},
		{"negative", []facet{link(-1, 2, "https://a.example/")}, text, 1},
		{"not http", []facet{link(start, end, "javascript:alert(1)")}, text, 1},
		{"overlap keeps the first", []facet{link(start, end, "https://example.com/x/full"), link(start+2, end, "https://b.example/")}, "日本 see https://example.com/x/full", 1},
	}
	for _, tc := range cases {
		got, bad := ResolveFacets(text, tc.facets)
		if got != tc.want || bad != tc.bad {
			t.Errorf("%s: got %q (%d bad), want %q (%d bad)", tc.name, got, bad, tc.want, tc.bad)
		}
	}
}

func TestParseURI(t *testing.T) {
	u, err := ParseURI("at://did:plc:4smmjsqf6l5jkzczvw6vsrqc/app.bsky.feed.post/3mpt73z3ejc2p")
	if err != nil || u.DID != "did:plc:4smmjsqf6l5jkzczvw6vsrqc" || u.Collection != CollectionPost || u.RKey != "3mpt73z3ejc2p" {
		t.Fatalf("%+v %v", u, err)
	}
	for _, bad := range []string{"", "https://bsky.app/x", "at://alice.bsky.social/app.bsky.feed.post/1", "at://did:plc:x/app.bsky.feed.post", "at://did:plc:x//1", "at://did:plc:x/a/b/c"} {
		if _, err := ParseURI(bad); !errors.Is(err, ErrBadURI) {
			t.Errorf("ParseURI(%q) = %v", bad, err)
		}
	}
}

func TestPostItemBadRecord(t *testing.T) {
	for _, rec := range []string{`not json`, `{"text": 5}`, `[]`, `{"facets": "x"}`} {
		if _, _, _, err := postItem([]byte(rec), URI{"did:plc:x", CollectionPost, "1"}, author{DID: "did:plc:x"}, noNames); !errors.Is(err, ErrBadRecord) {
			t.Errorf("record %q: %v", rec, err)
		}
	}
}
