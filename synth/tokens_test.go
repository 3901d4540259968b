package synth

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/newswire/newswire/ingest/replay"
	"github.com/newswire/newswire/wire"
)

// The terms a link's slug adds, stemmed as words of an entry in an
// unknown language (English for Latin, Russian for Cyrillic).
func TestSlugWords(t *testing.T) {
	cases := []struct{ link, want string }{
		{"http://www.latimes.com/business/money/la-fi-mo-federal-reserve-plosser-stimulus-economy-20140310,0,1312750.story", "feder reserv plosser stimulus economi"},
		{"http://www.livemint.com/Politics/H2EvwJSK2VE6OF7iK1g3PP/Feds-Charles-Plosser-sees-high-bar-for-change-in-pace-of-ta.html", "fed charl plosser see high bar chang pace"},
		{"https://example.org/2026/03/12/mt_gox_files_for_bankruptcy/", "gox file bankruptci"},
		{"https://t.me/s/rian_ru/241331", ""},                  // a channel and a message number
		{"https://example.org/politics/", ""},                  // a section
		{"https://example.org/news/a1b2-c3d4-e5f6", ""},        // an id in hyphens
		{"https://example.org/?p=mt-gox-files-bankruptcy", ""}, // the query is not the path
		{"https://example.org/новости/выборы-в-молдове-пройдут-в-ноябре", "выбор молдов пройдут ноябр"},
		{"::not a url", ""},
		{"https://example.org/news/mt.-gox-files-for-bankruptcy", "gox file bankruptci"},                                // a dot that starts no extension
		{"https://example.org/" + strings.Repeat("word-", 100) + "end", strings.TrimSpace(strings.Repeat("word ", 32))}, // at most 32 terms

		{"https://example.org/%D0%B2%D1%8B%D0%B1%D0%BE%D1%80%D1%8B-%D0%B2-%D0%BC%D0%BE%D0%BB%D0%B4%D0%BE%D0%B2%D0%B5-%D0%BF%D1%80%D0%BE%D0%B9%D0%B4%D1%83%D1%82", "выбор молдов пройдут"},
		{"https://example.org/bad-%zz-escape-here", ""},
	}
	for _, tc := range cases {
		var words []string
		for _, tok := range slugTokens(newStemmer(), "xx", tc.link, nil) {
			words = append(words, tok.term)
		}
		if got := strings.Join(words, " "); got != tc.want {
			t.Errorf("slug of %q = %q, want %q", tc.link, got, tc.want)
		}
	}
}

func TestStemmerFollowsLanguageAndScript(t *testing.T) {
	st := newStemmer()
	same := []struct{ lang, a, b string }{
		{"en", "investigations", "investigated"},
		{"", "elections", "election"}, // no language: Latin falls back to English
		{"ru", "выборов", "выборы"},
		{"", "выборах", "выборы"},  // no language: Cyrillic falls back to Russian
		{"uk", "вибори", "вибори"}, // Ukrainian has no stemmer of its own
		{"de", "regierungen", "regierung"},
		{"fr", "élections", "élection"},
		{"ar", "المغرب", "مغرب"},
		{"ru", "ёлка", "елка"},
	}
	for _, tc := range same {
		if a, b := st.stem(tc.lang, tc.a), st.stem(tc.lang, tc.b); a != b {
			t.Errorf("%s: %q → %q and %q → %q, want one stem", tc.lang, tc.a, a, tc.b, b)
		}
	}
	// A Latin word in a Russian post is stemmed as English, like the same
	// word in an English post, so the two posts still share the term.
	if a, b := st.stem("ru", "sanctions"), st.stem("en", "sanctions"); a != b {
		t.Errorf("Latin word in a Russian entry stems to %q, in an English one to %q", a, b)
	}
	for _, w := range []string{"mh370", "1,799", "g7"} {
		if got := st.stem("en", w); got != w {
			t.Errorf("stem(%q) = %q, want it unchanged", w, got)
		}
	}
	if got := st.stem("zh", "台风"); got != "台风" {
		t.Errorf("a script without a stemmer changed: %q", got)
	}
	// Regional tags choose the language's stemmer: "de-DE" is German.
	for _, tag := range []string{"de-DE", "de_de", "DE"} {
		if a, b := st.stem(primaryLanguage(tag), "regierungen"), st.stem("de", "regierungen"); a != b {
			t.Errorf("%s: %q, German gives %q", tag, a, b)
		}
	}
}

