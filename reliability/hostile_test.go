package reliability

import (
	"bytes"
	"compress/gzip"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"

	"github.com/newswire/newswire/bus"
	"github.com/newswire/newswire/bus/bustest"
	"github.com/newswire/newswire/ingest"
	"github.com/newswire/newswire/ingest/egress"
	"github.com/newswire/newswire/ingest/rss"
	"github.com/newswire/newswire/normalize"
	"github.com/newswire/newswire/synth"
	"github.com/newswire/newswire/web"
	"github.com/newswire/newswire/wire"
)

// hostileFeeds are the inputs the test serves: the hand-written edge
// cases of testdata/hostile and the ones too big to commit, made here.
func hostileFeeds(t *testing.T) map[string]func(http.ResponseWriter, *http.Request) {
	t.Helper()
	feeds := map[string]func(http.ResponseWriter, *http.Request){}
	files, err := filepath.Glob("../testdata/hostile/*")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if strings.HasSuffix(f, ".md") {
			continue
		}
		body, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		ctype := "application/rss+xml"
		switch filepath.Ext(f) {
		case ".json":
			ctype = "application/feed+json"
		case ".html":
			ctype = "text/html"
		}
		feeds[strings.TrimSuffix(filepath.Base(f), filepath.Ext(f))] = serve(ctype, body, false)
	}
	item := func(title, desc string) string {
		return `<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Generated</title><link>https://gen.example/</link>` +
			`<item><title>` + title + `</title><link>https://gen.example/1</link><guid>gen-1</guid><pubDate>Tue, 11 Jun 2024 10:09:00 GMT</pubDate><description>` +
			desc + `</description></item></channel></rss>`
	}
	// 50 MB body: five times the collector's cap.
	feeds["body-50mb"] = serve("application/rss+xml", []byte(item("A fifty megabyte item", strings.Repeat("word ", 10<<20))), false)
	// Gzip bomb: 256 MiB of zeros in about 250 KB on the wire.
	var bomb bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&bomb, gzip.BestCompression)
	zeros := make([]byte, 1<<20)
	for i := 0; i < 256; i++ {
		_, _ = zw.Write(zeros)
	}
	_ = zw.Close()
	feeds["gzip-bomb"] = serve("application/rss+xml", bomb.Bytes(), true)
	// Deep nesting: 100,000 nested elements inside an item, and 50,000
	// nested tags of HTML escaped in a description.
	feeds["deep-xml"] = serve("application/rss+xml", []byte(item("Deep XML", strings.Repeat("<x>", 100000)+"deep"+strings.Repeat("</x>", 100000))), false)
	feeds["deep-html"] = serve("application/rss+xml", []byte(item("Deep HTML description",
		strings.Repeat("&lt;div&gt;", 50000)+"&lt;script&gt;alert('HOSTILE-DEEP')&lt;/script&gt;"+strings.Repeat("&lt;/div&gt;", 50000))), false)
	// A 100 KB headline.
	feeds["headline-100kb"] = serve("application/rss+xml", []byte(item(strings.Repeat("Endless headline ", 6000), "Short body.")), false)
	// A server that never answers.
	feeds["never-answers"] = func(_ http.ResponseWriter, r *http.Request) { <-r.Context().Done() }
	return feeds
}

func serve(ctype string, body []byte, gz bool) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", ctype)
		if gz {
			w.Header().Set("Content-Encoding", "gzip")
		}
		_, _ = w.Write(body)
	}
}

