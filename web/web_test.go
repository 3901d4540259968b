package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/newswire/newswire/bus"
	"github.com/newswire/newswire/bus/bustest"
	"github.com/newswire/newswire/provenance"
	"github.com/newswire/newswire/wire"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// bleve starts its analysis workers when the package loads; they are
		// shared by every index and live as long as the process.
		goleak.IgnoreTopFunction("github.com/blevesearch/bleve_index_api.AnalysisWorker"))
}

func publishJSON(t *testing.T, srv *bustest.Server, subject string, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.JS.Publish(context.Background(), subject, b); err != nil {
		t.Fatal(err)
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestAPIServesEntriesStoriesAndProvenance(t *testing.T) {
	srv := bustest.Start(t)
	at := time.Date(2024, 6, 11, 10, 9, 0, 0, time.UTC)
	src := provenance.Source{ID: "allafrica", Kind: "rss", Code: "ALLAFRICA", Name: "AllAfrica"}
	for i, h := range []string{"first", "second", "third"} {
		publishJSON(t, srv, bus.EntrySubject("rss", "allafrica"), wire.Entry{
			Schema: wire.SchemaEntry, ID: "e" + h, Source: src, Headline: h, PublishedAt: at.Add(time.Duration(i) * time.Minute),
		})
	}
	rec := provenance.Record{
		EntryID: "efirst", Source: src, URL: "https://allafrica.com/x?a=1&b=<2>", Headline: `<script>alert("x")</script> Malawi`,
		PublishedAt: at, ObservedAt: at.Add(time.Minute), Role: provenance.RoleOrigin,
		Raw: provenance.RawRef{Stream: bus.StreamRaw, Seq: 1, MsgID: "rss:allafrica:1"},
	}
	for v := int64(1); v <= 2; v++ {
		publishJSON(t, srv, bus.StorySubject("s1"), wire.Story{Schema: wire.SchemaStory, ID: "s1", Version: v, Status: wire.StatusDeveloping,
			Headline: "Malawi", LastUpdated: at, Provenance: []provenance.Record{rec}})
	}
	publishJSON(t, srv, bus.StorySubject("s2"), wire.Story{Schema: wire.SchemaStory, ID: "s2", Version: 1, Status: wire.StatusMerged, MergedInto: "s1", LastUpdated: at})

	store := NewStore(2)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- store.Follow(ctx, srv.JS, nil) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	hs := httptest.NewServer(NewServer(Config{}, store, nil).Handler())
	defer hs.Close()

	deadline := time.Now().Add(10 * time.Second)
	for {
		st, ok := store.Story("s1")
		if len(store.Entries(10)) == 2 && ok && st.Version == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("store did not catch up")
		}
		time.Sleep(10 * time.Millisecond)
	}

	code, body := get(t, hs.URL+"/api/entries")
	var entries struct{ Entries []wire.Entry }
	if err := json.Unmarshal([]byte(body), &entries); err != nil || code != 200 {
		t.Fatalf("entries: %d %s", code, body)
	}
	if len(entries.Entries) != 2 || entries.Entries[0].Headline != "third" || entries.Entries[1].Headline != "second" {
		t.Errorf("entries = %+v, want the last two, newest first", entries.Entries)
	}
	code, body = get(t, hs.URL+"/api/stories")
	if code != 200 || !strings.Contains(body, `"id":"s1"`) || strings.Contains(body, `"id":"s2"`) || strings.Contains(body, "provenance\":[{") {
		t.Errorf("stories list (merged hidden, no provenance): %d %s", code, body)
	}
	code, body = get(t, hs.URL+"/api/stories/s1")
	if code != 200 || !strings.Contains(body, `"version":2`) || !strings.Contains(body, `"entry_id":"efirst"`) {
		t.Errorf("story: %d %s", code, body)
	}
	if code, _ = get(t, hs.URL+"/api/stories/nope"); code != http.StatusNotFound {
		t.Errorf("unknown story: %d", code)
	}
	_, body = get(t, hs.URL+"/api/stories/s1/provenance?format=html")
	if strings.Contains(body, "<script>") || !strings.Contains(body, "&lt;script&gt;") || !strings.Contains(body, `href="https://allafrica.com/x?a=1&amp;b=&lt;2&gt;"`) {
		t.Errorf("html provenance not escaped: %s", body)
	}
	_, body = get(t, hs.URL+"/api/stories/s1/provenance?format=md")
	if !strings.Contains(body, "### Wire provenance") || strings.Contains(body, "<script>") || !strings.Contains(body, "<https://allafrica.com/x?a=1&b=%3C2%3E>") {
		t.Errorf("markdown provenance: %s", body)
	}
	code, body = get(t, hs.URL+"/api/stories/s1/provenance?format=prov")
	if code != 200 || !strings.Contains(body, `"prefix"`) || !strings.Contains(body, "efirst") {
		t.Errorf("PROV-JSON provenance: %d %s", code, body)
	}
	if code, _ = get(t, hs.URL+"/api/stories/s1/provenance?format=pdf"); code != http.StatusBadRequest {
		t.Errorf("bad format: %d", code)
	}
}

func TestStreamSendsBacklogLiveEventsAndResumes(t *testing.T) {
	srv := bustest.Start(t)
	src := provenance.Source{ID: "wire-a", Kind: "rss", Code: "WIREA"}
	entry := func(id, headline string) wire.Entry {
		return wire.Entry{Schema: wire.SchemaEntry, ID: id, Source: src, Headline: headline, PublishedAt: time.Date(2024, 6, 11, 10, 0, 0, 0, time.UTC)}
	}
	publishJSON(t, srv, bus.EntrySubject("rss", "wire-a"), entry("e1", "first"))
	publishJSON(t, srv, bus.EntrySubject("rss", "wire-a"), entry("e2", "second <b>"))

	store := NewStore(100)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- store.Follow(ctx, srv.JS, nil) }()
	defer func() { cancel(); <-done }()
	api := NewServer(Config{}, store, nil)
	hs := httptest.NewServer(api.Handler())
	defer hs.Close()
	defer api.Close()
	for len(store.Entries(10)) < 2 {
		time.Sleep(10 * time.Millisecond)
	}

	read := func(req *http.Request, n int) []string {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
			t.Fatalf("content type %q", ct)
		}
		var events []string
		buf := make([]byte, 64<<10)
		acc := ""
		for len(events) < n {
			k, err := resp.Body.Read(buf)
			acc += string(buf[:k])
			for {
				i := strings.Index(acc, "\n\n")
				if i < 0 {
					break
				}
				events = append(events, acc[:i])
				acc = acc[i+2:]
			}
			if err != nil {
				break
			}
		}
		return events
	}

	rctx, rcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer rcancel()
	req, _ := http.NewRequestWithContext(rctx, "GET", hs.URL+"/api/stream?last=1", nil)
	got := make(chan []string, 1)
	go func() { got <- read(req, 3) }()
	for subscribers(store) == 0 { // the live events must come after the subscription
		time.Sleep(5 * time.Millisecond)
	}
	publishJSON(t, srv, bus.EntrySubject("rss", "wire-a"), entry("e3", "third"))
	publishJSON(t, srv, bus.StorySubject("s1"), wire.Story{Schema: wire.SchemaStory, ID: "s1", Version: 4, Headline: "story",
		Provenance: []provenance.Record{{EntryID: "e3"}}})
	events := <-got
	if len(events) != 3 {
		t.Fatalf("events = %q", events)
	}
	if !strings.HasPrefix(events[0], "id: e2\nevent: entry\ndata: {") || !strings.Contains(events[0], `second \u003cb\u003e`) {
		t.Errorf("backlog event = %q", events[0])
	}
	// Entries and stories arrive on two subscriptions, so the two live
	// events may come in either order.
	live := events[1:]
	if strings.HasPrefix(live[0], "id: s1:4\n") {
		live = []string{live[1], live[0]}
	}
	if !strings.HasPrefix(live[0], "id: e3\nevent: entry\n") {
		t.Errorf("live entry event = %q", live[0])
	}
	if !strings.HasPrefix(live[1], "id: s1:4\nevent: story\n") || !strings.Contains(live[1], `"provenance":null`) {
		t.Errorf("story event = %q", live[1])
	}

	// A client that reconnects with Last-Event-ID gets what it missed, of
	// both kinds, in the order the server got them.
	req2, _ := http.NewRequestWithContext(rctx, "GET", hs.URL+"/api/stream", nil)
	req2.Header.Set("Last-Event-ID", "e1")
	events = read(req2, 3)
	ids := eventIDs(events)
	if len(ids) != 3 || ids[0] != "e2" || !(ids[1] == "e3" && ids[2] == "s1:4" || ids[1] == "s1:4" && ids[2] == "e3") {
		t.Errorf("resumed from e1: %q", ids)
	}
	// Resuming from a story event sends exactly what came after it.
	publishJSON(t, srv, bus.EntrySubject("rss", "wire-a"), entry("e4", "fourth"))
	for len(store.Entries(10)) < 4 {
		time.Sleep(5 * time.Millisecond)
	}
	req3, _ := http.NewRequestWithContext(rctx, "GET", hs.URL+"/api/v1/stream", nil)
	req3.Header.Set("Last-Event-ID", "s1:4")
	after, _ := store.EventsAfter("s1:4")
	events = read(req3, len(after))
	ids = eventIDs(events)
	want := []string{}
	for _, ev := range after {
		want = append(want, ev.ID)
	}
	if strings.Join(ids, " ") != strings.Join(want, " ") || ids[len(ids)-1] != "e4" {
		t.Errorf("resumed from s1:4: %q, want %q ending in e4", ids, want)
	}
	// ?events=story leaves entries out.
	req4, _ := http.NewRequestWithContext(rctx, "GET", hs.URL+"/api/v1/stream?events=story", nil)
	req4.Header.Set("Last-Event-ID", "e1")
	if ids = eventIDs(read(req4, 1)); len(ids) != 1 || ids[0] != "s1:4" {
		t.Errorf("story events from e1: %q", ids)
	}
}

