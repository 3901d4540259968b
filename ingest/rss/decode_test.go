package rss

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/newswire/newswire/normalize"
	"github.com/newswire/newswire/provenance"
)

func readCapture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(capturesDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCharsetGuessAndDeclarations(t *testing.T) {
	undeclared := readCapture(t, "lecerclepsy-rss20-latin1-undeclared.xml")
	cp1251 := readCapture(t, "ibash-rss20-windows1251.xml")
	for _, c := range []struct {
		name, contentType string
		body              []byte
		guessed, repaired bool
		contains          string
	}{
		// "d'études" in ISO-8859-1 bytes, with nothing declared anywhere.
		{"undeclared latin-1", "text/xml", undeclared, true, false, "nombre d'études montrent"},
		{"undeclared, no content type", "", undeclared, true, false, "Masters en Psycho\u00a0: une simplification"},
		// The same bytes declared as windows-1251 are read so: a declaration
		// always wins over the guess, even when it looks wrong.
		{"declared by Content-Type", "text/xml; charset=windows-1251", undeclared, false, false, "d'йtudes"},
		{"declared by the XML declaration", "text/xml", cp1251, false, false, "Цитата"},
		{"declared by the header over the document", "text/xml; charset=iso-8859-1", cp1251, false, false, "Öèòàòà"},
		{"undeclared UTF-8", "text/xml", []byte("<rss><channel><item><title>Grüße</title></item></channel></rss>"), false, false, "Grüße"},
		{"declared UTF-8 with a stray byte", "text/xml; charset=utf-8", []byte("<rss><channel><item><title>Gr\xfc\xdfe</title></item></channel></rss>"), false, true, "Gr\uFFFDe"},
		{"BOM", "", append([]byte{0xEF, 0xBB, 0xBF}, "<rss><title>Grüße</title></rss>"...), false, false, "Grüße"},
	} {
		t.Run(c.name, func(t *testing.T) {
			d, err := toUTF8(c.body, c.contentType)
			if err != nil {
				t.Fatal(err)
			}
			if d.guessed != c.guessed || d.repaired != c.repaired {
				t.Errorf("guessed %v repaired %v, want %v %v", d.guessed, d.repaired, c.guessed, c.repaired)
			}
			if !strings.Contains(string(d.body), c.contains) {
				t.Errorf("decoded body lacks %q", c.contains)
			}
		})
	}
}

// A feed that declares no charset and is not UTF-8 is read, and its health
// says the charset was guessed until it serves a document that needs no
// guess.
func TestGuessedCharsetInHealth(t *testing.T) {
	var serveUTF8 atomic.Bool
	latin := readCapture(t, "lecerclepsy-rss20-latin1-undeclared.xml")
	utf := readCapture(t, "nuus-rss20.xml")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/xml")
		if serveUTF8.Load() {
			w.Write(utf)
			return
		}
		w.Write(latin)
	}))
	defer srv.Close()
	r := newRig(t, Config{Feeds: []Feed{{ID: "psy", URL: srv.URL + "/rss"}}})
	r.pollFeed(0)
	st := r.state(0)
	if st.Errors != 0 || st.CharsetGuessed != GuessedCharset {
		t.Fatalf("state %+v: want charset_guessed %q and no error", st, GuessedCharset)
	}
	if s := r.c.Stats(); s.Guessed != 1 || s.InvalidUTF8 != 0 {
		t.Fatalf("stats %+v", s)
	}
	raws, _ := rawItems(t, r.srv.JS)
	found := false
	for _, raw := range raws {
		if raw.Title == "L'enfant doué : quand trop comprendre... empêche parfois de comprendre" {
			found = true
		}
	}
	if !found {
		t.Errorf("no item with the windows-1252 title read right among %d", len(raws))
	}
	serveUTF8.Store(true)
	r.clock.Advance(24 * time.Hour)
	r.pollFeed(0)
	if st := r.state(0); st.Errors != 0 || st.CharsetGuessed != "" {
		t.Fatalf("after a UTF-8 document: state %+v", st)
	}
}