// hostileRaw are raw messages put on WIRE_RAW directly, as a broken or
// forged collector would: the normalizer must dead-letter or clean them.
var hostileRaw = map[string][]byte{
	"not-json":        []byte("this is not JSON {"),
	"json-array":      []byte(`[1, 2, 3]`),
	"wrong-types":     []byte(`{"schema": "newswire.raw/1", "kind": 7, "source": ["x"], "native_id": {"a": 1}}`),
	"deep-json":       []byte(`{"schema": "newswire.raw/1", "kind": "rss", "source": "hostile", "native_id": "deep", "title": ` + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + `}`),
	"invalid-utf8":    []byte("{\"schema\": \"newswire.raw/1\", \"kind\": \"rss\", \"source\": \"hostile\", \"native_id\": \"utf8\", \"title\": \"bad \xff\xfe bytes \xc3\x28\", \"url\": \"https://h.example/u\", \"body\": \"x\", \"body_format\": \"text\", \"observed_at\": \"2024-06-11T10:00:00Z\"}"),
	"script-raw":      []byte(`{"schema": "newswire.raw/1", "kind": "rss", "source": "hostile", "native_id": "script", "title": "<script>alert('HOSTILE-RAW')</script>Raw title", "url": "javascript:alert('HOSTILE-RAW-URL')", "body": "<img src=x onerror=alert('HOSTILE-RAW-IMG')>", "body_format": "html", "published": "1970-01-01T00:00:00Z", "observed_at": "2024-06-11T10:00:00Z"}`),
	"no-ids":          []byte(`{"schema": "newswire.raw/1", "title": "No kind, source or id"}`),
	"empty":           []byte(``),
	"future-schema":   []byte(`{"schema": "newswire.raw/99", "kind": "rss", "source": "hostile", "native_id": "future", "title": "From the future"}`),
	"control-in-json": []byte(`{"schema": "newswire.raw/1", "kind": "rss", "source": "hostile", "native_id": "ctl", "title": "Bell\u0007 and \u001b[31mescape\u0000 NUL", "url": "https://h.example/c", "body": "x", "body_format": "text", "observed_at": "2024-06-11T10:00:00Z"}`),
}