func eventIDs(events []string) []string {
	var ids []string
	for _, ev := range events {
		if strings.HasPrefix(ev, "id: ") {
			ids = append(ids, strings.SplitN(strings.TrimPrefix(ev, "id: "), "\n", 2)[0])
		}
	}
	return ids
}

func subscribers(s *Store) int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.subs)
}

func TestPagesEscapeSourceText(t *testing.T) {
	store := NewStore(10)
	at := time.Date(2024, 6, 11, 10, 9, 0, 0, time.UTC)
	src := provenance.Source{ID: "evil", Kind: "rss", Code: "EVIL<i>"}
	store.AddEntry(wire.Entry{ID: "e1", Source: src, URL: "javascript:alert(1)", Headline: `<script>alert("h")</script>Malawi`, PublishedAt: at})
	store.PutStory(wire.Story{ID: "s1", Version: 1, Status: wire.StatusDeveloping, Headline: `<img src=x onerror=alert(1)>Crash`,
		Brief:       []wire.BriefSentence{{Text: "Ten <b>dead</b>.", Cites: []string{"e1"}}},
		FirstReport: wire.FirstReport{EntryID: "e1", Source: "EVIL<i>", PublishedAt: at, Trail: []provenance.Trail{{Source: "WIREB", Minutes: 12}}},
		Counts:      wire.Counts{Entries: 1, Sources: 1, Origins: 1},
		Provenance:  []provenance.Record{{EntryID: "e1", Source: src, URL: "https://x.example/a", Headline: "<script>x</script>", PublishedAt: at, Role: provenance.RoleOrigin}},
	})
	hs := httptest.NewServer(NewServer(Config{}, store, nil).Handler())
	defer hs.Close()
	code, body := get(t, hs.URL+"/")
	if code != 200 || strings.Contains(body, `<script>alert("h")`) || !strings.Contains(body, "&lt;script&gt;alert(&#34;h&#34;)&lt;/script&gt;Malawi") {
		t.Errorf("wire page: %d\n%s", code, body)
	}
	if strings.Contains(body, `href="javascript:`) || !strings.Contains(body, "EVIL&lt;i&gt;") || !strings.Contains(body, `href="/stories/s1"`) {
		t.Errorf("wire page links/codes not made safe:\n%s", body)
	}
	code, body = get(t, hs.URL+"/stories/s1")
	if code != 200 || strings.Contains(body, "<img src=x") || strings.Contains(body, "<script>x") || !strings.Contains(body, "Wire provenance") ||
		!strings.Contains(body, "Ten &lt;b&gt;dead&lt;/b&gt;.") || !strings.Contains(body, "WIREB <span class=\"d\">&#43;12m</span>") {
		t.Errorf("story page: %d\n%s", code, body)
	}
	if code, _ = get(t, hs.URL+"/stories/nope"); code != http.StatusNotFound {
		t.Errorf("unknown story page: %d", code)
	}
}

