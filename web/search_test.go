package web

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	store "github.com/blevesearch/upsidedown_store_api"

	"github.com/newswire/newswire/bus"
	"github.com/newswire/newswire/provenance"
	"github.com/newswire/newswire/wire"
)

func TestParseQuery(t *testing.T) {
	for in, want := range map[string]string{
		"":                          "",
		"  bitcoin  ":               "bitcoin",
		`"Mt  Gox" bitcoin -price`:  `"Mt Gox" bitcoin -price`,
		`-"stock market" dow`:       `dow -"stock market"`,
		`"unclosed phrase`:          `"unclosed phrase"`,
		"S.T.A.L.K.E.R. выборы":     "S.T.A.L.K.E.R. выборы",
		"- lone dash":               "lone dash",
		`"" empty`:                  "empty",
		"a-b -c":                    "a-b -c",
		"<script>alert(1)</script>": "<script>alert(1)</script>",
	} {
		q, err := parseQuery(in)
		if err != nil || q.String() != want {
			t.Errorf("parseQuery(%q) = %q, %v; want %q", in, q.String(), err, want)
		}
	}
	if _, err := parseQuery(strings.Repeat("x ", 17)); err == nil {
		t.Error("17 words were accepted")
	}
	if _, err := parseQuery(strings.Repeat("x", maxQueryBytes+1)); err != ErrQueryTooLong {
		t.Errorf("an over-long query: %v", err)
	}
}

// searchIDs runs a text query over a store and returns the ids found.
func searchIDs(t *testing.T, s *Store, f EntryFilter) []string {
	t.Helper()
	page, err := s.QueryEntries(f, 1000, "")
	if err != nil {
		t.Fatalf("query %+v: %v", f, err)
	}
	var ids []string
	for _, e := range page.Entries {
		ids = append(ids, e.ID)
	}
	return ids
}

// The analyzers: case and Latin diacritics folded, words stemmed in the
// entry's language, phrases and exclusions, and entries leaving the
// index when the store drops them or their source withdraws them.
func TestSearchAnalyzesEachLanguage(t *testing.T) {
	s := NewStore(6)
	at := time.Date(2024, 6, 11, 10, 0, 0, 0, time.UTC)
	src := provenance.Source{ID: "w", Kind: "rss", Code: "W"}
	add := func(id, lang, headline, text string) {
		s.AddEntry(wire.Entry{ID: id, Source: src, Lang: lang, Headline: headline, Text: text, PublishedAt: at})
		at = at.Add(time.Minute)
	}
	add("en1", "en", "Elections in Malawi", "The electoral commission counted ballots.")
	add("ru1", "ru", "Итоги выборов в Москве", "Избиратели пришли на участки.")
	add("de1", "de", "Wahlen in München", "Die Straße war gesperrt.")
	add("pt1", "pt", "Eleições em São Paulo", "Os eleitores votaram.")
	add("xx1", "", "Für S.T.A.L.K.E.R. fans", "Dr. Smith and J. Doe in the U.S.")
	for _, c := range []struct {
		q    string
		want string
	}{
		{"election", "en1"},                     // English stem: elections → elect
		{"ELECTIONS malawi", "en1"},             // case, and two words that must both match
		{"выборы", "ru1"},                       // Russian stem: выборов, выборы → выбор
		{"избиратель", "ru1"},                   // избиратели
		{"munchen", "de1"},                      // folded ü
		{"Strasse", "de1"},                      // folded ß
		{"wahl", "de1"},                         // German light stemmer: Wahlen → wahl
		{"sao paulo", "pt1"},                    // folded ã
		{"eleição", "pt1"},                      // Portuguese stem
		{`"electoral commission"`, "en1"},       // phrase
		{`"commission electoral"`, ""},          // the words, not the phrase
		{"elections -malawi", ""},               // exclusion
		{"-malawi -москве -münchen", "xx1 pt1"}, // only exclusions: everything else
		{"s.t.a.l.k.e.r", "xx1"},                // an abbreviation, language unknown
		{"smith", "xx1"},
		{"stalker", "xx1"},     // the dotted word run together
		{"Für STALKER", "xx1"}, // folded ü, and the word
		{`"fur s.t.a.l.k.e.r"`, "xx1"},
		{"москва", "ru1"}, // Москве and Москва share the Russian stem
	} {
		got := strings.Join(searchIDs(t, s, EntryFilter{Query: c.q}), " ")
		if got != c.want {
			t.Errorf("q=%s found %q, want %q", c.q, got, c.want)
		}
	}
	if got := searchIDs(t, s, EntryFilter{Query: "москве", Language: "ru"}); len(got) != 1 {
		t.Errorf("q=москве language=ru found %q", got)
	}
	if got := searchIDs(t, s, EntryFilter{Query: "москве", Language: "en"}); len(got) != 0 {
		t.Errorf("q=москве language=en found %q", got)
	}

	// A withdrawal takes its entry out of the results.
	s.AddEntry(wire.Entry{ID: "de1", Source: src, Lang: "de", Withdrawn: true, PublishedAt: at})
	if got := searchIDs(t, s, EntryFilter{Query: "münchen"}); len(got) != 0 {
		t.Errorf("a withdrawn entry is still found: %q", got)
	}
	// The store holds 6: two more entries push en1 and ru1 out, and the
	// index with them.
	add("en2", "en", "Malawi votes", "")
	add("en3", "en", "More on Malawi", "")
	if got := strings.Join(searchIDs(t, s, EntryFilter{Query: "malawi"}), " "); got != "en3 en2" {
		t.Errorf("after eviction q=malawi found %q, want en3 en2", got)
	}
	if st := s.Stats(); st.Indexed != 4 || st.IndexErrs != 0 { // xx1, pt1, en2, en3
		t.Errorf("index holds %d entries (%d errors), want 4", st.Indexed, st.IndexErrs)
	}
}

