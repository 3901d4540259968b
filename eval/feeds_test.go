package eval

import (
	"cmp"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/newswire/newswire/ingest/rss"

	"github.com/newswire/newswire/normalize"
	"github.com/newswire/newswire/provenance"
	"github.com/newswire/newswire/synth"
	"github.com/newswire/newswire/wire"
)

// feedsExplain names a file for TestFeeds to write each clustering
// decision to, as `newswire eval --explain` does.
var feedsExplain = flag.String("explain", "", "TestFeeds: write one JSON line per clustering decision to this file")

// TestFeeds runs real feeds of four publishers, captured on one morning
// (testdata/feeds/README.md), through the normalizer and the synthesizer
// and scores the stories against hand labels (testdata/feeds/labels.json):
//
//   - stories that hold two reports of one publisher that the labels call
//     different, unrelated events;
//   - events that two publishers report that are split over stories.
//
// Both are counted, logged and held under ceilings (see maxMixed).
// Labelled events are concrete happenings, not topics. "related" sets in
// the labels name distinct happenings of one thread (the quake and an
// earthquake-safety explainer, the Hormuz statements of a week); one story
// holding two of them is logged, not failed.
func TestFeeds(t *testing.T) {
	dir := filepath.Join("testdata", "feeds")
	labels := readFeedLabels(t, filepath.Join(dir, "labels.json"))
	items := readFeedItems(t, dir, labels)
	events := labels.eventOf(t, items)

	// What the collector and the normalizer worker would hand on: the
	// seen-window drops an identity the source already published, exact
	// dedupe folds the same text at the same URL into the earlier entry.
	cfg := normalize.DefaultConfig()
	var entries []wire.Entry
	entryOf := make(map[string]string) // unit → entry id
	headline := make(map[string]string)
	byExact := make(map[string]string)
	published := make(map[string]bool)
	folded := 0
	for _, it := range items {
		msgKey := it.raw.Source + "\x00" + it.raw.NativeID
		if published[msgKey] {
			continue
		}
		published[msgKey] = true
		e, err := normalize.Normalize(cfg, it.raw, provenance.RawRef{})
		if err != nil {
			t.Errorf("%s: %v", it.ref, err)
			continue
		}
		if id, ok := byExact[e.Fingerprint.Exact]; ok {
			folded++
			if _, ok := entryOf[it.unit]; !ok {
				entryOf[it.unit] = id
			}
			continue
		}
		byExact[e.Fingerprint.Exact] = e.ID
		if _, ok := entryOf[it.unit]; !ok {
			entryOf[it.unit] = e.ID
		}
		headline[e.ID] = e.Headline
		entries = append(entries, e)
	}
	slices.SortStableFunc(entries, func(a, b wire.Entry) int { return a.PublishedAt.Compare(b.PublishedAt) })

	scfg := synth.DefaultConfig()
	if *feedsExplain != "" {
		w, err := os.Create(*feedsExplain)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		scfg.Explain = w
	}
	c, err := synth.NewClusterer(scfg)
	if err != nil {
		t.Fatal(err)
	}
	storyOf := make(map[string]string, len(entries))
	for _, e := range entries {
		storyOf[e.ID] = c.Add(e)
	}
	if err := c.ExplainErr(); err != nil {
		t.Errorf("-explain: %v", err)
	}

	// One line per labelled unit (an item of a publisher, however many of
	// its feeds carried it; the first copy stands for it), with the story
	// that holds it in the end.
	type unit struct {
		publisher, event, headline, story string
	}
	var units []unit
	seenUnit := make(map[string]bool)
	for _, it := range items {
		id, ok := entryOf[it.unit]
		if !ok || seenUnit[it.unit] {
			continue
		}
		seenUnit[it.unit] = true
		units = append(units, unit{
			publisher: it.publisher, event: events[it.unit],
			headline: headline[id], story: c.Survivor(storyOf[id]),
		})
	}
	byStory := make(map[string][]unit)
	for _, u := range units {
		byStory[u.story] = append(byStory[u.story], u)
	}
	stories := slices.Sorted(maps.Keys(byStory))
	line := func(u unit) string {
		ev := u.event
		if strings.HasPrefix(ev, ownEvent) {
			ev = "-"
		}
		return fmt.Sprintf("%-5s %-26s %s", labels.code[u.publisher], ev, u.headline)
	}

	// unrelatedPair reports whether two of us are reports of events the
	// labels neither share nor relate.
	unrelatedPair := func(us []unit) bool {
		for i := range us {
			for j := i + 1; j < len(us); j++ {
				if a, b := us[i].event, us[j].event; a != b && !labels.related(a, b) {
					return true
				}
			}
		}
		return false
	}

	// A story that mixes unrelated reports of one publisher.
	var tolerated []string
	// mixed counts (story, publisher) pairs: one story that mixes the
	// events of three publishers counts three; mixedStories counts it once.
	mixed, mixedStories, split := 0, 0, 0
	// mixedAny counts the stories that hold unrelated events whoever
	// published them: an editor sees a story about two things either way.
	mixedAny := 0
	for _, s := range stories {
		storyMixed := false
		us := byStory[s]
		if unrelatedPair(us) {
			mixedAny++
		}
		for _, pub := range distinct(us, func(u unit) string { return u.publisher }) {
			var mine []unit
			for _, u := range us {
				if u.publisher == pub {
					mine = append(mine, u)
				}
			}
			unrelated, related := false, false
			for i := range mine {
				for j := i + 1; j < len(mine); j++ {
					switch a, b := mine[i].event, mine[j].event; {
					case a == b:
					case labels.related(a, b):
						related = true
					default:
						unrelated = true
					}
				}
			}
			if !unrelated && !related {
				continue
			}
			var b strings.Builder
			fmt.Fprintf(&b, "story %s holds %d reports of %s:", s, len(mine), pub)
			for _, u := range mine {
				b.WriteString("\n\t" + line(u))
			}
			if unrelated {
				mixed++
				storyMixed = true
				t.Logf("different events of one publisher in one story: %s", b.String())
			} else {
				tolerated = append(tolerated, b.String())
			}
		}
		if storyMixed {
			mixedStories++
		}
	}

	// An event of two or more publishers that ended in several stories.
	for _, ev := range labels.Events {
		var mine []unit
		for _, u := range units {
			if u.event == ev.ID {
				mine = append(mine, u)
			}
		}
		if len(distinct(mine, func(u unit) string { return u.publisher })) < 2 {
			continue
		}
		parts := distinct(mine, func(u unit) string { return u.story })
		if len(parts) < 2 {
			continue
		}
		var b strings.Builder
		fmt.Fprintf(&b, "event %s (%d reports) is split over %d stories:", ev.ID, len(mine), len(parts))
		for _, s := range parts {
			fmt.Fprintf(&b, "\n\tstory %s (%d entries in all)", s, len(byStory[s]))
			for _, u := range mine {
				if u.story == s {
					b.WriteString("\n\t\t" + line(u))
				}
			}
		}
		split++
		t.Logf("%s", b.String())
	}

	multi, multiPublisher := 0, 0
	var b strings.Builder
	for _, s := range stories {
		us := byStory[s]
		if len(us) < 2 {
			continue
		}
		multi++
		if len(distinct(us, func(u unit) string { return u.publisher })) > 1 {
			multiPublisher++
		}
		fmt.Fprintf(&b, "\n\tstory %s (%d)", s, len(us))
		for _, u := range us {
			b.WriteString("\n\t\t" + line(u))
		}
	}
	gold := make([]string, len(units))
	pred := make([]string, len(units))
	for i, u := range units {
		gold[i], pred[i] = u.event, u.story
	}
	sc := Score(gold, pred)
	t.Logf("%d feed items, %d reports after dedupe (%d folded as exact copies), %d labelled events; %d stories, %d with more than one entry, %d with more than one publisher; BCubed P %.3f R %.3f F1 %.3f",
		len(items), len(units), folded, sc.Gold, len(stories), multi, multiPublisher, sc.BCubedPrecision, sc.BCubedRecall, sc.BCubedF1)
	t.Logf("stories with more than one entry:%s", b.String())
	for _, s := range tolerated {
		t.Logf("related events of one publisher in one story (tolerated): %s", s)
	}
	// The issue asks for no mixed story and no split event; the shipped
	// model does not get there (README.md, Evaluation: 1 story mixes
	// reports of one publisher; 5 events are split). These ceilings
	// hold it from getting worse, and a change that lowers the counts
	// should lower them too.
	t.Logf("stories mixing different events of one publisher: %d (%d counted by publisher); of any publishers: %d; events of several publishers split: %d", mixedStories, mixed, mixedAny, split)
	if mixed > maxMixed || mixedAny > maxMixedAny || split > maxSplit || sc.BCubedF1 < minFeedsF1 {
		t.Errorf("%d stories mixing one publisher's events, counted by publisher (at most %d), %d mixing any publishers' (at most %d), %d split events (at most %d), BCubed F1 %.3f (at least %.2f)",
			mixed, maxMixed, mixedAny, maxMixedAny, split, maxSplit, sc.BCubedF1, minFeedsF1)
	}
}