// A story's keywords are words a person reads, not stems.
func TestKeywordsAreWords(t *testing.T) {
	c := newTestClusterer(t)
	background(c)
	id := c.Add(entry("ek1", "a", "Investigations into bankruptcy filings widen", "", 0))
	c.Add(entry("ek2", "b", "Bankruptcy investigations widen as filings grow", "", 1))
	st, _ := c.Snapshot(id)
	for _, k := range st.Keywords {
		if k == "bankruptci" || k == "investig" || k == "file" {
			t.Errorf("keyword %q is a stem (keywords %v)", k, st.Keywords)
		}
	}
	if !slices.Contains(st.Keywords, "bankruptcy") {
		t.Errorf("keywords %v lack bankruptcy", st.Keywords)
	}
}

func TestStemCacheStaysBounded(t *testing.T) {
	st := newStemmer()
	for i := range maxStemCache + 10 {
		st.stem("en", "word"+strings.Repeat("a", i%50)+string(rune('a'+i%26))+string(rune('a'+i/26%26))+string(rune('a'+i/676%26)))
	}
	if n := len(st.cache); n > maxStemCache {
		t.Fatalf("cache holds %d stems, bound %d", n, maxStemCache)
	}
}

// tokenize skips two range-table lookups for runes below where their
// ranges start; no rune there may belong to them.
func TestTokenizeFastPathBounds(t *testing.T) {
	for r := rune(0); r < 0x0E00; r++ {
		if unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Thai) {
			t.Fatalf("%U is Han, Kana or Thai", r)
		}
		if r < 0x0300 && unicode.Is(unicode.Mn, r) {
			t.Fatalf("%U is a combining mark", r)
		}
	}
}

// TestWordHelpersMatchTheStringsPackage checks the tokenizer's shortcuts
// against the library calls they replace, on tricky words and random
// bytes (invalid UTF-8 included).
func TestWordHelpersMatchTheStringsPackage(t *testing.T) {
	words := []string{"", "a", "NASA", "Obama's", "Обама’s", "ДНР", "ООН", "İSTANBUL", "ǅungla", "ß", "ẞ", "x’", "’x",
		"١٢٣", "abc٣", "12", "\xff", "A\xffB", "\xe2\x80", "\xe2\x80\x99", "Straße", "ΣΟΦΙΑ", "ﬀ"}
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []string{"a", "Z", "'", "’", "Ж", "ж", "1", "٣", "\xff", "\xe2", "\x80", "\x99", "ǅ", "İ"}
	for range 20000 {
		var b strings.Builder
		for range rng.IntN(6) {
			b.WriteString(alphabet[rng.IntN(len(alphabet))])
		}
		words = append(words, b.String())
	}
	for _, w := range words {
		if got, want := hasDigit(w), strings.IndexFunc(w, unicode.IsDigit) >= 0; got != want {
			t.Fatalf("hasDigit(%q) = %v, want %v", w, got, want)
		}
		if got, want := isUpperCase(w), strings.ToUpper(w) == w; got != want {
			t.Fatalf("isUpperCase(%q) = %v, want %v", w, got, want)
		}
		if got, want := apostrophe(w), strings.IndexAny(w, "'’"); got != want {
			t.Fatalf("apostrophe(%q) = %d, want %d", w, got, want)
		}
	}
}

// namesOf lists the terms of e's vector that are names, sorted.
func namesOf(c *Clusterer, e wire.Entry) []string {
	var out []string
	for _, x := range c.vector(e) {
		if x.p {
			out = append(out, x.t)
		}
	}
	slices.Sort(out)
	return out
}

// addReports adds one sentence-case report per text to c, a minute apart,
// so that the stream has counted how each word is written.
func addReports(c *Clusterer, texts ...string) {
	for i, text := range texts {
		c.Add(entry(fmt.Sprintf("r%d", i), "bbc", "Report", text, i+1))
	}
}

// TestTitleCaseNamesFollowTheStream checks truecasing by the stream: in
// a Title Case headline, or at the start of a sentence, a capital says
// nothing, and a word counts as a name when the stream's other texts
// mostly write it with one.
func TestTitleCaseNamesFollowTheStream(t *testing.T) {
	c := newTestClusterer(t)
	names := func(e wire.Entry) []string { return namesOf(c, e) }
	head := entry("e1", "nyt", "Ferry Capsizes on Zimbabwe’s Lake Kariba", "", 0)
	if got := names(head); len(got) != 0 {
		t.Fatalf("before the stream said anything: names %q, want none", got)
	}
	// Sentence-case texts: "Kariba" and "Zimbabwe" inside sentences with
	// a capital, "ferry" and "lake" in small letters; "Lake" once with a
	// capital, as part of the name, which the small-letter uses outweigh.
	addReports(c,
		"A ferry sank on Lake Kariba in Zimbabwe on Sunday.",
		"Police in Zimbabwe said the ferry was over capacity. The lake was rough.",
		"Rescuers searched the lake near Kariba for a second day.",
		"The lake is a popular ferry route.",
	)
	if got, want := names(head), []string{"kariba", "zimbabw"}; !slices.Equal(got, want) {
		t.Errorf("Title Case headline names %q, want %q", got, want)
	}
	// The first word of a sentence is judged the same way.
	if got, want := names(entry("e9", "aj", "Zimbabwe mourns as divers search the lake", "", 9)), []string{"zimbabw"}; !slices.Equal(got, want) {
		t.Errorf("sentence-initial name: names %q, want %q", got, want)
	}
	if got := names(entry("e10", "aj", "Ferry disasters: the lake gives up its dead", "", 10)); len(got) != 0 {
		t.Errorf("sentence-initial common word: names %q, want none", got)
	}
}