// Text queries against the real sample on the embedded NATS: stemming
// in English and Russian, combination with the filters, and cursor
// paging over a query's results.
func TestSearchOnRealData(t *testing.T) {
	f := realDataFixture(t)
	base := f.hs.URL + "/api/v1/entries?limit=1000"
	search := func(params string) []wire.Entry {
		t.Helper()
		code, body := get(t, base+"&"+params)
		if code != 200 {
			t.Fatalf("%s: %d %s", params, code, body)
		}
		return decode[entryPageJSON](t, body).Entries
	}
	text := func(e wire.Entry) string { return strings.ToLower(e.Headline + " " + e.Text) }
	byID := func(es []wire.Entry) map[string]bool {
		m := map[string]bool{}
		for _, e := range es {
			m[e.ID] = true
		}
		return m
	}

	// English: "stocks" finds "Stock" too; every hit holds the stem.
	stocks := search("q=stocks")
	exactStock := 0
	for _, e := range stocks {
		if !strings.Contains(text(e), "stock") {
			t.Errorf("q=stocks found %s: %q", e.ID, e.Headline)
		}
		if !strings.Contains(text(e), "stocks") {
			exactStock++
		}
	}
	if len(stocks) < 30 || exactStock == 0 {
		t.Errorf("q=stocks found %d entries, %d of them without the plural; want both forms", len(stocks), exactStock)
	}
	// Recall: every entry whose headline has the word stands in the results.
	found := byID(stocks)
	for _, e := range f.entries {
		for _, w := range strings.FieldsFunc(strings.ToLower(e.Headline), func(r rune) bool { return !('a' <= r && r <= 'z') }) {
			if (w == "stock" || w == "stocks") && !found[e.ID] {
				t.Errorf("q=stocks missed %s: %q", e.ID, e.Headline)
			}
		}
	}

	// Russian: the plural finds the genitive, and every form of it.
	ru := search("q=" + url.QueryEscape("разработчики"))
	for _, form := range []string{"разработчика", "разработчиков"} {
		for _, e := range search("q=" + url.QueryEscape(form)) {
			if !byID(ru)[e.ID] {
				t.Errorf("q=разработчики missed %s, which q=%s finds", e.ID, form)
			}
		}
	}
	if len(ru) < 5 {
		t.Errorf("q=разработчики found %d entries", len(ru))
	}
	for _, e := range ru {
		if !strings.Contains(text(e), "разработчик") {
			t.Errorf("q=разработчики found %s without the word", e.ID)
		}
	}

	// Combined with filters: a query and kind/language hold together.
	for _, e := range search("q=" + url.QueryEscape("python") + "&kind=telegram&language=ru") {
		if e.Source.Kind != "telegram" || !strings.HasPrefix(e.Lang, "ru") || !strings.Contains(text(e), "python") {
			t.Errorf("q=python kind=telegram language=ru gave %s (%s, %s)", e.ID, e.Source.Kind, e.Lang)
		}
	}
	if n := len(search("q=bitcoin&kind=telegram")); n != 0 {
		t.Errorf("q=bitcoin kind=telegram found %d; the Telegram sample has no bitcoin", n)
	}
	big := f.biggest()
	inStory := search("story=" + big.ID)
	for _, e := range search("q=" + url.QueryEscape(`"`+big.Headline+`"`) + "&story=" + big.ID) {
		if !byID(inStory)[e.ID] {
			t.Errorf("q with story=%s found %s outside it", big.ID, e.ID)
		}
	}

	// Phrase and exclusion.
	for _, e := range search("q=" + url.QueryEscape(`"mt gox"`)) {
		if !strings.Contains(strings.ReplaceAll(text(e), ".", ""), "mt gox") {
			t.Errorf(`q="mt gox" found %s: %q`, e.ID, e.Headline)
		}
	}
	gox := search("q=gox")
	for _, e := range gox {
		if !strings.Contains(text(e), "gox") {
			t.Errorf("q=gox found %s: %q", e.ID, e.Headline)
		}
	}
	notGox := search("q=" + url.QueryEscape("bitcoin -gox -mtgox"))
	for _, e := range notGox {
		if strings.Contains(text(e), "gox") {
			t.Errorf("q=bitcoin -gox -mtgox found %s: %q", e.ID, e.Headline)
		}
	}
	if len(gox) < 20 || len(notGox) == 0 {
		t.Errorf("q=gox found %d (Mt.Gox, Mt. Gox), q=bitcoin -gox -mtgox %d", len(gox), len(notGox))
	}

	// Cursor paging through a query's results visits each once, newest first.
	all := search("q=bitcoin")
	var paged []string
	next := ""
	for {
		code, body := get(t, f.hs.URL+"/api/v1/entries?q=bitcoin&limit=7&cursor="+url.QueryEscape(next))
		if code != 200 {
			t.Fatalf("q=bitcoin page: %d %s", code, body)
		}
		p := decode[entryPageJSON](t, body)
		for _, e := range p.Entries {
			paged = append(paged, e.ID)
		}
		if next = p.Next; next == "" {
			break
		}
	}
	var want []string
	for _, e := range all {
		want = append(want, e.ID)
	}
	if len(all) < 20 || strings.Join(paged, " ") != strings.Join(want, " ") {
		t.Errorf("q=bitcoin paged by 7: %d ids, one page of 1000: %d; they differ or are too few", len(paged), len(all))
	}

	// A withdrawal published on the bus takes the entry out of the index.
	gone := all[0]
	publishJSON(t, f.srv, bus.EntrySubject(gone.Source.Kind, gone.Source.ID), wire.Entry{Schema: wire.SchemaEntry, ID: gone.ID,
		Source: gone.Source, Withdrawn: true, PublishedAt: gone.PublishedAt, ObservedAt: gone.ObservedAt})
	waitFor(t, "the withdrawal to reach the index", func() bool { return !byID(search("q=bitcoin"))[gone.ID] })

	// Errors.
	for q, status := range map[string]int{strings.Repeat("x", 600): 400, strings.Repeat("a ", 20): 400} {
		code, body := get(t, base+"&q="+url.QueryEscape(q))
		if e := decode[errorJSON](t, body); code != status || e.Error.Code != "bad_parameter" || !strings.HasPrefix(e.Error.Message, "q: ") {
			t.Errorf("q of %d bytes: %d %s", len(q), code, body)
		}
	}
	// The withdrawal took one entry out, and pushed the oldest out of the
	// store (which holds as many entries as the fixture published).
	if st := f.store.Stats(); st.IndexErrs != 0 || st.Indexed != len(f.entries)-2 {
		t.Errorf("index holds %d entries with %d errors, want %d", st.Indexed, st.IndexErrs, len(f.entries)-2)
	}
}