// A snapshot's trail lists at most 100 later sources; the page counts
// them all and says how many it lists.
func TestStoryPageCountsEveryLaterSource(t *testing.T) {
	at := time.Date(2024, 6, 11, 10, 9, 0, 0, time.UTC)
	for _, c := range []struct {
		sources, listed int
		want            string
	}{
		{150, 100, "Then 149 other sources carried it; the first 100:"},
		{3, 2, "Then 2 other sources carried it:"},
		{2, 1, "Then 1 other source carried it:"},
	} {
		store := NewStore(10)
		fr := wire.FirstReport{EntryID: "e0", Source: "FIRST", PublishedAt: at}
		for i := 1; i <= c.listed; i++ {
			fr.Trail = append(fr.Trail, provenance.Trail{Source: fmt.Sprintf("S%d", i), EntryID: fmt.Sprintf("e%d", i), Minutes: float64(i)})
		}
		store.PutStory(wire.Story{ID: "s1", Version: 1, Status: wire.StatusDeveloping, Headline: "Quake", FirstReport: fr,
			Counts: wire.Counts{Entries: c.sources, Sources: c.sources, Origins: c.sources}})
		hs := httptest.NewServer(NewServer(Config{}, store, nil).Handler())
		code, body := get(t, hs.URL+"/stories/s1")
		hs.Close()
		if code != 200 || !strings.Contains(body, c.want) {
			t.Errorf("%d sources, %d listed: no %q in the page (%d)", c.sources, c.listed, c.want, code)
		}
	}
}

