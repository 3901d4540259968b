package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/newswire/newswire/provenance"
	"github.com/newswire/newswire/wire"
)

func TestDelta(t *testing.T) {
	for m, want := range map[float64]string{0: "+<1m", 0.4: "+<1m", 1: "+1m", 45: "+45m", 60: "+1h", 135: "+2h 15m",
		2255: "+1d 13h", 24 * 60: "+1d", 59.6: "+1h"} {
		if got := Delta(m); got != want {
			t.Errorf("Delta(%v) = %q, want %q", m, got, want)
		}
	}
}

func TestGroupTrail(t *testing.T) {
	trail := []provenance.Trail{{Source: "A", EntryID: "a", Minutes: 3}, {Source: "B", EntryID: "b", Minutes: 59}, {Source: "C", EntryID: "c", Minutes: 135},
		{Source: "D", EntryID: "d", Minutes: 2255}, {Source: "E", EntryID: "e", Minutes: 20000}}
	g := groupTrail(trail, map[string]int{"c": 7})
	var got []string
	for _, x := range g {
		var items []string
		for _, it := range x.Items {
			items = append(items, it.Source+" "+it.Delta)
		}
		got = append(got, x.Label+": "+strings.Join(items, ", "))
	}
	want := "within the hour: A +3m, B +59m | 1–6 hours later: C +2h 15m | 1–7 days later: D +1d 13h | more than a week later: E +13d 21h"
	if strings.Join(got, " | ") != want {
		t.Errorf("groups\n %s\nwant\n %s", strings.Join(got, " | "), want)
	}
	if g[1].Items[0].N != 7 {
		t.Errorf("C links to item %d, want 7", g[1].Items[0].N)
	}
	var long []provenance.Trail
	for i := range 30 {
		long = append(long, provenance.Trail{Source: fmt.Sprint("S", i), Minutes: float64(i)})
	}
	if g := groupTrail(long, nil); len(g) != 1 || len(g[0].Items) != trailShown || len(g[0].More) != 30-trailShown {
		t.Errorf("a 30-source hour shows %d and folds %d", len(g[0].Items), len(g[0].More))
	}
}