// What the shipped model scores on the captured feeds, less nothing: the
// counts are deterministic.
//
// Before the time gap stretched with a story's span: 1, 1, 5, 0.863
// (the Colombia quake in five stories, now two); before shared names
// stopped counting as shared words: 2, 2, 5, 0.857;
// before plain words backed names: 3, 3, 5, 0.846; before two one-report
// stories needed the join threshold to merge, 6 stories mixed any
// publishers' events.
const (
	maxMixed    = 1 // (story, publisher) pairs
	maxMixedAny = 1
	maxSplit    = 5
	minFeedsF1  = 0.88
)

// feedLabels is testdata/feeds/labels.json.
type feedLabels struct {
	Feeds []struct {
		File      string    `json:"file"`
		Source    string    `json:"source"`
		Publisher string    `json:"publisher"`
		Code      string    `json:"code"`
		Observed  time.Time `json:"observed"`
	} `json:"feeds"`
	Events []struct {
		ID    string   `json:"id"`
		Items []string `json:"items"`
	} `json:"events"`
	Related []struct {
		ID     string   `json:"id"`
		Events []string `json:"events"`
		Items  []string `json:"items"`
	} `json:"related"`

	// relatedSets holds, per related set, the events it names, items'
	// own events included.
	relatedSets []map[string]bool
	code        map[string]string // publisher → short code
}

