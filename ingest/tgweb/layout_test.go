package tgweb

import (
	"context"
	"errors"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/newswire/newswire/ingest"

	"github.com/newswire/newswire/normalize"
)

// TestParseCollapsesSourceWhitespace reads a page whose HTML wraps post
// text over several source lines, as t.me's does for long posts: the text
// is what a browser shows — source breaks are spaces, <br> breaks lines —
// so links stay whole and headlines do not stop mid-sentence.
func TestParseCollapsesSourceWhitespace(t *testing.T) {
	p, err := ParsePage(fixture(t, "page_wrapped.html"))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Posts) != 3 || p.Malformed != 0 {
		t.Fatalf("%d posts, %d malformed", len(p.Posts), p.Malformed)
	}
	want := map[int]struct{ text, headline string }{
		201: {"Parliament approved the budget after a night-long debate, the speaker said.\nOpposition members walked out before the vote.",
			"Parliament approved the budget after a night-long debate, the speaker said."},
		202: {"Read the **full statement** here: [statement of the central bank](https://example.com/statement), and the [live coverage](https://example.org/live).",
			"Read the full statement here: statement of the central bank, and the live coverage."},
		203: {"First line\nsecond line\n\nThird paragraph with `code` and```x  =  1\ny = 2```", "First line"},
	}
	for _, post := range p.Posts {
		w := want[post.ID]
		if post.Text != w.text {
			t.Errorf("%d text\n got %q\nwant %q", post.ID, post.Text, w.text)
		}
		plain := normalize.MarkdownToText(post.Text)
		if h := normalize.Headline(plain, 110); h != w.headline {
			t.Errorf("%d headline\n got %q\nwant %q\n(text %q)", post.ID, h, w.headline, plain)
		}
	}
}

func TestNewChecksBaseURL(t *testing.T) {
	pub, kv := ingest.NewJetStreamPublisher(nil), stateStub{}
	for _, bad := range []string{"t.me", "ftp://t.me", "https://t.me/?x=1", "https://t.me/#a"} {
		_, err := New(Config{Channels: []Channel{{ID: "a", Username: "a", BaseURL: bad}}}, pub, kv, nil, nil)
		if !errors.Is(err, ErrBaseURL) {
			t.Errorf("channel base URL %q: %v", bad, err)
		}
		_, err = New(Config{BaseURL: bad, Channels: []Channel{{ID: "a", Username: "a"}}}, pub, kv, nil, nil)
		if !errors.Is(err, ErrBaseURL) {
			t.Errorf("collector base URL %q: %v", bad, err)
		}
	}
	c, err := New(Config{Channels: []Channel{{ID: "a", Username: "a"}, {ID: "b", Username: "b", BaseURL: "http://mirror.example/tg/"}}}, pub, kv, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := []string{c.cfg.Channels[0].BaseURL, c.cfg.Channels[1].BaseURL}; got[0] != DefaultBaseURL || got[1] != "http://mirror.example/tg" {
		t.Errorf("base URLs %q", got)
	}
}

// stateStub is a StateStore for tests that never poll.
type stateStub struct{}

func (stateStub) Get(context.Context, string) (jetstream.KeyValueEntry, error) {
	return nil, jetstream.ErrKeyNotFound
}
func (stateStub) Put(context.Context, string, []byte) (uint64, error) { return 0, nil }
