package normalize

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/newswire/newswire/provenance"
	"github.com/newswire/newswire/wire"
)

// langSample is one labelled text of the language evaluation: the label
// is the language of its source (see testdata/lang/README.md), never
// what a detector said.
type langSample struct {
	set, id, lang string
	// headline is the entry's headline (the title, or a post's first
	// sentence); full is what the worker detects on (title and text),
	// kept only when the text is long enough to fill the sample.
	headline, full string
}

// minLetters: a sample with fewer letters says too little for anyone to
// tell its language (a dateline, "Цитата #17703" is kept, "2011-05-09"
// is not); such samples are left out of the scores, for every detector.
const minLetters = 10

// fullRunes is the least text a sample needs to count as a post or an
// article rather than a headline: about what detectionSample reads.
const fullRunes = 150

// langEvalSet reads the labelled rows: the bundled replay files (UCI
// headlines en, ECB+ articles en, Telegram posts ru) and
// testdata/lang/feeds.jsonl (real feeds and channels in en, de, fr, it,
// pt, ru, ur, zh). Rows pass through Normalize, so the texts are cleaned
// as the worker cleans them.
func langEvalSet(tb testing.TB) []langSample {
	tb.Helper()
	type row struct {
		set         string
		item        replayItem
		format      string
		defaultLang string
	}
	var rows []row
	for _, f := range []struct{ path, lang string }{
		{"uci-news-2014-03.jsonl", "en"},
		{"ecbplus-dev.jsonl", "en"},
		{"telegram-ru-news-sample.jsonl.gz", "ru"},
	} {
		for _, it := range readReplay(tb, filepath.Join("..", "testdata", "replay", f.path)) {
			rows = append(rows, row{set: strings.SplitN(f.path, ".", 2)[0], item: it, format: wire.FormatMarkdown, defaultLang: f.lang})
		}
	}
	fh, err := os.Open(filepath.Join("testdata", "lang", "feeds.jsonl"))
	if err != nil {
		tb.Fatal(err)
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var r struct {
			ID, Lang, Title, Text, Format string
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			tb.Fatal(err)
		}
		set, _, _ := strings.Cut(r.ID, "#")
		rows = append(rows, row{set: set, item: replayItem{ID: r.ID, Kind: "rss", Title: r.Title, Text: r.Text, Lang: r.Lang},
			format: r.Format})
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}

	cfg := DefaultConfig()
	cfg.Detector = ScriptDetector{}
	var out []langSample
	for _, r := range rows {
		lang := r.item.Lang
		if lang == "" {
			lang = r.defaultLang
		}
		raw := wire.RawItem{Kind: r.item.Kind, Source: "s", NativeID: r.item.ID, Title: r.item.Title, Body: r.item.Text,
			BodyFormat: r.format, ObservedAt: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
		e, err := Normalize(cfg, raw, provenance.RawRef{})
		if err != nil {
			continue // rows with neither title nor text
		}
		s := langSample{set: r.set, id: r.item.ID, lang: lang}
		if countLetters(e.Headline) >= minLetters {
			s.headline = e.Headline
		}
		title := ""
		if r.item.Title != "" {
			title = e.Headline // a titled item's headline is its cleaned title
		}
		if full := title + "\n" + e.Text; countLetters(full) >= minLetters && len([]rune(full)) >= fullRunes {
			s.full = full
		}
		if s.headline != "" || s.full != "" {
			out = append(out, s)
		}
	}
	return out
}

func countLetters(s string) int {
	n := 0
	for _, r := range s {
		if unicode.IsLetter(r) {
			n++
		}
	}
	return n
}

// langScore is a detector's result on one kind of sample of one language.
type langScore struct {
	right, total int
	got          map[string]int
}

func (s *langScore) add(want, got string) {
	if s.got == nil {
		s.got = map[string]int{}
	}
	s.total++
	if got == want {
		s.right++
	} else {
		s.got[got]++
	}
}

func (s langScore) String() string {
	if s.total == 0 {
		return fmt.Sprintf("%21s", "—")
	}
	return fmt.Sprintf("%6.4f (%5d/%5d)", float64(s.right)/float64(s.total), s.right, s.total)
}

// langReport holds the scores per language, and overall under "all".
type langReport struct {
	headline, full map[string]*langScore
}

func evaluateLanguages(det LanguageDetector, samples []langSample) langReport {
	rep := langReport{headline: map[string]*langScore{}, full: map[string]*langScore{}}
	score := func(m map[string]*langScore, lang, want, got string) {
		for _, k := range []string{lang, "all"} {
			if m[k] == nil {
				m[k] = &langScore{}
			}
			m[k].add(want, got)
		}
	}
	for _, s := range samples {
		if s.headline != "" {
			score(rep.headline, s.lang, s.lang, det.Detect(s.headline))
		}
		if s.full != "" {
			score(rep.full, s.lang, s.lang, det.Detect(s.full))
		}
	}
	return rep
}

func (r langReport) table() string {
	langs := map[string]bool{}
	for k := range r.headline {
		langs[k] = true
	}
	for k := range r.full {
		langs[k] = true
	}
	keys := make([]string, 0, len(langs))
	for k := range langs {
		if k != "all" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	keys = append(keys, "all")
	var b strings.Builder
	fmt.Fprintf(&b, "%-4s %-21s %-21s misses (headline | full)\n", "lang", "headline", "full text")
	get := func(m map[string]*langScore, k string) langScore {
		if s := m[k]; s != nil {
			return *s
		}
		return langScore{}
	}
	for _, k := range keys {
		h, f := get(r.headline, k), get(r.full, k)
		miss := ""
		if k != "all" {
			miss = tally(h.got) + " |" + tally(f.got)
		}
		fmt.Fprintf(&b, "%-4s %s %s %s\n", k, h, f, miss)
	}
	return b.String()
}

// BenchmarkDetect measures detection alone on the evaluation's samples.
func BenchmarkDetect(b *testing.B) {
	det, err := NewNGramDetector(DefaultLanguages())
	if err != nil {
		b.Fatal(err)
	}
	samples := langEvalSet(b)
	for _, kind := range []string{"headline", "full"} {
		var texts []string
		for _, s := range samples {
			t := s.headline
			if kind == "full" {
				t = s.full
			}
			if t != "" {
				texts = append(texts, t)
			}
		}
		b.Run(kind, func(b *testing.B) {
			n := 0
			for b.Loop() {
				det.Detect(texts[n%len(texts)])
				n++
			}
		})
	}
}
