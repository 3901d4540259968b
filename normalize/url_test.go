package normalize

import (
	"strings"
	"testing"
	"time"

	"github.com/newswire/newswire/provenance"
	"github.com/newswire/newswire/wire"
)

func TestCanonicalURLTracking(t *testing.T) {
	for in, want := range map[string]string{
		"https://www.bbc.com/news/world-1?at_medium=RSS&at_campaign=KARANGA":                        "https://bbc.com/news/world-1",
		"https://www.ft.com/content/abc?FTCamp=engage&traffic_source=rss&maca=en-rss":               "https://ft.com/content/abc?FTCamp=engage",
		"https://www.zeit.de/politik/x?wt_mc=rss.int.ref.zeitde&WT.mc_id=a&WT.z_src=b":              "https://zeit.de/politik/x",
		"https://www.independent.co.uk/x.html?ito=social&icid=1&ncid=2&cmpid=3&_ga=4&igshid=5":      "https://independent.co.uk/x.html",
		"https://edition.cnn.com/x?ref_src=twsrc&s_cid=1&spm=a.b&share=1&yclid=9&mc_cid=1&mc_eid=2": "https://cnn.com/x",
		"https://example.com/search?q=a%2Cb&page=2&utm_medium=email":                                "https://example.com/search?page=2&q=a%2Cb",
		"https://example.com/search?q=a,b":                                                          "https://example.com/search?q=a,b",
		"https://www.youtube.com/watch?v=abc&si=share&feature=shared":                               "https://youtube.com/watch?v=abc",
		// a link escaped twice by its publisher (110 of the bundled UCI rows)
		`http://money.msn.com/business-news/article.aspx?feed=OBR&amp;date=20140310&amp;id=17418699`: "http://money.msn.com/business-news/article.aspx?date=20140310&feed=OBR&id=17418699",
	} {
		if got := CanonicalURL(in); got != want {
			t.Errorf("CanonicalURL(%q)\n = %q\nwant %q", in, got, want)
		}
	}
}

func TestCanonicalURLRedirectors(t *testing.T) {
	for in, want := range map[string]string{
		// a publisher's redirect form: the target as written, "*" and all
		"https://www.example.com/rss/click/*https://real.site/2024/06/article-name*1?x=1": "https://real.site/2024/06/article-name*1?x=1",
		"https://real.site/a*b/(c)": "https://real.site/a*b/(c)",
		// Google Alerts and search result links
		"https://www.google.com/url?rct=j&sa=t&url=https://www.reuters.com/world/africa/malawi-2024-06-11/&ct=ga&cd=CAIyGj": "https://reuters.com/world/africa/malawi-2024-06-11/",
		"https://www.google.co.uk/url?q=https%3A%2F%2Fwww.bbc.co.uk%2Fnews%2Fworld-1%3Futm_source%3Dg&sa=D":                 "https://bbc.co.uk/news/world-1",
		"https://l.facebook.com/l.php?u=https%3A%2F%2Fwww.aljazeera.com%2Fnews%2F2024%2F6%2F11%2Fx%3Ffbclid%3DIwAR&h=AT0":   "https://aljazeera.com/news/2024/6/11/x",
		"https://vk.com/away.php?to=https%3A%2F%2Fria.ru%2F20240611%2Fx.html&cc_key=":                                       "https://ria.ru/20240611/x.html",
		"https://www.youtube.com/redirect?event=video_description&q=https%3A%2F%2Fexample.org%2Fa&v=x":                      "https://example.org/a",
		"https://t.me/iv?url=https%3A%2F%2Fexample.org%2Fstory&rhash=abc":                                                   "https://example.org/story",
		"https://feedproxy.google.com/~r/example/~3/abc/?url=https%3A%2F%2Fexample.org%2Fb":                                 "https://example.org/b",
		// not unwrappable: left alone (but canonical)
		"https://news.google.com/rss/articles/CBMiK2h0dHBzOi8vZXhhbXBsZS5jb20vYS?oc=5": "https://news.google.com/rss/articles/CBMiK2h0dHBzOi8vZXhhbXBsZS5jb20vYS?oc=5",
		"https://www.google.com/url?q=javascript:alert(1)":                             "https://google.com/url?q=javascript:alert(1)",
		"https://feedproxy.google.com/~r/example/~3/abc/story.htm":                     "https://feedproxy.google.com/~r/example/~3/abc/story.htm",
	} {
		got := CanonicalURL(in)
		if got != want {
			t.Errorf("CanonicalURL(%q)\n = %q\nwant %q", in, got, want)
		}
		if again := CanonicalURL(got); again != got {
			t.Errorf("not idempotent: %q → %q", got, again)
		}
	}
}

// TestEntryKeepsPublishedURL: an entry whose canonical URL differs from
// the one the source published keeps the published one too.
func TestEntryKeepsPublishedURL(t *testing.T) {
	published := "https://www.example.com/rss/click/*https://real.site/a?utm_source=rss"
	raw := wire.RawItem{Kind: "rss", Source: "s", NativeID: "1", Title: "t", URL: published}
	e, err := Normalize(DefaultConfig(), raw, provenance.RawRef{})
	if err != nil {
		t.Fatal(err)
	}
	if e.URL != "https://real.site/a" || e.OriginalURL != published {
		t.Errorf("url %q, original %q", e.URL, e.OriginalURL)
	}
}

// A link its publisher escaped twice ("&amp;" in the URL itself, as in
// 110 of the bundled UCI rows) is decoded once in both the canonical and
// the published URL, so no page renders a link to "…&amp;amp;id=…".
func TestNormalizeDecodesDoubleEscapedLinks(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Languages = []string{}
	raw := wire.RawItem{Schema: wire.SchemaRaw, Kind: "rss", Source: "msn", NativeID: "1", Title: "Stocks fall",
		URL:        "http://www.money.msn.com/article.aspx?feed=OBR&amp;date=20140310&amp;id=17418699&utm_source=rss",
		Published:  "2014-03-10T16:52:50Z",
		ObservedAt: time.Date(2014, 3, 10, 17, 0, 0, 0, time.UTC)}
	e, err := Normalize(cfg, raw, provenance.RawRef{Stream: "WIRE_RAW", Seq: 1, MsgID: "rss:msn:1"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(e.URL, "&amp;") || strings.Contains(e.OriginalURL, "&amp;") ||
		e.OriginalURL != "http://www.money.msn.com/article.aspx?feed=OBR&date=20140310&id=17418699&utm_source=rss" {
		t.Errorf("url %q, original_url %q", e.URL, e.OriginalURL)
	}
}
