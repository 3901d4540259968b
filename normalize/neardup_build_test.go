package normalize

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"flag"
	"hash/fnv"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/newswire/newswire/words"
)

var buildNearDup = flag.Bool("build-neardup", false, "rebuild testdata/neardup from ../../shared/data")

// replayItem is one line of the project's replay format.
type replayItem struct {
	ID          string `json:"id"`
	Kind        string `json:"kind"`
	Source      string `json:"source"`
	URL         string `json:"url,omitempty"`
	PublishedAt string `json:"published_at"`
	Title       string `json:"title,omitempty"`
	Text        string `json:"text,omitempty"`
	Lang        string `json:"lang,omitempty"`
	Label       string `json:"label,omitempty"`
}

// nearPair is one labelled pair of the near-duplicate evaluation.
type nearPair struct {
	Set string `json:"set"`
	Dup *bool  `json:"dup"` // nil: ambiguous, reported but not scored
	A   string `json:"a"`
	B   string `json:"b"`
}

// TestBuildNearDupPairs writes the labelled pairs from the shared data.
// The labels come from rules that do not involve either detector:
//   - uci-syndicated (dup): same aggregator story, different publishers,
//     and one headline's words are the other's, or the other's with at most
//     four words of decoration before or after ("(2)", "- video").
//   - uci-same-story (not dup): same story, different publishers, no
//     four-word run in common: the same news in other words.
//   - uci-same-topic (not dup): different stories of the same day that
//     share two or more words of five letters or more.
//   - uci-ambiguous: same story, a shared four-word run but not the
//     decoration pattern (copy-edited copies); reported, not scored.
//   - tg-repost (dup): posts of different channels within 48 h whose first
//     twelve words agree.
//   - tg-same-topic (not dup): posts of different channels of the same day
//     sharing three or more words of six letters or more and no eight-word run.
func TestBuildNearDupPairs(t *testing.T) {
	if !*buildNearDup {
		t.Skip("run with -build-neardup to rebuild the evaluation pairs")
	}
	uci := readReplay(t, "../../shared/data/uci-news-2014-03.jsonl")
	tg := readReplay(t, "../../shared/data/telegram-ru-news-2024.jsonl.gz")
	used := map[string]replayItem{}
	var pairs []nearPair
	add := func(set string, dup *bool, a, b replayItem) {
		used[a.ID], used[b.ID] = a, b
		pairs = append(pairs, nearPair{Set: set, Dup: dup, A: a.ID, B: b.ID})
	}
	yes, no := true, false

	tok := func(it replayItem) []string {
		return words.Split(MarkdownToText(it.Title + "\n" + it.Text))
	}
	uTok := make([][]string, len(uci))
	for i := range uci {
		uTok[i] = tok(uci[i])
	}
	var same, topic, ambiguous [][2]int
	for i := range uci {
		for j := i + 1; j < len(uci); j++ {
			a, b := uci[i], uci[j]
			if a.Source == b.Source {
				continue
			}
			if a.Label == b.Label {
				switch {
				case decorated(uTok[i], uTok[j], 4):
					add("uci-syndicated", &yes, a, b)
				case sharesRun(uTok[i], uTok[j], 4):
					ambiguous = append(ambiguous, [2]int{i, j})
				default:
					same = append(same, [2]int{i, j})
				}
				continue
			}
			if a.PublishedAt[:10] == b.PublishedAt[:10] && sharedLong(uTok[i], uTok[j], 5) >= 2 {
				topic = append(topic, [2]int{i, j})
			}
		}
	}
	for _, p := range sample(same, 1000) {
		add("uci-same-story", &no, uci[p[0]], uci[p[1]])
	}
	for _, p := range sample(topic, 1000) {
		add("uci-same-topic", &no, uci[p[0]], uci[p[1]])
	}
	for _, p := range sample(ambiguous, 400) {
		add("uci-ambiguous", nil, uci[p[0]], uci[p[1]])
	}

	tTok := make([][]string, len(tg))
	at := make([]time.Time, len(tg))
	for i := range tg {
		tTok[i] = tok(tg[i])
		at[i], _ = time.Parse(time.RFC3339, tg[i].PublishedAt)
	}
	order := make([]int, len(tg))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(x, y int) bool { return at[order[x]].Before(at[order[y]]) })
	var reposts, tgTopic [][2]int
	for x, i := range order {
		for _, j := range order[x+1:] {
			if at[j].Sub(at[i]) > 48*time.Hour {
				break
			}
			if tg[i].Source == tg[j].Source {
				continue
			}
			a, b := tTok[i], tTok[j]
			if len(a) >= 12 && len(b) >= 12 && slices.Equal(a[:12], b[:12]) {
				reposts = append(reposts, [2]int{i, j})
				continue
			}
			if tg[i].PublishedAt[:10] == tg[j].PublishedAt[:10] && sharedLong(a, b, 6) >= 3 && !sharesRun(a, b, 8) {
				tgTopic = append(tgTopic, [2]int{i, j})
			}
		}
	}
	for _, p := range sample(reposts, 600) {
		add("tg-repost", &yes, tg[p[0]], tg[p[1]])
	}
	for _, p := range sample(tgTopic, 600) {
		add("tg-same-topic", &no, tg[p[0]], tg[p[1]])
	}

	ids := make([]string, 0, len(used))
	for id := range used {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	f, err := os.Create(filepath.Join("testdata", "neardup", "items.jsonl.gz"))
	if err != nil {
		t.Fatal(err)
	}
	zw := gzip.NewWriter(f)
	enc := json.NewEncoder(zw)
	enc.SetEscapeHTML(false)
	for _, id := range ids {
		it := used[id]
		it.Label = "" // the pairs carry the labels that matter here
		if err := enc.Encode(it); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	pf, err := os.Create(filepath.Join("testdata", "neardup", "pairs.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	penc := json.NewEncoder(pf)
	for _, p := range pairs {
		if err := penc.Encode(p); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d items, %d pairs (uci same-story %d, topic %d, ambiguous %d; tg reposts %d, topic %d found)",
		len(ids), len(pairs), len(same), len(topic), len(ambiguous), len(reposts), len(tgTopic))
}

func readReplay(tb testing.TB, path string) []replayItem {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var sc *bufio.Scanner
	if strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(f)
		if err != nil {
			tb.Fatal(err)
		}
		sc = bufio.NewScanner(zr)
	} else {
		sc = bufio.NewScanner(f)
	}
	sc.Buffer(make([]byte, 1<<20), 8<<20)
	var out []replayItem
	for sc.Scan() {
		var it replayItem
		if err := json.Unmarshal(sc.Bytes(), &it); err != nil {
			tb.Fatal(err)
		}
		out = append(out, it)
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return out
}

// decorated reports whether the shorter token list (at least five words)
// equals the longer one, or the longer one with at most extra words added
// before or after it.
func decorated(a, b []string, extra int) bool {
	if len(a) > len(b) {
		a, b = b, a
	}
	if len(a) < 5 || len(b)-len(a) > extra {
		return false
	}
	return slices.Equal(a, b[:len(a)]) || slices.Equal(a, b[len(b)-len(a):])
}

func sharesRun(a, b []string, n int) bool {
	if len(a) < n || len(b) < n {
		return false
	}
	seen := map[string]bool{}
	for i := 0; i+n <= len(a); i++ {
		seen[strings.Join(a[i:i+n], " ")] = true
	}
	for i := 0; i+n <= len(b); i++ {
		if seen[strings.Join(b[i:i+n], " ")] {
			return true
		}
	}
	return false
}

func sharedLong(a, b []string, minRunes int) int {
	set := map[string]bool{}
	for _, w := range a {
		if len([]rune(w)) >= minRunes {
			set[w] = true
		}
	}
	n := 0
	for _, w := range b {
		if set[w] {
			n++
			delete(set, w)
		}
	}
	return n
}

// sample picks up to n pairs in an order fixed by their hash, so that a
// rebuild gives the same file.
func sample(ps [][2]int, n int) [][2]int {
	key := func(p [2]int) uint64 {
		h := fnv.New64a()
		h.Write([]byte{byte(p[0]), byte(p[0] >> 8), byte(p[0] >> 16), byte(p[1]), byte(p[1] >> 8), byte(p[1] >> 16)})
		return h.Sum64()
	}
	ps = slices.Clone(ps)
	sort.Slice(ps, func(i, j int) bool { return key(ps[i]) < key(ps[j]) })
	if len(ps) > n {
		ps = ps[:n]
	}
	return ps
}
