package rss

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/newswire/newswire/normalize"
	"github.com/newswire/newswire/provenance"
	"github.com/newswire/newswire/wire"
)

// capturesDir holds real feeds captured from publishers (see its README).
var capturesDir = filepath.Join("..", "..", "testdata", "captures")

// captureExpect is what reading one captured file says the pipeline must
// make of it (testdata/captures/expected.json; the README says how it was
// written).
type captureExpect struct {
	File string `json:"file"`
	// Error is a phrase of the error a poll of a non-feed must end with.
	Error string `json:"error"`
	Items int    `json:"items"`
	// Guessed says the file declares no charset and is not UTF-8.
	Guessed bool `json:"guessed"`
	// Published is every published item's published_at after
	// normalization, by document position; items without a usable date
	// are at t0 less one second per position.
	Published map[string]string `json:"published"`
	// Empty lists the positions of items with neither title nor text,
	// which the normalizer refuses.
	Empty []int `json:"empty"`
	// Titles and Links are keyed by document position: the headline after
	// normalization and the raw item's URL.
	Titles map[string]string `json:"titles"`
	Links  map[string]string `json:"links"`
	// DateForms names date layouts beyond RFC 822/3339 the file uses
	// (documentation: every date must read as its true time).
	DateForms []string `json:"date_forms"`
}

// contentTypeOf is what a plain server sends: a type, never a charset.
func contentTypeOf(name string) string {
	switch filepath.Ext(name) {
	case ".json":
		return "application/json"
	case ".html":
		return "text/html"
	}
	return "text/xml"
}