// The Live Wire's search box works without JavaScript: a GET form whose
// answer lists the matches, keeps the query (escaped) in the box, and
// tells the script not to add live entries the query did not choose.
func TestWirePageSearch(t *testing.T) {
	f := realDataFixture(t)
	code, body := get(t, f.hs.URL+"/?q="+url.QueryEscape("sbarro bankruptcy"))
	if code != 200 || !strings.Contains(body, `<form class="filter" method="get" action="/" role="search">`) ||
		!strings.Contains(body, `name="q" value="sbarro bankruptcy"`) || !strings.Contains(body, `data-query="sbarro bankruptcy"`) {
		t.Fatalf("wire page with q: %d\n%s", code, body)
	}
	items := strings.Count(body, "<li>")
	if items == 0 || !strings.Contains(body, `id="matches"`) {
		t.Errorf("q=sbarro bankruptcy listed %d entries", items)
	}
	for _, li := range strings.Split(body, "<li>")[1:] {
		if l := strings.ToLower(li); !strings.Contains(l, "sbarro") {
			t.Errorf("a listed entry lacks the query: %.200s", li)
		}
	}
	_, body = get(t, f.hs.URL+"/?q="+url.QueryEscape(`"><script>alert(1)</script>`))
	if strings.Contains(body, "<script>alert") || !strings.Contains(body, "Nothing on the wire matches") {
		t.Errorf("a query is not escaped back into the page, or no word that nothing matched:\n%s", body)
	}
	_, body = get(t, f.hs.URL+"/")
	if strings.Contains(body, "data-query") || strings.Contains(body, `id="matches"`) {
		t.Error("the page without a query says it is a search")
	}
}