// ownEvent prefixes the event of an item no label groups.
const ownEvent = "own:"

func readFeedLabels(t *testing.T, path string) *feedLabels {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var l feedLabels
	if err := json.Unmarshal(b, &l); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	l.code = make(map[string]string)
	for _, f := range l.Feeds {
		l.code[f.Publisher] = f.Code
	}
	return &l
}

// feedItem is one item of one captured feed as the RSS collector would
// publish it.
type feedItem struct {
	ref       string // file#identity, as labels.json names it
	unit      string // publisher and identity: the same report in two feeds of one publisher
	publisher string
	raw       wire.RawItem
}

// readFeedItems parses every feed the labels list, in the order listed
// (the order of capture), into the raw items the RSS collector would
// publish (rss.Items). Each item counts as observed when it was published
// (a collector polling every few minutes sees it then), but never after
// the capture: the synthesizer's clock runs on observed time, and a whole
// capture observed at one instant would keep every story of three days
// equally fresh.
func readFeedItems(t *testing.T, dir string, labels *feedLabels) []feedItem {
	t.Helper()
	var out []feedItem
	for _, f := range labels.Feeds {
		body, err := os.ReadFile(filepath.Join(dir, f.File))
		if err != nil {
			t.Fatal(err)
		}
		raws, err := rss.Items(rss.Feed{ID: f.Source, Code: f.Code, Name: f.Publisher}, body, f.Observed)
		if err != nil {
			t.Fatalf("%s: %v", f.File, err)
		}
		for _, raw := range raws {
			if at, err := normalize.ParseTime(cmp.Or(raw.Published, raw.Updated)); err == nil && at.Before(f.Observed) {
				raw.ObservedAt = at
			}
			out = append(out, feedItem{
				ref:       f.File + "#" + raw.NativeID,
				unit:      f.Publisher + "\x00" + raw.NativeID,
				publisher: f.Publisher,
				raw:       raw,
			})
		}
	}
	return out
}

// eventOf gives every item's unit its event: the labelled one, else one
// of its own. It fails on a label that names no item, so that a typo
// cannot quietly drop a report from the checks.
func (l *feedLabels) eventOf(t *testing.T, items []feedItem) map[string]string {
	t.Helper()
	unitOf := make(map[string]string, len(items))
	for _, it := range items {
		unitOf[it.ref] = it.unit
	}
	resolve := func(ref string) string {
		u, ok := unitOf[ref]
		if !ok {
			t.Fatalf("labels.json names %q, which no feed holds", ref)
		}
		return u
	}
	events := make(map[string]string, len(items))
	for _, ev := range l.Events {
		for _, ref := range ev.Items {
			u := resolve(ref)
			if prev, ok := events[u]; ok && prev != ev.ID {
				t.Fatalf("labels.json puts %q in %s and %s", ref, prev, ev.ID)
			}
			events[u] = ev.ID
		}
	}
	for _, it := range items {
		if _, ok := events[it.unit]; !ok {
			events[it.unit] = ownEvent + it.ref
		}
	}
	for _, r := range l.Related {
		set := make(map[string]bool)
		for _, ev := range r.Events {
			set[ev] = true
		}
		for _, ref := range r.Items {
			set[events[resolve(ref)]] = true
		}
		l.relatedSets = append(l.relatedSets, set)
	}
	return events
}

// related reports whether one related set names both events.
func (l *feedLabels) related(a, b string) bool {
	for _, set := range l.relatedSets {
		if set[a] && set[b] {
			return true
		}
	}
	return false
}

func distinct[T any](xs []T, key func(T) string) []string {
	var out []string
	for _, x := range xs {
		if k := key(x); !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out
}