// TestCaptures polls every captured feed through the collector (HTTP
// fetch, charset, parse, identity, publish on a real JetStream) and
// normalizes what it published with the real normalizer.
func TestCaptures(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(capturesDir, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cases []captureExpect
	if err := json.Unmarshal(data, &cases); err != nil {
		t.Fatalf("expected.json: %v", err)
	}
	files, _ := filepath.Glob(filepath.Join(capturesDir, "*"))
	captured := 0
	for _, f := range files {
		// Subfolders hold captures for other collectors (tme/: t.me/s
		// pages, tested in ingest/tgweb).
		if fi, err := os.Stat(f); err == nil && fi.IsDir() {
			continue
		}
		if b := filepath.Base(f); b != "expected.json" && b != "README.md" && b != "expect.py" {
			captured++
		}
	}
	if captured != len(cases) || len(cases) < 30 {
		t.Fatalf("%d captured files, %d with expectations: every capture needs one", captured, len(cases))
	}

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := filepath.Base(r.URL.Path)
		body, err := os.ReadFile(filepath.Join(capturesDir, name))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", contentTypeOf(name))
		w.Write(body)
	}))
	defer srv.Close()
	cfg := Config{PerHost: len(cases)}
	for i, c := range cases {
		cfg.Feeds = append(cfg.Feeds, Feed{ID: "cap" + strconv.Itoa(i), URL: srv.URL + "/" + c.File})
	}
	r := newRig(t, cfg)
	for i := range cases {
		r.pollFeed(i)
	}
	raws, _ := rawItems(t, r.srv.JS)
	bySource := map[string][]wire.RawItem{}
	for _, raw := range raws {
		bySource[raw.Source] = append(bySource[raw.Source], raw)
	}
	ncfg := normalize.DefaultConfig()
	ncfg.Detector = normalize.ScriptDetector{}
	failures := 0

	for i, c := range cases {
		t.Run(c.File, func(t *testing.T) {
			st := r.state(i)
			if c.Error != "" {
				if st.Errors != 1 || !strings.Contains(st.LastError, c.Error) {
					t.Fatalf("errors %d, last error %q; want one error with %q", st.Errors, st.LastError, c.Error)
				}
				if n := len(bySource["cap"+strconv.Itoa(i)]); n != 0 {
					t.Fatalf("a non-feed published %d items", n)
				}
				failures++
				return
			}
			if st.Errors != 0 {
				t.Fatalf("poll failed: %s", st.LastError)
			}
			if got := st.CharsetGuessed != ""; got != c.Guessed {
				t.Errorf("charset guessed %q, want guessed=%v", st.CharsetGuessed, c.Guessed)
			}
			items := bySource["cap"+strconv.Itoa(i)]
			if len(items) != c.Items {
				t.Fatalf("published %d items, want %d", len(items), c.Items)
			}
			entries := make(map[int]wire.Entry, len(items))
			raws := make(map[int]wire.RawItem, len(items))
			for _, raw := range items {
				if _, dup := raws[raw.Position]; dup {
					t.Fatalf("position %d repeated", raw.Position)
				}
				raws[raw.Position] = raw
				e, err := normalize.Normalize(ncfg, raw, provenance.RawRef{Stream: "WIRE_RAW", Seq: 1})
				if slices.Contains(c.Empty, raw.Position) {
					if !errors.Is(err, normalize.ErrNoContent) {
						t.Errorf("empty item %d: normalize error %v, want ErrNoContent", raw.Position, err)
					}
					continue
				}
				if err != nil {
					t.Fatalf("normalize item %d (%q): %v", raw.Position, raw.Title, err)
				}
				if strings.ContainsRune(e.Headline+e.Text, '\uFFFD') {
					t.Errorf("item %d has bytes that did not decode: %q", raw.Position, e.Headline)
				}
				entries[raw.Position] = e
				if want, ok := c.Links[strconv.Itoa(raw.Position)]; ok && raw.URL != want {
					t.Errorf("item %d url %q, want %q", raw.Position, raw.URL, want)
				}
			}
			for pos, want := range c.Titles {
				p, _ := strconv.Atoi(pos)
				if got := entries[p].Headline; got != want {
					t.Errorf("item %d headline\n got %q\nwant %q", p, got, want)
				}
			}
			if len(c.Published) != len(items) {
				t.Fatalf("%d published times expected for %d items", len(c.Published), len(items))
			}
			for pos, want := range c.Published {
				p, _ := strconv.Atoi(pos)
				if _, ok := raws[p]; !ok {
					t.Fatalf("no item published at position %d", p)
				}
				e, ok := entries[p]
				if !ok {
					continue
				}
				got := e.PublishedAt.UTC().Format(time.RFC3339)
				if got == want {
					continue
				}
				t.Errorf("item %d published_at %s, want %s (raw %q, flags %v)", p, got, want, raws[p].Published, e.Flags)
			}
		})
	}
	if st := r.c.Stats(); st.Failures != int64(failures) {
		t.Errorf("collector counted %d failures, want %d", st.Failures, failures)
	}
}

// TestCapturesDecode checks the decode step alone, as WebSub deliveries
// use it: the same captures are feeds, guessed or refused as in a poll.
func TestCapturesDecode(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(capturesDir, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cases []captureExpect
	if err := json.Unmarshal(data, &cases); err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		body, err := os.ReadFile(filepath.Join(capturesDir, c.File))
		if err != nil {
			t.Fatal(err)
		}
		c2 := &Collector{log: nopLogger()}
		doc, err := c2.decode(Feed{ID: "x"}, &response{Body: body, ContentType: contentTypeOf(c.File)})
		switch {
		case c.Error != "" && err == nil:
			t.Errorf("%s: parsed as a feed of %d items", c.File, len(doc.feed.Items))
		case c.Error != "" && !errors.Is(err, ErrNotFeed) && !errors.Is(err, ErrNotJSONFeed):
			t.Errorf("%s: error %v is neither ErrNotFeed nor ErrNotJSONFeed", c.File, err)
		case c.Error == "" && err != nil:
			t.Errorf("%s: %v", c.File, err)
		case c.Error == "" && doc.charsetGuessed != c.Guessed:
			t.Errorf("%s: charset guessed %v, want %v", c.File, doc.charsetGuessed, c.Guessed)
		}
	}
}
