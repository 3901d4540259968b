package web

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/newswire/newswire/provenance"
	"github.com/newswire/newswire/wire"
)

func TestStoreHoldsABoundedNumberOfBytes(t *testing.T) {
	store := NewBoundedStore(10, 1<<20)
	at := time.Date(2024, 6, 11, 0, 0, 0, 0, time.UTC)
	big := strings.Repeat("x", 100<<10)
	for i := 0; i < 40; i++ {
		store.PutStory(wire.Story{ID: "s" + strconv.Itoa(i), Version: 1, Headline: big, LastUpdated: at.Add(time.Duration(i) * time.Minute)})
		if st := store.Stats(); st.StoryBytes > 1<<20 {
			t.Fatalf("after %d stories the store holds %d bytes, cap %d", i+1, st.StoryBytes, 1<<20)
		}
	}
	st := store.Stats()
	if st.Stories < 5 || st.Stories > 10 || st.Evicted != int64(40-st.Stories) {
		t.Errorf("stats %+v", st)
	}
	if _, ok := store.Story("s39"); !ok {
		t.Error("the newest story was evicted")
	}
	if _, ok := store.Story("s0"); ok {
		t.Error("the oldest story was kept")
	}
	// A new version replaces the old one's bytes instead of adding to them.
	before := store.Stats().StoryBytes
	store.PutStory(wire.Story{ID: "s39", Version: 2, Headline: "small", LastUpdated: at.Add(time.Hour)})
	if after := store.Stats().StoryBytes; after >= before-90<<10 {
		t.Errorf("bytes %d → %d after a story shrank", before, after)
	}
}

func TestStreamClientsAreCapped(t *testing.T) {
	store := NewStore(10)
	api := NewServer(Config{MaxStreams: 2}, store, nil)
	hs := httptest.NewServer(api.Handler())
	defer hs.Close()
	defer api.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	open := func() *http.Response {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, hs.URL+"/api/stream", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	a, b := open(), open()
	defer a.Body.Close()
	defer b.Body.Close()
	c := open()
	c.Body.Close()
	if c.StatusCode != http.StatusServiceUnavailable || c.Header.Get("Retry-After") == "" {
		t.Fatalf("third client answered %d (Retry-After %q)", c.StatusCode, c.Header.Get("Retry-After"))
	}
	if st := api.Stats(); st.StreamsRefused != 1 || st.Streams != 2 {
		t.Fatalf("stats %+v", st)
	}
	// A closed stream frees its place.
	a.Body.Close()
	for api.Stats().Streams != 1 {
		time.Sleep(5 * time.Millisecond)
	}
	d := open()
	defer d.Body.Close()
	if d.StatusCode != http.StatusOK {
		t.Fatalf("client after one left answered %d", d.StatusCode)
	}
}

// TestSlowStreamClientIsDropped: a client that stops reading is dropped
// once its buffer at the store is full, and counted.
func TestSlowStreamClientIsDropped(t *testing.T) {
	store := NewStore(10)
	api := NewServer(Config{StreamWriteTimeout: 100 * time.Millisecond}, store, nil)
	hs := httptest.NewServer(api.Handler())
	defer hs.Close()
	defer api.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, hs.URL+"/api/stream", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	for subscribers(store) == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	// The client reads nothing; big entries fill the socket, then the
	// subscriber's buffer.
	big := strings.Repeat("y", 256<<10)
	src := provenance.Source{ID: "a", Kind: "rss", Code: "A"}
	for i := 0; api.Stats().SlowDropped == 0; i++ {
		store.AddEntry(wire.Entry{ID: "e" + strconv.Itoa(i), Source: src, Headline: big})
		if i%64 == 63 {
			time.Sleep(10 * time.Millisecond)
		}
		if i > 100000 {
			t.Fatal("a client that reads nothing was never dropped")
		}
	}
	for subscribers(store) != 0 || api.Stats().Streams != 0 {
		time.Sleep(5 * time.Millisecond)
	}
}

// TestPagesRunNoInlineScript: the pages' CSP allows scripts only from the
// server, and the pages use no inline script, only /static/wire.js, which
// is served as JavaScript.
func TestPagesRunNoInlineScript(t *testing.T) {
	store := NewStore(10)
	store.PutStory(wire.Story{ID: "s1", Version: 1, Headline: "h"})
	hs := httptest.NewServer(NewServer(Config{}, store, nil).Handler())
	defer hs.Close()
	// A JSON-LD block is data that browsers never run; any other script
	// element with content, or an event-handler attribute, is inline script.
	inline := regexp.MustCompile(`<script(\s[^>]*)?>[^<]+</script>|\son[a-z]+=`)
	for _, page := range []string{"/", "/stories", "/stories/s1"} {
		resp, err := http.Get(hs.URL + page)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		csp := resp.Header.Get("Content-Security-Policy")
		scriptSrc := ""
		for _, d := range strings.Split(csp, ";") {
			if f := strings.Fields(d); len(f) > 0 && f[0] == "script-src" {
				scriptSrc = d
			}
		}
		if strings.TrimSpace(scriptSrc) != "script-src 'self'" {
			t.Errorf("%s CSP %q: script-src must be 'self' alone", page, csp)
		}
		for _, m := range inline.FindAllString(string(body), -1) {
			if !strings.HasPrefix(m, `<script type="application/ld+json">`) {
				t.Errorf("%s has inline script %q", page, m)
			}
		}
	}
	code, body := get(t, hs.URL+"/static/wire.js")
	if code != 200 || !strings.Contains(body, "new EventSource('/api/v1/stream?events=entry')") {
		t.Errorf("/static/wire.js: %d %q", code, body)
	}
	resp, err := http.Get(hs.URL + "/static/wire.js")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/javascript") {
		t.Errorf("wire.js served as %q", ct)
	}
	for _, p := range []string{"/static/wire.html", "/static/nope.js", "/static/..%2fpages.go"} {
		if code, _ := get(t, hs.URL+p); code != http.StatusNotFound {
			t.Errorf("%s answered %d", p, code)
		}
	}
	if code, _ := get(t, hs.URL+"/"); code != 200 {
		t.Errorf("wire page %d", code)
	}
}