func TestNotFeedsAreRefused(t *testing.T) {
	for _, c := range []struct {
		name string
		body string
		want error
	}{
		{"object without version", `{"foo":1}`, ErrNotJSONFeed},
		{"API response", `{"status":"ok","data":{"items":[{"title":"x"}]}}`, ErrNotJSONFeed},
		{"JSON array", `[{"title":"x","url":"https://example.org/"}]`, ErrNotJSONFeed},
		{"unknown version", `{"version":"https://jsonfeed.org/version/2","items":[]}`, ErrNotJSONFeed},
		{"version not a string", `{"version":1.1,"items":[]}`, ErrNotJSONFeed},
		{"broken JSON", `{"version":"https://jsonfeed.org/version/1",`, ErrNotJSONFeed},
		{"HTML page", "<!DOCTYPE html><html><body>Moved</body></html>", ErrNotFeed},
		{"plain text", "Service Unavailable", ErrNotFeed},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := parseDocument([]byte(c.body))
			if !errors.Is(err, c.want) {
				t.Fatalf("error %v, want %v", err, c.want)
			}
		})
	}
	for _, v := range []string{"https://jsonfeed.org/version/1", "https://jsonfeed.org/version/1.1", "http://jsonfeed.org/version/1/", " HTTPS://JSONFEED.ORG/VERSION/1.1 "} {
		doc, err := parseDocument([]byte(`{"version":"` + v + `","title":"t","items":[{"id":"1","content_text":"x"}]}`))
		if err != nil || len(doc.feed.Items) != 1 {
			t.Errorf("version %q refused: %v", v, err)
		}
	}
}