// The story page of a real story: every citation is a link to an item
// that exists and lists the cited entry; counts read as a sentence; the
// JSON-LD lists the provenance URLs.
func TestStoryPageOnRealData(t *testing.T) {
	f := realDataFixture(t)
	big := f.biggest()
	code, body := get(t, f.hs.URL+"/stories/"+big.ID)
	if code != 200 {
		t.Fatalf("story page: %d", code)
	}
	items := map[string]string{} // "p3" → entry id
	for _, m := range regexp.MustCompile(`<li id="(p\d+)" class="role-[a-z]+" data-entry="([^"]+)"`).FindAllStringSubmatch(body, -1) {
		items[m[1]] = m[2]
	}
	if len(items) != len(big.Provenance) {
		t.Errorf("%d numbered provenance items, want %d", len(items), len(big.Provenance))
	}
	cites := regexp.MustCompile(`<sup>.*?</sup>`).FindAllString(body, -1)
	if len(cites) != len(big.Brief) {
		t.Errorf("%d cited sentences, want %d", len(cites), len(big.Brief))
	}
	for i, sup := range cites {
		links := regexp.MustCompile(`<a href="#(p\d+)" title="provenance item \d+ \(([^)]+)\)">`).FindAllStringSubmatch(sup, -1)
		if len(links) != len(big.Brief[i].Cites) {
			t.Errorf("sentence %d: %d links for %d cites: %s", i, len(links), len(big.Brief[i].Cites), sup)
		}
		for _, l := range links {
			if items[l[1]] != l[2] {
				t.Errorf("citation #%s names %s, but the item holds %s", l[1], l[2], items[l[1]])
			}
		}
	}
	if want := "from " + plural(big.Counts.Sources, "source", "sources") + ", "; !strings.Contains(body, want) {
		t.Errorf("no counts sentence %q", want)
	}
	// The trail sentence counts every later source, not only the ones a
	// snapshot lists.
	later := plural(big.Counts.Sources-1, "other source", "other sources") + " carried it"
	if len(big.FirstReport.Trail) < big.Counts.Sources-1 {
		later += fmt.Sprintf("; the first %d:", len(big.FirstReport.Trail))
	}
	if !strings.Contains(body, later) {
		t.Errorf("no trail sentence %q", later)
	}
	if regexp.MustCompile(`\+\d{3,} ?min`).MatchString(body) {
		t.Error("the trail shows raw minutes")
	}
	m := regexp.MustCompile(`<script type="application/ld\+json">(.*?)</script>`).FindStringSubmatch(body)
	if m == nil {
		t.Fatal("no JSON-LD")
	}
	var ld struct {
		Type      string   `json:"@type"`
		Headline  string   `json:"headline"`
		IsBasedOn []string `json:"isBasedOn"`
	}
	if err := json.Unmarshal([]byte(m[1]), &ld); err != nil {
		t.Fatalf("JSON-LD: %v", err)
	}
	urls := map[string]bool{}
	for _, r := range big.Provenance {
		if strings.HasPrefix(r.URL, "http") {
			urls[r.URL] = true
		}
	}
	if ld.Type != "NewsArticle" || ld.Headline != big.Headline || len(ld.IsBasedOn) != len(urls) {
		t.Errorf("JSON-LD %s %q with %d URLs, want NewsArticle %q with %d", ld.Type, ld.Headline, len(ld.IsBasedOn), big.Headline, len(urls))
	}
	for _, u := range ld.IsBasedOn {
		if !urls[u] {
			t.Errorf("isBasedOn lists %s, not a provenance URL", u)
		}
	}
	if i := strings.Index(body, "&amp;amp;"); i >= 0 {
		t.Errorf("a URL is escaped twice: %s", body[max(0, i-200):min(len(body), i+60)])
	}

	// The wire page links entries to their stories; /stories lists them.
	_, wirePage := get(t, f.hs.URL+"/")
	if !strings.Contains(wirePage, `href="/stories/`) {
		t.Error("no wire entry links to its story")
	}
	code, storiesPage := get(t, f.hs.URL+"/stories")
	if code != 200 || !strings.Contains(storiesPage, `href="/stories/`+big.ID+`"`) && !strings.Contains(storiesPage, "More stories") {
		t.Errorf("/stories: %d", code)
	}
	// An entry redirects to its item in its story.
	req, _ := http.NewRequest("GET", f.hs.URL+"/entries/"+big.Provenance[2].EntryID, nil)
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusFound || loc != "/stories/"+big.ID+"#p3" {
		t.Errorf("/entries/…: %d to %q", resp.StatusCode, loc)
	}
}

func TestEmptyAndFailingWireSaySo(t *testing.T) {
	hs := httptest.NewServer(NewServer(Config{}, NewStore(10), nil).Handler())
	defer hs.Close()
	if _, body := get(t, hs.URL+"/"); !strings.Contains(body, "The wire is empty") {
		t.Errorf("empty wire page says nothing:\n%s", body)
	}
	if code, body := get(t, hs.URL+"/stories"); code != 200 || !strings.Contains(body, "No stories yet") {
		t.Errorf("empty stories page: %d\n%s", code, body)
	}
	failing := listedSources{{ID: "bbc", Kind: "rss", Status: "failing", LastError: "dial tcp: no route to host"},
		{ID: "dw", Kind: "rss", Status: "failing", LastError: "timeout"}}
	hs2 := httptest.NewServer(NewServer(Config{Sources: failing}, NewStore(10), nil).Handler())
	defer hs2.Close()
	if _, body := get(t, hs2.URL+"/"); !strings.Contains(body, "All 2 sources are failing") || !strings.Contains(body, "no route to host") {
		t.Errorf("all-failing wire page:\n%s", body)
	}
}

func plural(n int, one, many string) string {
	return pageFuncs["plural"].(func(int, string, string) string)(n, one, many)
}