// TestHostileInputsGiveErrorsDeadLettersOrCleanEntries serves every
// hostile input to the real RSS collector (and puts broken raw messages
// on the bus directly), runs the normalizer and the synthesizer on them,
// and renders what comes out through the web pages: every input ends as a
// recorded error, a dead letter or a clean entry, nothing crashes or
// hangs, and no script or javascript: link from a source reaches a page.
func TestHostileInputsGiveErrorsDeadLettersOrCleanEntries(t *testing.T) {
	srv := bustest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	nw, err := normalize.NewWorker(ctx, normalize.DefaultConfig(), srv.JS, nil)
	if err != nil {
		t.Fatal(err)
	}
	sc := synth.DefaultConfig()
	sc.SnapshotInterval = 20 * time.Millisecond
	sw, err := synth.NewWorker(ctx, sc, srv.Conn, srv.JS, nil)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 3)
	go func() { done <- nw.Run(ctx) }()
	go func() { done <- sw.Run(ctx) }()

	feeds := hostileFeeds(t)
	mux := http.NewServeMux()
	var names []string
	for name, h := range feeds {
		mux.HandleFunc("/"+name, h)
		names = append(names, name)
	}
	sort.Strings(names)
	hs := httptest.NewServer(mux)
	defer hs.Close()
	cfg := rss.Config{Interval: time.Hour, Jitter: -1, HeaderTimeout: 3 * time.Second, Timeout: 10 * time.Second,
		Egress: egress.MustNew("127.0.0.0/8", "::1/128")}
	for _, n := range names {
		cfg.Feeds = append(cfg.Feeds, rss.Feed{ID: n, URL: hs.URL + "/" + n})
	}
	kv, err := srv.JS.KeyValue(ctx, bus.BucketSource)
	if err != nil {
		t.Fatal(err)
	}
	col, err := rss.New(cfg, ingest.NewJetStreamPublisher(srv.JS), kv, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	cctx, stopCollector := context.WithCancel(ctx)
	go func() { done <- col.Run(cctx) }()
	for name, data := range hostileRaw {
		msg := nats.NewMsg(bus.RawSubject("rss", "hostile"))
		msg.Data = data
		msg.Header.Set(bus.HeaderMsgID, "rss:hostile:raw-"+name)
		if _, err := srv.JS.PublishMsg(ctx, msg); err != nil {
			t.Fatalf("publish raw %s: %v", name, err)
		}
	}

	// Every feed polled once, then nothing left for the workers.
	states := map[string]*rss.State{}
	waitFor(t, 3*time.Minute, "every hostile feed polled", func() string {
		for _, n := range names {
			st, err := rss.LoadState(ctx, kv, n)
			if err != nil || st == nil || st.LastPoll.IsZero() {
				return "feed " + n + " not polled yet"
			}
			states[n] = st
		}
		return ""
	})
	stopCollector()
	waitFor(t, 3*time.Minute, "normalizer and synthesizer idle", func() string { return pending(srv.JS) })

	// Each raw message: an entry or a dead letter.
	entries := map[string]wire.Entry{}
	for _, m := range readAll(t, srv.JS, bus.StreamEntry) {
		var e wire.Entry
		decode(t, m.Data, &e)
		entries[e.Raw.MsgID] = e
	}
	dead := map[string]wire.DeadLetter{}
	for _, m := range readAll(t, srv.JS, bus.StreamDLQ) {
		var d wire.DeadLetter
		if jsonUnmarshal(m.Data, &d) == nil && d.MsgID != "" {
			dead[d.MsgID] = d
		}
	}
	perFeed := map[string]int{}
	raws := readAll(t, srv.JS, bus.StreamRaw)
	for _, m := range raws {
		id := m.Header.Get(bus.HeaderMsgID)
		_, isEntry := entries[id]
		d, isDead := dead[id]
		switch {
		case isEntry && isDead:
			t.Errorf("raw %s is both an entry and a dead letter", id)
		case !isEntry && !isDead:
			t.Errorf("raw %s is neither an entry nor a dead letter: silently dropped (%.200q)", id, m.Data)
		case isDead && d.Reason == "":
			t.Errorf("raw %s dead-lettered without a reason", id)
		}
		if parts := strings.SplitN(id, ":", 3); len(parts) == 3 {
			perFeed[parts[1]]++
		}
	}
	for name := range hostileRaw {
		id := "rss:hostile:raw-" + name
		if d, ok := dead[id]; ok {
			t.Logf("raw %-16s dead letter: %s", name, d.Reason)
		} else if e, ok := entries[id]; ok {
			t.Logf("raw %-16s entry %q", name, trim(e.Headline))
		}
	}
	// Each feed: a recorded error, or its items on the bus.
	for _, n := range names {
		st := states[n]
		items := perFeed[bus.Token(n)]
		switch {
		case st.LastError != "":
			t.Logf("feed %-18s error (%d items): %s", n, items, trim(st.LastError))
		case items > 0:
			t.Logf("feed %-18s %d items", n, items)
		default:
			t.Errorf("feed %s: no error recorded and no item published", n)
		}
	}
	for _, n := range []string{"body-50mb", "gzip-bomb", "never-answers", "not-a-feed", "empty"} {
		if states[n].LastError == "" {
			t.Errorf("feed %s: no error recorded", n)
		}
	}

	// Every entry clean: valid UTF-8, no control characters, no script
	// URL, no markup in the headline or text.
	for id, e := range entries {
		for field, v := range map[string]string{"headline": e.Headline, "text": e.Text, "url": e.URL} {
			if !utf8.ValidString(v) {
				t.Errorf("entry of %s: %s is not valid UTF-8: %.80q", id, field, v)
			}
			if strings.ContainsFunc(v, func(r rune) bool { return (r < 0x20 && r != '\n' && r != '\t') || r == 0x7f }) {
				t.Errorf("entry of %s: %s holds control characters: %.80q", id, field, v)
			}
		}
		if scriptURL.MatchString(e.URL) {
			t.Errorf("entry of %s: URL %q is a script", id, e.URL)
		}
		if rawTag.MatchString(e.Headline) || rawTag.MatchString(e.Text) {
			t.Errorf("entry of %s keeps markup: %.120q / %.120q", id, e.Headline, e.Text)
		}
	}

	// The pages: the wire, every story, every story's provenance as HTML.
	store := web.NewStore(1000)
	for _, m := range readAll(t, srv.JS, bus.StreamEntry) {
		var e wire.Entry
		decode(t, m.Data, &e)
		store.AddEntry(e)
	}
	stories := map[string]wire.Story{}
	for _, m := range readAll(t, srv.JS, bus.StreamStory) {
		var st wire.Story
		decode(t, m.Data, &st)
		stories[st.ID] = st
	}
	for _, st := range stories {
		store.PutStory(st)
	}
	h := web.NewServer(web.Config{Listen: "127.0.0.1:0", RecentEntries: 1000, MaxStreams: 4}, store, zap.NewNop()).Handler()
	pages := []string{"/"}
	for id := range stories {
		pages = append(pages, "/stories/"+id, "/api/stories/"+id+"/provenance?format=html", "/api/stories/"+id+"/provenance?format=md")
	}
	for _, p := range pages {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, p, nil))
		body := rec.Body.String()
		if rec.Code != http.StatusOK {
			t.Errorf("GET %s: %d", p, rec.Code)
			continue
		}
		for _, tag := range rawTag.FindAllString(body, -1) {
			if tag != `<script src="/static/wire.js" defer>` && tag != "<style>" && tag != `<script type="application/ld+json">` { // the pages' own
				t.Errorf("GET %s: a tag from a source reached the page: %s", p, tag)
			}
		}
		// The story pages' JSON-LD holds source text: it must stay data,
		// with no "<" that could close the block or open a tag.
		for _, ld := range jsonLD.FindAllStringSubmatch(body, -1) {
			if strings.Contains(ld[1], "<") {
				t.Errorf("GET %s: a raw < in the page's JSON-LD: %.200s", p, ld[1])
			}
		}
		if m := scriptHref.FindString(body); m != "" {
			t.Errorf("GET %s: a script link reached the page: %s", p, m)
		}
		if strings.Contains(p, "format=md") && scriptURL.MatchString(body) && strings.Contains(body, "](") {
			for _, l := range strings.Split(body, "\n") {
				if mdScript.MatchString(l) {
					t.Errorf("GET %s: a script link in Markdown: %s", p, l)
				}
			}
		}
	}
	t.Logf("%d hostile feeds and %d hostile raw messages: %d raw items on the bus, %d entries, %d dead letters, %d stories, %d pages rendered",
		len(names), len(hostileRaw), len(raws), len(entries), len(dead), len(stories), len(pages))

	cancel()
	for i := 0; i < 3; i++ {
		if err := <-done; err != nil && ctx.Err() == nil {
			t.Errorf("worker: %v", err)
		}
	}
}

var (
	// rawTag is an HTML tag that runs code or loads content.
	jsonLD = regexp.MustCompile(`(?s)<script type="application/ld\+json">(.*?)</script>`)
	rawTag = regexp.MustCompile(`(?i)<\s*(script|iframe|img|object|embed|svg|style)\b[^>]*>`)
	// scriptHref is an attribute whose URL would run code.
	scriptHref = regexp.MustCompile(`(?i)(href|src|action)\s*=\s*["']?\s*(java|vb)\s*script\s*:`)
	// scriptURL is a URL with a script scheme, as a browser reads it
	// (leading blanks and tabs inside the scheme ignored).
	scriptURL = regexp.MustCompile(`(?i)^[\s\x00-\x20]*(j\s*a\s*v\s*a|v\s*b)\s*s\s*c\s*r\s*i\s*p\s*t\s*:`)
	// mdScript is a Markdown link to a script URL.
	mdScript = regexp.MustCompile(`(?i)\]\(\s*(java|vb)\s*script\s*:`)
)

func trim(s string) string {
	if len(s) > 120 {
		return s[:120] + "…"
	}
	return s
}
