package rss

import (
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/newswire/newswire/wire"
)

// serveFile answers every request with one testdata file.
func serveFile(t *testing.T, name, contentType string) *httptest.Server {
	t.Helper()
	body := readTestdata(t, name)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if contentType != "" {
			w.Header().Set("Content-Type", contentType)
		}
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestFormats(t *testing.T) {
	cases := []struct {
		file, contentType string
		want              []wire.RawItem // oldest first, fields compared below
	}{
		{"rss2.xml", "application/rss+xml; charset=utf-8", []wire.RawItem{
			{NativeID: "ex-world-100001", Title: "Central bank holds rates", URL: "https://news.example.org/world/rates-hold", Body: "The bank kept its main rate at 4.25%.", Published: "Tue, 11 Jun 2024 07:15:00 GMT", Lang: "en-gb"},
			{NativeID: "ex-world-100002", Title: "Floods close ports along the Adriatic"},
			{NativeID: "ex-world-100003", Title: "Malawi: Chilima Crash 'Could Not Be Stopped'", Author: "Jane Okafor",
				Body:       "<p>An inquiry found the aircraft <b>could not</b> have avoided the ridge, investigators said on Tuesday.</p>",
				Categories: []string{"Africa", "Aviation"}, Enclosures: []string{"https://cdn.example.org/img/malawi.jpg"}, Published: "Tue, 11 Jun 2024 10:09:00 GMT"},
		}},
		{"rss1.rdf", "application/rdf+xml", []wire.RawItem{
			{NativeID: "https://allafrica.example/stories/202406110009.html", Title: "Ghana: Cocoa Output Forecast Cut", Published: "2024-06-11T09:05:00Z", Lang: "en"},
			{NativeID: "https://allafrica.example/stories/202406110012.html", Title: "Kenya: Finance Bill Vote Delayed", Author: "The Nation", Body: "Lawmakers postponed the vote to Thursday."},
		}},
		{"atom.xml", "application/atom+xml", []wire.RawItem{
			{NativeID: "tag:fr.example.org,2024:senat-0611", Title: "Le Sénat adopte la loi", Updated: "2024-06-11T09:00:00+02:00", Body: "Vote final au Sénat."},
			{NativeID: "tag:fr.example.org,2024:greve-0611", Title: "Grève <em>nationale</em> jeudi", Author: "Claire Martin",
				URL: "https://fr.example.org/2024/06/greve", Body: "<p>Les syndicats appellent à une <b>grève</b> nationale jeudi.</p>",
				Published: "2024-06-11T10:15:00+02:00", Updated: "2024-06-11T10:20:00+02:00", Categories: []string{"social"},
				Enclosures: []string{"https://fr.example.org/audio/greve.mp3"}},
		}},
		{"feed.json", "application/feed+json", []wire.RawItem{
			{NativeID: "2", Title: "Unwetterwarnung für Bayern", Body: "Der DWD warnt vor Starkregen.", Lang: "de"},
			{NativeID: "https://json.example.org/2024/06/11/bahn", Title: "Bahnstreik beendet", Body: "<p>Der Streik ist <em>vorbei</em>.</p>",
				Author: "Max Weber", Categories: []string{"Verkehr", "Arbeit"}, Enclosures: []string{"https://json.example.org/img/bahn.jpg"},
				Published: "2024-06-11T08:00:00+02:00", Updated: "2024-06-11T09:30:00+02:00"},
		}},
		{"iso-8859-1.xml", "text/xml", []wire.RawItem{
			{NativeID: "latin-1", Title: "Élections : débat télévisé à Besançon", Body: "Le débat a duré deux heures."},
		}},
		{"windows-1251.xml", "application/rss+xml; charset=windows-1251", []wire.RawItem{
			{NativeID: "ru-1", Title: "Москва: закрытие моста", Body: "Мост закрыт на ремонт."},
		}},
		{"no-guid.xml", "", []wire.RawItem{
			{NativeID: "sha256:", Title: "Unlinked notice"},
			{NativeID: "https://bare.example.org/a", Title: "Linked item", URL: "https://bare.example.org/a"},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			srv := serveFile(t, tc.file, tc.contentType)
			r := newRig(t, Config{Feeds: []Feed{{ID: "feed-1", Code: "FEED", Name: "Feed One", URL: srv.URL + "/f"}}})
			r.pollFeed(0)
			if st := r.state(0); st.Errors != 0 {
				t.Fatalf("poll failed: %s", st.LastError)
			}
			got, ids := rawItems(t, r.srv.JS)
			if len(got) != len(tc.want) {
				t.Fatalf("published %d items, want %d: %+v", len(got), len(tc.want), got)
			}
			for i, w := range tc.want {
				g := got[i]
				if g.Kind != "rss" || g.Source != "feed-1" || g.SourceCode != "FEED" || g.SourceName != "Feed One" || g.Schema != wire.SchemaRaw {
					t.Errorf("item %d: source fields %+v", i, g)
				}
				if g.Fetch == nil || g.Fetch.Status != 200 || !strings.HasSuffix(g.Fetch.URL, "/f") {
					t.Errorf("item %d: fetch %+v", i, g.Fetch)
				}
				if !g.ObservedAt.Equal(t0) {
					t.Errorf("item %d: observed %v", i, g.ObservedAt)
				}
				if ids[i] != "rss:feed-1:"+g.NativeID {
					t.Errorf("item %d: Nats-Msg-Id %q for native id %q", i, ids[i], g.NativeID)
				}
				if !strings.HasPrefix(g.NativeID, w.NativeID) {
					t.Errorf("item %d: native id %q, want %q", i, g.NativeID, w.NativeID)
				}
				check := func(field, got, want string) {
					if want != "" && got != want {
						t.Errorf("item %d %s = %q, want %q", i, field, got, want)
					}
				}
				check("title", g.Title, w.Title)
				check("url", g.URL, w.URL)
				check("body", g.Body, w.Body)
				check("author", g.Author, w.Author)
				check("published", g.Published, w.Published)
				check("updated", g.Updated, w.Updated)
				check("lang", g.Lang, w.Lang)
				if w.Categories != nil && !reflect.DeepEqual(g.Categories, w.Categories) {
					t.Errorf("item %d categories %q, want %q", i, g.Categories, w.Categories)
				}
				if w.Enclosures != nil && !reflect.DeepEqual(g.Enclosures, w.Enclosures) {
					t.Errorf("item %d enclosures %q, want %q", i, g.Enclosures, w.Enclosures)
				}
			}
			// The same document again publishes nothing: the seen-window has it all.
			r.clock.Advance(time.Hour)
			r.pollFeed(0)
			if again, _ := rawItems(t, r.srv.JS); len(again) != len(got) {
				t.Fatalf("second poll published %d more", len(again)-len(got))
			}
			if st := r.c.Stats(); st.Unchanged != int64(len(got)) {
				t.Fatalf("unchanged %d, want %d", st.Unchanged, len(got))
			}
		})
	}
}

func TestDuplicateGUIDs(t *testing.T) {
	srv := serveFile(t, "dup-guids.xml", "application/rss+xml")
	r := newRig(t, Config{Feeds: []Feed{{ID: "cms", URL: srv.URL + "/rss"}}})
	r.pollFeed(0)
	got, ids := rawItems(t, r.srv.JS)
	if len(got) != 2 {
		t.Fatalf("published %d, want 2 (two stories, one exact repeat): %v", len(got), ids)
	}
	if got[0].Title != "First story" || got[1].Title != "Second story" || ids[0] == ids[1] {
		t.Fatalf("items %q %q ids %q", got[0].Title, got[1].Title, ids)
	}
	if got[0].NativeID != "https://cms.example.org/" || !strings.HasPrefix(got[1].NativeID, "https://cms.example.org/#") {
		t.Fatalf("native ids %q %q", got[0].NativeID, got[1].NativeID)
	}
	r.clock.Advance(time.Hour)
	r.pollFeed(0)
	if again, _ := rawItems(t, r.srv.JS); len(again) != 2 {
		t.Fatalf("re-poll published %d more", len(again)-2)
	}
}

// Items gives the raw items the collector publishes for a feed body,
// oldest first, with identities and the feed's own facts.
func TestItemsMapsABodyAsTheCollectorDoes(t *testing.T) {
	at := time.Date(2024, 6, 11, 12, 0, 0, 0, time.UTC)
	raws, err := Items(Feed{ID: "ex-world", Code: "EXW"}, readTestdata(t, "rss2.xml"), at)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range raws {
		ids = append(ids, r.NativeID)
		if r.Kind != Kind || r.Source != "ex-world" || r.SourceCode != "EXW" || !r.ObservedAt.Equal(at) {
			t.Errorf("item %s: kind %q source %q code %q observed %v", r.NativeID, r.Kind, r.Source, r.SourceCode, r.ObservedAt)
		}
	}
	if want := []string{"ex-world-100001", "ex-world-100002", "ex-world-100003"}; !slices.Equal(ids, want) {
		t.Errorf("identities %v, want %v", ids, want)
	}
	if _, err := Items(Feed{ID: "x"}, []byte("<html>not a feed</html>"), at); err == nil {
		t.Error("a page that is no feed gave no error")
	}
}