// TestTextsWithoutCapitalsLeaveNamesToTheStream checks texts that carry
// no case at all: a script without capitals, or a post typed in small
// letters. Their words are names when the stream writes them with a
// capital or has never written them either way, and their small letters
// are no evidence against a name.
func TestTextsWithoutCapitalsLeaveNamesToTheStream(t *testing.T) {
	c := newTestClusterer(t)
	names := func(e wire.Entry) []string { return namesOf(c, e) }
	lower := entry("e1", "x", "", "ferry capsizes on zimbabwe's lake kariba, dozens missing", 0)
	all := []string{"capsiz", "dozen", "ferri", "kariba", "lake", "miss", "zimbabw"}
	if got := names(lower); !slices.Equal(got, all) {
		t.Fatalf("before the stream said anything: names %q, want every word %q", got, all)
	}
	// Capitals in a link or a handle are not the text's: they give no
	// words, and say nothing of how the text is written.
	if got := names(entry("e1", "x", "", "ferry capsizes on zimbabwe's lake kariba, dozens missing https://t.co/Xy12Ab via @Reuters", 0)); !slices.Equal(got, all) {
		t.Errorf("with a link and a handle: names %q, want %q", got, all)
	}
	// A capital inside a word shows a text written with capitals.
	if got := names(entry("e1", "x", "", "iPhone sales rise in china", 0)); len(got) != 0 {
		t.Errorf("a text with a capital inside a word: names %q, want none", got)
	}
	// Years and small numbers are no names in any text.
	if got, want := names(entry("e1", "x", "", "the ferry sank on 12 may 2024 with 40 people aboard", 0)), []string{"aboard", "ferri", "peopl", "sank"}; !slices.Equal(got, want) {
		t.Errorf("numbers: names %q, want %q", got, want)
	}
	// Arabic has no capitals: every word is a name until the stream says
	// otherwise, as in a text written in capitals.
	if got := names(entry("e2", "x", "", "غرق عبارة في بحيرة كاريبا", 0)); len(got) != 5 {
		t.Errorf("Arabic text: names %q, want all 5 words", got)
	}
	// Neither do Chinese characters, even beside a Latin acronym.
	if got := names(entry("e2", "x", "", "NHK报道日本地震", 0)); len(got) != 6 || got[0] != "nhk" {
		t.Errorf("Chinese text with an acronym: names %q, want nhk and all 5 character pairs", got)
	}
	addReports(c,
		"A ferry sank on Lake Kariba in Zimbabwe on Sunday.",
		"Police in Zimbabwe said the ferry was over capacity. The lake was rough.",
		"Rescuers searched the lake near Kariba for a second day.",
		"The lake is a popular ferry route and dozens use it; two are missing.",
	)
	// Now the stream writes ferry, lake, dozens and missing in small
	// letters; "capsizes" it has never written.
	if got, want := names(lower), []string{"capsiz", "kariba", "zimbabw"}; !slices.Equal(got, want) {
		t.Errorf("after the stream: names %q, want %q", got, want)
	}
	// Small letters in texts without capitals do not outvote the stream.
	for i := range 6 {
		c.Add(entry(fmt.Sprintf("l%d", i), "x", "", "kariba and zimbabwe again, in small letters", 10+i))
	}
	if got, want := names(entry("e9", "nyt", "Ferry Capsizes on Zimbabwe’s Lake Kariba", "", 20)), []string{"kariba", "zimbabw"}; !slices.Equal(got, want) {
		t.Errorf("Title Case headline after small-letter posts: names %q, want %q", got, want)
	}
}

// A link in a post's text gives no terms: neither "https" and "co",
// which every post with a link shares, nor its path, which no other has.
func TestLinksInTextGiveNoTerms(t *testing.T) {
	st := newStemmer()
	text := "BREAKING: Quake hits Turkey https://t.co/Xy12abCdE (see WWW.Example.com/a?b=1) #earthquake @Reuters http://x.y"
	var got []string
	for _, tok := range onlyTokens(tokenize(st, "en", text, 0, nil)) {
		got = append(got, tok.term)
	}
	want := []string{"quak", "hit", "turkey", "see", "earthquak"} // BREAKING is a stopword; @Reuters: see TestHandlesGiveNoTerms
	if !slices.Equal(got, want) {
		t.Errorf("terms %q, want %q", got, want)
	}
	// A word that merely starts like a link is a word.
	got = got[:0]
	for _, tok := range onlyTokens(tokenize(st, "en", "Wwwhat happens to http", 0, nil)) {
		got = append(got, tok.term)
	}
	if want := []string{"wwwhat", "happen", "http"}; !slices.Equal(got, want) {
		t.Errorf("terms %q of a text without links, want %q", got, want)
	}
}