// The page of a story of about 300 posts lists every item, grouped by
// span, with each group's first posts shown and the rest folded.
func TestBigStoryPageFoldsItsProvenance(t *testing.T) {
	f := newFixture(t, bigStoryRows(t), Config{})
	big := f.biggest()
	code, body := get(t, f.hs.URL+"/stories/"+big.ID)
	if code != 200 {
		t.Fatalf("story page: %d", code)
	}
	items, folded := strings.Count(body, `<li id="p`), 0
	for _, d := range strings.Split(body, `<details class="more">`)[1:] {
		folded += strings.Count(d[:strings.Index(d, "</details>")], `<li id="p`)
	}
	if items != len(big.Provenance) || folded == 0 || items-folded > provenanceBudget+provenanceShown*len(provenanceFolds(big.Provenance)) {
		t.Errorf("%d provenance items on the page, %d folded; want all %d, at most %d shown", items, folded, len(big.Provenance), provenanceBudget)
	}
}

// A source that answers but has gone quiet is named on both pages, with
// how long it has been silent and its usual cadence; its name is source
// text and is escaped like the rest.
func TestQuietSourcesAreNamedOnThePages(t *testing.T) {
	now := time.Now()
	sources := listedSources{
		{ID: "bbc", Kind: "rss", Code: "BBC", Name: "BBC <World>", Status: "ok",
			Quiet: true, LastNew: now.Add(-9 * time.Hour), CadenceSeconds: 40 * 60},
		{ID: "dw", Kind: "rss", Code: "DW", Status: "ok", LastNew: now.Add(-10 * time.Minute), CadenceSeconds: 600},
	}
	hs := httptest.NewServer(NewServer(Config{Sources: sources}, NewStore(10), nil).Handler())
	defer hs.Close()
	for _, page := range []string{"/", "/stories"} {
		code, body := get(t, hs.URL+page)
		if code != 200 {
			t.Fatalf("%s: %d", page, code)
		}
		if want := "BBC &lt;World&gt; — nothing new for 9h, usually every 40m"; !strings.Contains(body, want) {
			t.Errorf("%s does not say %q:\n%s", page, want, body)
		}
		if strings.Contains(body, "<World>") {
			t.Errorf("%s does not escape the source's name", page)
		}
		if strings.Contains(body, "DW —") {
			t.Errorf("%s names a source that is not quiet", page)
		}
	}
	// Without quiet sources the pages say nothing of them.
	hs2 := httptest.NewServer(NewServer(Config{Sources: sources[1:]}, NewStore(10), nil).Handler())
	defer hs2.Close()
	if _, body := get(t, hs2.URL+"/"); strings.Contains(body, `id="quiet"`) {
		t.Errorf("a quiet notice with no quiet source:\n%s", body)
	}
}

// Full articles of two events of one kind (ECB+) fed in batches, as a
// live wire delivers them: stories that took both events split, and the
// store follows every report to the story it ends in. The part that left
// links back to its parent, whose page no longer lists it.
func TestSplitStoryLinksBackAndReportsMove(t *testing.T) {
	items := replayRows(t, "ecbplus-dev.jsonl", 496)
	f := newFixtureHolding(t, items[:40], len(items), Config{})
	for i := 40; i < len(items); i += 20 {
		f.feed(t, items[i:min(i+20, len(items))])
	}
	f.caughtUp(t)
	var split *wire.Story
	for _, st := range f.stories {
		if st.SplitFrom != "" {
			split = &st
			break
		}
	}
	if split == nil {
		t.Fatal("no story of the ECB+ articles split")
	}
	_, body := get(t, f.hs.URL+"/stories/"+split.ID)
	if want := `split from <a href="/stories/` + split.SplitFrom + `">`; !strings.Contains(body, want) {
		t.Errorf("page of %s lacks %q", split.ID, want)
	}
	parent, ok := f.store.Story(split.SplitFrom)
	if !ok {
		t.Fatalf("the store lacks %s, which %s split from", split.SplitFrom, split.ID)
	}
	left := map[string]bool{}
	for _, r := range parent.Provenance {
		left[r.EntryID] = true
	}
	for _, r := range split.Provenance {
		if got, _ := f.store.StoryOf(r.EntryID); got != split.ID {
			t.Errorf("entry %s of %s: the store has it in %q", r.EntryID, split.ID, got)
		}
		if left[r.EntryID] {
			t.Errorf("%s still lists %s, which moved to %s", split.SplitFrom, r.EntryID, split.ID)
		}
	}
}
