package tgweb

import (
	"testing"

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