// TestIndexForgetsTheTermsOfDroppedEntries turns a 10-entry store over
// 2 × sweepEvery times with a word no other entry has in each, as weeks
// of names and numbers do: the term dictionary must stay near the held
// entries' terms instead of keeping a row for every word ever indexed,
// and searches must still find what is held, and only that.
func TestIndexForgetsTheTermsOfDroppedEntries(t *testing.T) {
	s := NewStore(10)
	src := provenance.Source{ID: "w", Kind: "rss", Code: "W"}
	at := time.Date(2024, 6, 11, 10, 0, 0, 0, time.UTC)
	const n = 2 * sweepEvery
	for i := range n {
		s.AddEntry(wire.Entry{ID: fmt.Sprintf("e%d", i), Source: src, Lang: "en", PublishedAt: at,
			Headline: fmt.Sprintf("Markets open as unique%d trades", i)})
		at = at.Add(time.Second)
	}
	rows := dictionaryRows(t, s.index)
	// Each entry brings one word of its own, "unique<i>", to each of
	// the text and stem fields; the dropped entries' rows wait for the
	// next sweep, at most sweepEvery of them. Without sweeps the rows
	// would be 2n and more.
	if limit := 2*(sweepEvery+10) + 50; rows > limit {
		t.Errorf("%d term dictionary rows after %d entries went through a 10-entry store; want at most %d", rows, n, limit)
	}
	t.Logf("%d term dictionary rows after %d entries", rows, n)
	for _, c := range []struct {
		q    string
		want int
	}{
		{fmt.Sprintf("unique%d", n-1), 1},  // held
		{fmt.Sprintf("unique%d", n-11), 0}, // dropped
		{"unique0", 0},                     // dropped before the first sweep
		{"markets", 10},                    // every held entry
	} {
		page, err := s.QueryEntries(EntryFilter{Query: c.q}, 100, "")
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Entries) != c.want {
			t.Errorf("q=%q: %d entries, want %d", c.q, len(page.Entries), c.want)
		}
	}
	if st := s.Stats(); st.IndexErrs != 0 {
		t.Errorf("%d index errors", st.IndexErrs)
	}
}

func dictionaryRows(t *testing.T, x *entryIndex) int {
	t.Helper()
	x.mu.Lock()
	defer x.mu.Unlock()
	kv, err := x.idx.(interface{ Advanced() (store.KVStore, error) }).Advanced()
	if err != nil {
		t.Fatal(err)
	}
	r, err := kv.Reader()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	it := r.PrefixIterator([]byte{dictionaryRowPrefix})
	defer it.Close()
	n := 0
	for _, _, valid := it.Current(); valid; _, _, valid = it.Current() {
		n++
		it.Next()
	}
	return n
}