// A poll of JSON that is no JSON Feed fails, is counted and says why in the
// feed's health, rather than succeeding with no items.
func TestPollRefusesJSONThatIsNotAFeed(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"foo":1}`))
	}))
	defer srv.Close()
	r := newRig(t, Config{Feeds: []Feed{{ID: "api", URL: srv.URL + "/v1/news"}}})
	r.pollFeed(0)
	st := r.state(0)
	if st.Errors != 1 || !strings.Contains(st.LastError, "not a JSON Feed") || !st.LastSuccess.IsZero() {
		t.Fatalf("state %+v", st)
	}
	if s := r.c.Stats(); s.Failures != 1 || s.Published != 0 {
		t.Fatalf("stats %+v", s)
	}
}

// Titles reach the normalizer in the format their feed defines: JSON Feed
// and Atom type="text" titles are plain text whatever they contain, RSS and
// Atom type="html" titles are HTML.
func TestTitleFormats(t *testing.T) {
	cfg := normalize.DefaultConfig()
	cfg.Detector = normalize.ScriptDetector{}
	for _, c := range []struct {
		name, body string
		want       []string // headlines in document order
	}{
		{"json feed", `{"version":"https://jsonfeed.org/version/1.1","title":"t","items":[
			{"id":"1","title":"Die R\u00fcckkehr von \u003ci\u003e und \u003cb\u003e","content_text":"x"},
			{"id":"2","title":"AT&amp;T","content_text":"y"}]}`,
			[]string{"Die Rückkehr von <i> und <b>", "AT&amp;T"}},
		{"atom", `<feed xmlns="http://www.w3.org/2005/Atom"><title>f</title>
			<entry><id>1</id><title>Die Rückkehr von &lt;i&gt; und &lt;b&gt;</title><updated>2024-06-11T09:00:00Z</updated></entry>
			<entry><id>2</id><title type="text">x &lt; y &amp; z</title><updated>2024-06-11T09:00:00Z</updated></entry>
			<entry><id>3</id><title type="html">Gr&#232;ve &lt;em&gt;nationale&lt;/em&gt;</title><updated>2024-06-11T09:00:00Z</updated></entry>
			<entry><id>4</id><title type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">Ein <b>fettes</b> Wort</div></title><updated>2024-06-11T09:00:00Z</updated></entry>
			<entry><id>5</id><source><title type="html">&lt;b&gt;other feed&lt;/b&gt;</title></source><title>&lt;3 plain</title><updated>2024-06-11T09:00:00Z</updated></entry>
			</feed>`,
			[]string{"Die Rückkehr von <i> und <b>", "x < y & z", "Grève nationale", "Ein fettes Wort", "<3 plain"}},
		{"rss", `<rss version="2.0"><channel><title>f</title>
			<item><guid>1</guid><title>Gr&#232;ve &lt;em&gt;nationale&lt;/em&gt;</title></item>
			<item><guid>2</guid><title>AT&amp;amp;T</title></item></channel></rss>`,
			[]string{"Grève nationale", "AT&T"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			raws, err := Items(Feed{ID: "f"}, []byte(c.body), t0)
			if err != nil {
				t.Fatal(err)
			}
			if len(raws) != len(c.want) {
				t.Fatalf("%d items, want %d", len(raws), len(c.want))
			}
			for _, raw := range raws {
				e, err := normalize.Normalize(cfg, raw, provenance.RawRef{})
				if err != nil {
					t.Fatal(err)
				}
				if want := c.want[raw.Position]; e.Headline != want {
					t.Errorf("item %d (%s %q): headline %q, want %q", raw.Position, raw.TitleFormat, raw.Title, e.Headline, want)
				}
			}
		})
	}
}

// Items carry their place in the document, first item 0, so undated items
// keep the feed's order after normalization.
func TestItemsCarryTheirPosition(t *testing.T) {
	// heise's RSS 0.90 feed dates none of its 60 items.
	raws, err := Items(Feed{ID: "heise"}, readCapture(t, "heise-rss090.rdf"), t0)
	if err != nil {
		t.Fatal(err)
	}
	if len(raws) != 60 {
		t.Fatalf("%d items", len(raws))
	}
	for i, raw := range raws {
		// Items is oldest first: the document's last item comes first.
		if raw.Position != len(raws)-1-i {
			t.Fatalf("item %d has position %d", i, raw.Position)
		}
		e, err := normalize.Normalize(normalize.DefaultConfig(), raw, provenance.RawRef{})
		if err != nil {
			t.Fatal(err)
		}
		if want := t0.Add(-time.Duration(raw.Position) * normalize.PositionStep); !e.PublishedAt.Equal(want) || !slices.Contains(e.Flags, normalize.FlagNoTime) {
			t.Fatalf("position %d published %v, want %v", raw.Position, e.PublishedAt, want)
		}
	}
}

// An item dated only by date_modified is dated by it.
func TestJSONFeedModifiedOnly(t *testing.T) {
	raws, err := Items(Feed{ID: "j"}, []byte(`{"version":"https://jsonfeed.org/version/1.1","title":"t","items":[
		{"id":"1","title":"a","date_modified":"2024-06-10T08:00:00+02:00"},
		{"id":"2","title":"b","date_published":"2024-06-09T08:00:00Z","date_modified":"2024-06-10T09:00:00Z"}]}`), t0)
	if err != nil {
		t.Fatal(err)
	}
	want := map[int]string{0: "2024-06-10T06:00:00Z", 1: "2024-06-09T08:00:00Z"}
	for _, raw := range raws {
		e, err := normalize.Normalize(normalize.DefaultConfig(), raw, provenance.RawRef{})
		if err != nil {
			t.Fatal(err)
		}
		if got := e.PublishedAt.Format(time.RFC3339); got != want[raw.Position] || len(e.Flags) > 1 {
			t.Errorf("item %d: published_at %s flags %v, want %s", raw.Position, got, e.Flags, want[raw.Position])
		}
	}
}