func TestStoreHoldsABoundedNumberOfStories(t *testing.T) {
	store := NewStore(10)
	store.maxStories = 100
	at := time.Date(2024, 6, 11, 0, 0, 0, 0, time.UTC)
	for i := 0; i < 250; i++ {
		store.PutStory(wire.Story{ID: "s" + strconv.Itoa(i), Version: 1, LastUpdated: at.Add(time.Duration(i) * time.Minute)})
	}
	if n := len(store.Stories(1000, "")); n > 100 {
		t.Errorf("store holds %d stories, bound 100", n)
	}
	if _, ok := store.Story("s249"); !ok {
		t.Error("the newest story was evicted")
	}
	if _, ok := store.Story("s0"); ok {
		t.Error("the oldest story was kept")
	}
}

// /healthz says the process answers; /readyz says whether it can work,
// and why not.
func TestReadyzAnswersTheHealthChecks(t *testing.T) {
	var failing error
	ready := func(ctx context.Context) error {
		if _, ok := ctx.Deadline(); !ok {
			return errors.New("check without a deadline")
		}
		return failing
	}
	for name, h := range map[string]http.Handler{
		"api":     NewServer(Config{Ready: ready}, NewStore(1), nil).Handler(),
		"metrics": NewMetricsServer("", http.NotFoundHandler(), ready, nil).Handler(),
	} {
		hs := httptest.NewServer(h)
		failing = nil
		if code, body := get(t, hs.URL+"/readyz"); code != 200 || body != "ready\n" {
			t.Errorf("%s: ready process: %d %q", name, code, body)
		}
		failing = errors.Join(fmt.Errorf("%w (RECONNECTING)", errors.New("service: not connected to NATS")),
			errors.New("service: consumer stalled: normalize on WIRE_RAW holds 12 messages"))
		code, body := get(t, hs.URL+"/readyz")
		if code != http.StatusServiceUnavailable || !strings.Contains(body, "not connected to NATS (RECONNECTING)\n") || !strings.Contains(body, "holds 12 messages") {
			t.Errorf("%s: failing checks: %d %q", name, code, body)
		}
		if code, body := get(t, hs.URL+"/healthz"); code != 200 || body != "ok\n" {
			t.Errorf("%s: /healthz of a live but unready process: %d %q", name, code, body)
		}
		hs.Close()
	}
}
