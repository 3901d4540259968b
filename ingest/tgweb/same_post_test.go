package tgweb

import (
	"testing"

	"github.com/gotd/td/tg"

	"github.com/newswire/newswire/ingest/telegram"
	"github.com/newswire/newswire/normalize"
	"github.com/newswire/newswire/provenance"
	"github.com/newswire/newswire/wire"
)

// TestSamePostSameEntry checks the promise both collectors make: a post
// seen over MTProto and on the preview gets the same URL, the same text
// and so the same exact fingerprint, which makes the normalizer keep one
// entry. The MTProto side is the message as Telegram would send it for
// the fixture's posts.
func TestSamePostSameEntry(t *testing.T) {
	page, err := ParsePage(fixture(t, "page_full.html"))
	if err != nil {
		t.Fatal(err)
	}
	web := map[int]Post{}
	for _, p := range page.Posts {
		web[p.ID] = p
	}
	cases := []struct {
		id       int
		text     string
		entities []tg.MessageEntityClass
	}{
		{101, "Breaking: quake hits 🇯🇵 Japan coast. Details", []tg.MessageEntityClass{
			&tg.MessageEntityBold{Offset: 0, Length: 8},
			&tg.MessageEntityTextURL{Offset: 39, Length: 7, URL: "https://example.com/quake?a=1&b=2"},
		}},
		{102, "Officials confirm the evacuation order. #Japan via @originnews\nMore at example.org/live", []tg.MessageEntityClass{
			&tg.MessageEntityHashtag{Offset: 40, Length: 6},
			&tg.MessageEntityMention{Offset: 51, Length: 11},
			&tg.MessageEntityURL{Offset: 71, Length: 16},
		}},
		{104, telegram.PollText("Will rates rise?", []string{"Yes", "No"}), nil},
		{105, "Update to the report above: M6.9, no tsunami warning <b>issued</b> & lifted.", []tg.MessageEntityClass{
			&tg.MessageEntityCode{Offset: 28, Length: 4},
			&tg.MessageEntityStrike{Offset: 34, Length: 2},
			&tg.MessageEntitySpoiler{Offset: 69, Length: 6},
		}},
	}
	cfg := normalize.DefaultConfig()
	for _, c := range cases {
		mt := telegram.Markdown(c.text, c.entities)
		if mt != web[c.id].Text {
			t.Errorf("post %d renders differently:\n mtproto %q\n preview %q", c.id, mt, web[c.id].Text)
		}
		a := wire.RawItem{Kind: telegram.Kind, Source: "reuters", NativeID: telegram.NativeID("Reuters", c.id), URL: telegram.PostURL("Reuters", c.id),
			Body: mt, BodyFormat: wire.FormatMarkdown, Published: "2024-06-01T10:01:00Z"}
		b := wire.RawItem{Kind: Kind, Source: "reuters-web", NativeID: NativeID("reuters", c.id), URL: PostURL("reuters", c.id),
			Body: web[c.id].Text, BodyFormat: wire.FormatMarkdown, Published: PublishedRFC3339(web[c.id].Published)}
		ea, err := normalize.Normalize(cfg, a, provenance.RawRef{})
		if err != nil {
			t.Fatal(err)
		}
		eb, err := normalize.Normalize(cfg, b, provenance.RawRef{})
		if err != nil {
			t.Fatal(err)
		}
		if ea.URL != eb.URL || ea.Fingerprint.Exact != eb.Fingerprint.Exact {
			t.Errorf("post %d: entries differ: %q %s vs %q %s", c.id, ea.URL, ea.Fingerprint.Exact, eb.URL, eb.Fingerprint.Exact)
		}
	}
}