// An account handle gives no term, as a link does (it says who posts or
// is answered, which posts about many events share), and a retweet's "RT"
// marker gives none either. The posts are real: a user timeline of the X
// API v2 (ingest/x/testdata).
func TestHandlesGiveNoTerms(t *testing.T) {
	b, err := os.ReadFile("../ingest/x/testdata/users_tweets_2351222345.json")
	if err != nil {
		t.Fatal(err)
	}
	var page struct {
		Data []struct{ Text string } `json:"data"`
	}
	if err := json.Unmarshal(b, &page); err != nil {
		t.Fatal(err)
	}
	find := func(prefix string) string {
		for _, p := range page.Data {
			if strings.HasPrefix(p.Text, prefix) {
				return p.Text
			}
		}
		t.Fatalf("no post starts with %q", prefix)
		return ""
	}
	st := newStemmer()
	terms := func(text string) map[string]token {
		m := map[string]token{}
		for _, tok := range onlyTokens(tokenize(st, "en", text, 0, nil)) {
			m[tok.term] = tok
		}
		return m
	}
	rt := terms(find("RT @BleacherReport: In 1986, Larry Bird"))
	if _, ok := rt["rt"]; ok {
		t.Error("a retweet's RT marker is a term")
	}
	if _, ok := rt["bleacherreport"]; ok {
		t.Error("handle @BleacherReport gave a term")
	}
	if b := rt["bird"]; !b.capital {
		t.Errorf("Bird after a handle lost its capital: %+v", b)
	}
	reply := terms(find("@BleacherReport @NBAHistory The Legend"))
	if len(reply) != 1 || reply["legend"].term == "" {
		t.Errorf("a reply to two handles gave terms %v, want only legend", reply)
	}
	// Edge cases written here: a Mastodon handle is one handle, a sentence's
	// full stop is not part of a handle, an e-mail address is words, and
	// RT that no handle follows is a word.
	for text, want := range map[string][]string{
		"Thanks @Gargron@mastodon.social for it": {"thank"},
		"Ask @NASA. Quake":                       {"ask", "quak"},
		"Write to press@bbc.co.uk today":         {"write", "press", "bbc", "co", "uk"},
		"RT coverage of Ukraine":                 {"rt", "coverag", "ukrain"},
		"@ alone":                                {"alon"},
	} {
		var got []string
		for _, tok := range onlyTokens(tokenize(st, "en", text, 0, nil)) {
			got = append(got, tok.term)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%q: terms %q, want %q", text, got, want)
		}
	}
}

// onlyTokens drops tokenize's second result.
func onlyTokens(toks []token, _ bool) []token { return toks }

// TestEmojiLeavesTheNextWordAlone checks the real posts of the bundled
// Telegram sample: 211 of its 2,000 posts write a word straight after an
// emoji and its variation selector (U+FE0F, as in "⚡️С выпуском"). The
// selector starts no word, so the word gives the same term as anywhere
// else, and no term holds a selector.
func TestEmojiLeavesTheNextWordAlone(t *testing.T) {
	items, err := replay.ReadFile("../testdata/replay/telegram-ru-news-sample.jsonl.gz")
	if err != nil {
		t.Fatal(err)
	}
	st := newStemmer()
	glued := 0
	for _, it := range items {
		if !strings.Contains(it.Text, "\uFE0F") {
			continue
		}
		for _, tok := range onlyTokens(tokenize(st, it.Lang, it.Text, 0, nil)) {
			if strings.ContainsRune(tok.term, '\uFE0F') {
				t.Fatalf("%s: term %q holds a variation selector", it.ID, tok.term)
			}
		}
		if strings.Contains(it.Text, "⚡️С выпуском") {
			glued++
		}
	}
	if glued == 0 {
		t.Fatal("the sample no longer holds the post this test reads")
	}
	toks := onlyTokens(tokenize(st, "ru", "⚡️Срочно: взрыв", 0, nil))
	if len(toks) != 2 || toks[0].term != onlyTokens(tokenize(st, "ru", "Срочно", 0, nil))[0].term || !toks[0].initial {
		t.Errorf("⚡️Срочно: tokens %+v, want the term of Срочно, at a sentence's start", toks)
	}
}
