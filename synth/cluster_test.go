package synth

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/newswire/newswire/provenance"
	"github.com/newswire/newswire/wire"
)

var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

func entry(id, source, headline, text string, minute int) wire.Entry {
	at := t0.Add(time.Duration(minute) * time.Minute)
	return wire.Entry{
		Schema: wire.SchemaEntry, ID: id, Headline: headline, Text: text,
		Source:      provenance.Source{ID: source, Kind: "rss", Code: source},
		URL:         "https://" + source + ".example/" + id,
		PublishedAt: at, ObservedAt: at.Add(30 * time.Second), LagSeconds: 30,
		Raw: provenance.RawRef{Stream: "WIRE_RAW", Seq: uint64(minute + 1), MsgID: "rss:" + source + ":" + id},
	}
}

// noJoins is a join threshold no pair of the tests reaches: the model is
// confident, and two rewordings of one headline often score 0.9999 or
// more, so a threshold like 0.95 still lets them join. With it every
// report founds its own story, and only merges bring stories together.
const noJoins = 1 - 1e-9

func newTestClusterer(t testing.TB) *Clusterer {
	t.Helper()
	c, err := NewClusterer(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// background gives the clusterer document frequencies, as a live wire would.
func background(c *Clusterer) {
	topics := []string{
		"Central bank raises interest rates to fight inflation",
		"Football club signs striker in record transfer deal",
		"Storm brings heavy snow and flight cancellations",
		"Tech company unveils new smartphone with folding screen",
		"Parliament debates budget as opposition walks out",
	}
	for i, h := range topics {
		c.Add(entry(fmt.Sprintf("ebg%d", i), "bg", h, h, -60+i))
	}
}

// Each case is a small stream and which entries must share a story.
func TestClusterCases(t *testing.T) {
	cases := []struct {
		name     string
		entries  []wire.Entry
		together [][]string // groups that must each be one story
		apart    [][2]string
	}{
		{
			name: "english rewording joins, other topic stays apart",
			entries: []wire.Entry{
				entry("ea1", "bbc", "Earthquake of magnitude 7.1 strikes off Japan's Fukushima coast", "", 0),
				entry("ea2", "reuters", "Magnitude 7.1 quake hits off Fukushima, Japan issues tsunami warning", "", 4),
				entry("ea3", "ap", "Japan: strong earthquake near Fukushima triggers tsunami alert", "", 9),
				entry("eb1", "cnn", "Senate passes farm subsidies bill after long debate", "", 10),
			},
			together: [][]string{{"ea1", "ea2", "ea3"}},
			apart:    [][2]string{{"ea1", "eb1"}},
		},
		{
			name: "russian inflections meet after stemming",
			entries: []wire.Entry{
				entry("er1", "tass", "Выборы президента Молдовы пройдут в ноябре", "", 0),
				entry("er2", "ria", "ЦИК Молдовы назначил выборы президента на ноябрь", "", 3),
				entry("er3", "meduza", "В Молдове на выборах президента лидирует Санду", "", 8),
				entry("er4", "rbc", "Курс доллара на бирже опустился ниже 90 рублей", "", 9),
			},
			together: [][]string{{"er1", "er2", "er3"}},
			apart:    [][2]string{{"er1", "er4"}},
		},
		{
			name: "chinese bigrams",
			entries: []wire.Entry{
				entry("ec1", "xinhua", "台风海葵登陆福建沿海地区", "", 0),
				entry("ec2", "cctv", "台风海葵在福建登陆 多地停课", "", 5),
				entry("ec3", "sina", "央行宣布下调存款准备金率", "", 6),
			},
			together: [][]string{{"ec1", "ec2"}},
			apart:    [][2]string{{"ec1", "ec3"}},
		},
		{
			name: "arabic stemming",
			entries: []wire.Entry{
				entry("ar1", "aljazeera", "زلزال بقوة 6 درجات يضرب المغرب", "", 0),
				entry("ar2", "alarabiya", "المغرب: زلزال قوي يضرب مراكش", "", 5),
				entry("ar3", "bbcarabic", "ارتفاع أسعار النفط في الأسواق العالمية", "", 6),
			},
			together: [][]string{{"ar1", "ar2"}},
			apart:    [][2]string{{"ar1", "ar3"}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newTestClusterer(t)
			background(c)
			for _, e := range tc.entries {
				c.Add(e)
			}
			for _, g := range tc.together {
				want, _ := c.StoryOf(g[0])
				for _, id := range g[1:] {
					if got, _ := c.StoryOf(id); got != want {
						t.Errorf("%s is in %s, want %s with %s", id, got, want, g[0])
					}
				}
			}
			for _, p := range tc.apart {
				a, _ := c.StoryOf(p[0])
				b, _ := c.StoryOf(p[1])
				if a == b {
					t.Errorf("%s and %s share story %s", p[0], p[1], a)
				}
			}
		})
	}
}

func TestDuplicateJoinsWithoutMovingCentroid(t *testing.T) {
	c := newTestClusterer(t)
	background(c)
	// The headline shares no word with the background: "flights" meets
	// its "flight cancellations", and the model lets one shared word of
	// two short headlines join.
	id := c.Add(entry("e1", "bbc", "Volcano erupts in Iceland, Keflavik airport closed", "", 0))
	if id != StoryID("e1") {
		t.Fatalf("e1 joined %s; the test needs it to found its own story", id)
	}
	s := c.stories[id]
	norm := s.norm2
	dup := entry("e2", "mirror", "Volcano erupts in Iceland; Keflavik airport closed", "", 2)
	dup.DuplicateOf = "e1"
	rep := entry("e3", "tg", "Forwarded", "", 3)
	rep.RepostOf = "e1"
	if got := c.Add(dup); got != id {
		t.Fatalf("duplicate went to %s, want %s", got, id)
	}
	if got := c.Add(rep); got != id {
		t.Fatalf("repost went to %s, want %s", got, id)
	}
	if s.norm2 != norm {
		t.Errorf("centroid moved: norm² %v → %v", norm, s.norm2)
	}
	// A "duplicate" that shares nothing with its original's story is a
	// false near-duplicate match: it is clustered on its own words.
	odd := entry("e4", "x", "Central bank raises interest rates again to fight inflation", "", 4)
	odd.DuplicateOf = "e1"
	if got := c.Add(odd); got == id {
		t.Errorf("an unrelated entry marked duplicate joined %s", id)
	}
	st, _ := c.Snapshot(id)
	if st.Counts.Entries != 3 || st.Counts.Origins != 1 || st.Counts.Sources != 3 {
		t.Errorf("counts %+v, want 3 entries, 1 origin, 3 sources", st.Counts)
	}
	roles := map[string]provenance.Role{}
	for _, r := range st.Provenance {
		roles[r.EntryID] = r.Role
	}
	if roles["e1"] != provenance.RoleOrigin || roles["e2"] != provenance.RoleDuplicate || roles["e3"] != provenance.RoleRepost {
		t.Errorf("roles %v", roles)
	}
}

func TestWithdrawalLeavesProvenanceAndCounts(t *testing.T) {
	c := newTestClusterer(t)
	background(c)
	id := c.Add(entry("e1", "tg1", "Explosion reported at chemical plant near Leverkusen", "", 0))
	c.Add(entry("e2", "dw", "Blast at Leverkusen chemical plant, residents told to stay indoors", "", 6))
	c.TakeDirty()
	w := entry("e1", "tg1", "", "", 0)
	w.Withdrawn = true
	if got := c.Add(w); got != id {
		t.Fatalf("withdrawal went to %s, want %s", got, id)
	}
	if d := c.TakeDirty(); len(d) != 1 || d[0] != id {
		t.Fatalf("withdrawal did not mark the story changed: %v", d)
	}
	st, _ := c.Snapshot(id)
	if len(st.Provenance) != 2 || !st.Provenance[0].Withdrawn {
		t.Fatalf("provenance %+v, want both entries with e1 withdrawn", st.Provenance)
	}
	if st.Counts.Entries != 1 || st.FirstReport.EntryID != "e2" {
		t.Errorf("counts %+v first report %s: the withdrawn entry still counts", st.Counts, st.FirstReport.EntryID)
	}
	for _, b := range st.Brief {
		for _, cite := range b.Cites {
			if cite == "e1" {
				t.Errorf("brief cites the withdrawn entry: %+v", b)
			}
		}
	}
}

func TestSnapshotBriefTrailAndSingleSource(t *testing.T) {
	c := newTestClusterer(t)
	background(c)
	id := c.Add(entry("e1", "AFP", "Ferry sinks off Greek island of Lesbos",
		`Ferry sinks off Greek island of Lesbos. The coast guard said 41 people were rescued from the water. "We are still searching for survivors," a coast guard spokesman said.`, 0))
	c.Add(entry("e2", "REUTERS", "Greek coast guard rescues 41 after ferry sinks near Lesbos",
		"Greek coast guard rescues 41 after ferry sinks near Lesbos. The ferry carried 57 passengers, the port authority said.", 12))
	c.Add(entry("e3", "AP", "Ferry sinking near Lesbos: coast guard rescues dozens", "", 30))
	st, _ := c.Snapshot(id)
	if st.FirstReport.EntryID != "e1" || st.FirstReport.LagSeconds != 30 {
		t.Errorf("first report %+v", st.FirstReport)
	}
	trail := map[string]float64{}
	for _, tr := range st.FirstReport.Trail {
		trail[tr.Source] = tr.Minutes
	}
	if trail["REUTERS"] != 12 || trail["AP"] != 30 {
		t.Errorf("trail %+v, want REUTERS 12 and AP 30 minutes", st.FirstReport.Trail)
	}
	if n := len(st.Brief); n < 1 || n > 3 {
		t.Fatalf("brief has %d sentences", n)
	}
	members := map[string]bool{"e1": true, "e2": true, "e3": true}
	for _, b := range st.Brief {
		if len(b.Cites) == 0 {
			t.Errorf("uncited brief sentence %q", b.Text)
		}
		for _, cite := range b.Cites {
			if !members[cite] {
				t.Errorf("brief cites %s, not a member", cite)
			}
		}
	}
	single := map[string]string{}
	for _, cl := range st.SingleSource {
		single[cl.Text] = cl.EntryID
	}
	if single["57"] != "e2" {
		t.Errorf("57 passengers is only in e2; single-source claims %+v", st.SingleSource)
	}
	if _, ok := single["41"]; ok {
		t.Errorf("41 is corroborated by two origins; single-source claims %+v", st.SingleSource)
	}
	if single["We are still searching for survivors,"] != "e1" {
		t.Errorf("the quote is only in e1; single-source claims %+v", st.SingleSource)
	}
	for _, cl := range st.SingleSource {
		if cl.Text == "57" && cl.Context != "The ferry carried 57 passengers, the port authority said." {
			t.Errorf("57 is shown in %q, want its sentence", cl.Context)
		}
	}
}

// Five posts of one channel are one independent voice: the story counts
// independent sources, not independent posts, and its headline is the
// earliest origin's, not a later, more central rewording.
func TestIndependentCountsSourcesAndHeadlineIsFirstReport(t *testing.T) {
	c := newTestClusterer(t)
	background(c)
	id := c.Add(entry("e1", "chan", "Ferry sinks off Lesbos", "Ferry sinks off Lesbos.", 0))
	for i, h := range []string{
		"Ferry sinks off Greek island of Lesbos, coast guard rescues 41",
		"Greek coast guard: ferry sinks off Lesbos, 41 rescued",
		"Lesbos ferry sinking: coast guard still searching",
		"Ferry sinks off Lesbos: coast guard rescues 41 passengers",
	} {
		c.Add(entry(fmt.Sprintf("e%d", i+2), "chan", h, h, 5*(i+1)))
	}
	c.Add(entry("e6", "AFP", "Greek coast guard rescues 41 after ferry sinks off Lesbos", "", 40))
	c.Add(entry("e7", "AP", "Ferry sinks off Greek island of Lesbos; 41 rescued by coast guard", "", 50))
	st, _ := c.Snapshot(id)
	if st.Counts.Entries != 7 || st.Counts.Sources != 3 || st.Counts.Origins != 3 {
		t.Errorf("counts %+v, want 7 entries from 3 sources, 3 independent", st.Counts)
	}
	if st.Counts.Origins > st.Counts.Sources {
		t.Errorf("more independent origins (%d) than sources (%d)", st.Counts.Origins, st.Counts.Sources)
	}
	if st.Headline != "Ferry sinks off Lesbos" || st.FirstReport.EntryID != "e1" {
		t.Errorf("headline %q, first report %s; want the first report's headline", st.Headline, st.FirstReport.EntryID)
	}
}

// Two reports of one fire that a strict join threshold kept apart: an
// entry both stories would take links them, every member of each would
// join the other at merge_threshold, and they merge; the younger story
// publishes a pointer to the older.
func TestMergePublishesPointer(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Threshold, cfg.MergeThreshold = 0.99, 0.3
	cfg.MergePassInterval = 0 // only the linked merge is under test
	c, err := NewClusterer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	background(c)
	a := c.Add(entry("e1", "x", "Wildfire near Los Angeles forces thousands to evacuate", "", 0))
	b := c.Add(entry("e2", "y", "Evacuations ordered as fire spreads in Los Angeles hills", "", 1))
	if a == b {
		t.Fatal("the two reports already share a story; the test proves nothing")
	}
	// Two stories of one report each merge only as a join would: the
	// bridge below is what lets these two agree.
	sa, sb := c.stories[a], c.stories[b]
	if c.agree(sa, sb) {
		t.Fatal("the two one-report stories agree under the join threshold; the merge below proves nothing")
	}
	before := c.Changes()
	got := c.Add(entry("e3", "z", "Los Angeles wildfire spreads, thousands forced to evacuate as evacuations are ordered", "", 2))
	if got != a {
		t.Fatalf("bridging entry went to %s, want the older story %s", got, a)
	}
	if d := c.Changes(); d.Merged-before.Merged != 1 || d.Founded != before.Founded || d.Stale != before.Stale {
		t.Errorf("story changes went from %+v to %+v, want one more merged and nothing else", before, d)
	}
	st, ok := c.Snapshot(b)
	if !ok || st.Status != wire.StatusMerged || st.MergedInto != a {
		t.Fatalf("merged-away story: status %q merged_into %q, want merged into %s", st.Status, st.MergedInto, a)
	}
	if s, _ := c.StoryOf("e2"); s != a {
		t.Errorf("e2 is in %s after the merge, want %s", s, a)
	}
	if s, _ := c.StoryOf("ebg0"); s == a {
		t.Errorf("the unrelated background story was merged into %s", a)
	}
}

// One entry that mentions two events, and that both their stories would
// take, does not merge them: the members of the one would not join the
// other.
func TestOneLinkDoesNotMergeDisagreeingStories(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Threshold, cfg.MergeThreshold = 0.5, 0.5
	cfg.MergePassInterval = 0 // only the linked merge is under test
	c, err := NewClusterer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	background(c)
	for _, e := range []wire.Entry{
		entry("h1", "x", "Hurricane Maria damages power grid in Puerto Rico", "", 0),
		entry("h2", "y", "Puerto Rico power grid crippled after hurricane Maria", "", 1),
		entry("w1", "z", "Wildfire near Los Angeles forces thousands to evacuate", "", 2),
		entry("w2", "q", "Los Angeles wildfire spreads as evacuations are ordered", "", 3),
	} {
		c.Add(e)
	}
	hurricane, fire := must(c.StoryOf("h1")), must(c.StoryOf("w1"))
	if hurricane == fire || must(c.StoryOf("h2")) != hurricane || must(c.StoryOf("w2")) != fire {
		t.Fatalf("stories %s %s %s %s, want the hurricane reports in one and the fire reports in another",
			must(c.StoryOf("h1")), must(c.StoryOf("h2")), must(c.StoryOf("w1")), must(c.StoryOf("w2")))
	}
	link := entry("l1", "r", "FEMA stretched by hurricane Maria power grid damage in Puerto Rico and Los Angeles wildfire evacuations", "", 4)
	// Both stories would take the link: a merge is on the table.
	takers := 0
	for _, x := range c.score(c.vector(link), link.PublishedAt, false) {
		if (x.s.id == hurricane || x.s.id == fire) && x.score >= cfg.Threshold {
			takers++
		}
	}
	if takers != 2 {
		t.Fatalf("%d of the two stories would take the link; the test proves nothing", takers)
	}
	got := c.Add(link)
	if got != hurricane && got != fire {
		t.Fatalf("the link went to %s, neither event's story", got)
	}
	if h, w := must(c.StoryOf("h1")), must(c.StoryOf("w1")); h == w {
		t.Fatalf("the link merged the hurricane and the fire into %s", h)
	}
	for _, id := range []string{hurricane, fire} {
		if st, _ := c.Snapshot(id); st.Status == wire.StatusMerged {
			t.Errorf("story %s merged into %s", id, st.MergedInto)
		}
	}
}

func TestDeterministicIDs(t *testing.T) {
	stream := []wire.Entry{}
	for i := range 300 {
		topic := i % 7
		stream = append(stream, entry(fmt.Sprintf("e%03d", i), fmt.Sprintf("src%d", i%11),
			fmt.Sprintf("Topic%d event keyword%d update %d", topic, topic*3, i%5), "", i))
	}
	run := func() []string {
		c := newTestClusterer(t)
		out := make([]string, len(stream))
		for i, e := range stream {
			out[i] = c.Add(e)
		}
		for i, e := range stream {
			out[i], _ = c.StoryOf(e.ID)
		}
		return out
	}
	a, b := run(), run()
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("entry %d: story %s then %s", i, a[i], b[i])
		}
	}
}

// The merge pass must bring together two threads that a join kept apart
// when their centroids agree, keep the older id, and leave unrelated
// stories alone.
func TestMergePassJoinsFragment(t *testing.T) {
	const join, merge = 0.9, 0.3
	stream := []wire.Entry{
		entry("e1", "x", "Hurricane Maria damages power grid in Puerto Rico", "", 0),
		entry("e2", "y", "Maria leaves island in the dark", "", 1),
		entry("e3", "z", "Hurricane Maria damages power grid in Puerto Rico", "", 2),
		entry("e4", "w", "Tech company unveils new smartphone with folding screen", "", 3),
	}
	run := func(every time.Duration, stream []wire.Entry) *Clusterer {
		cfg := DefaultConfig()
		cfg.Threshold = join
		cfg.MergePassInterval, cfg.MergeThreshold, cfg.MergePassMaxSize = every, merge, 10
		c, err := NewClusterer(cfg)
		if err != nil {
			t.Fatal(err)
		}
		background(c)
		for _, e := range stream {
			c.Add(e)
		}
		return c
	}
	off := run(0, stream)
	if a, _ := off.StoryOf("e1"); a == must(off.StoryOf("e2")) {
		t.Fatal("without the pass the two reports already share a story; the test proves nothing")
	}
	if a, _ := off.StoryOf("e1"); a != must(off.StoryOf("e3")) {
		t.Fatal("the copy of e1 did not join it; the test proves nothing")
	}
	// The rewording lies between the merge and the join threshold: two
	// stories of one report each do not merge on it (that would be the
	// join e2 was refused), ...
	pair := []wire.Entry{stream[0], stream[1], stream[3]} // e4 brings a pass after e2
	apart := run(0, pair)
	s1 := apart.stories[must(apart.StoryOf("e1"))]
	if p := apart.scoreStory(s1, apart.vector(stream[1]), s1.first, false); p < merge || p >= join {
		t.Fatalf("e2 scores %.4f against e1's story, want it in [%v, %v): the test proves nothing", p, merge, join)
	}
	alone := run(time.Minute, pair)
	if a, _ := alone.StoryOf("e1"); a == must(alone.StoryOf("e2")) {
		t.Fatal("two one-report stories merged under the join threshold")
	}
	// ... but once e1's story holds two reports, every report of each
	// story would join the other at the merge threshold, and the pass
	// merges them.
	on := run(time.Minute, stream) // the reports are a minute apart: a pass between each
	a, b := must(on.StoryOf("e1")), must(on.StoryOf("e2"))
	if a != b || a != StoryID("e1") {
		t.Fatalf("with the pass e1 is in %s and e2 in %s, want both in %s", a, b, StoryID("e1"))
	}
	if st, ok := on.Snapshot(StoryID("e2")); !ok || st.Status != wire.StatusMerged || st.MergedInto != a {
		t.Fatalf("merged-away story: status %q merged_into %q, want merged into %s", st.Status, st.MergedInto, a)
	}
	if on.Survivor(StoryID("e2")) != a {
		t.Errorf("Survivor(%s) = %s, want %s", StoryID("e2"), on.Survivor(StoryID("e2")), a)
	}
	if s := must(on.StoryOf("e4")); s == a {
		t.Error("unrelated e4 was merged into the hurricane story")
	}
}

func must(id string, ok bool) string {
	if !ok {
		return "<none>"
	}
	return id
}

// The worker forgets a story once its final snapshot is out; a merge pass
// queued before that must skip it rather than follow a pointer to nothing.
func TestMergePassSkipsForgottenStories(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Threshold = noJoins
	cfg.MergePassInterval, cfg.MergeThreshold = time.Minute, 0.3
	c, err := NewClusterer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.Add(entry("e1", "x", "Hurricane Maria damages power grid in Puerto Rico", "", 0))
	c.Add(entry("e2", "y", "Puerto Rico power grid crippled after hurricane Maria", "", 1))
	// e2's story is queued for the pass; merge it away by hand and forget
	// both the survivor and the merged story, as the worker would.
	s1, s2 := c.stories[StoryID("e1")], c.stories[StoryID("e2")]
	c.merge(s1, s2)
	s1.active = false
	c.Forget(s2.id)
	c.Forget(s1.id)
	c.Add(entry("e3", "z", "Football club signs striker in record transfer deal", "", 2))
	if got := must(c.StoryOf("e3")); got != StoryID("e3") {
		t.Fatalf("e3 in %s, want its own story", got)
	}
}

func TestWithdrawalOfUnheldEntryOpensNoStory(t *testing.T) {
	c := newTestClusterer(t)
	background(c)
	id := c.Add(entry("e9f01", "tg1", "Ferry capsizes off Lesbos, coastguard searching for survivors", "", 0))
	// A day and more of other news: the ferry story goes stale (expiry
	// runs when the stream clock enters a new minute) and the worker forgets it.
	for i := range 256 {
		e := entry(fmt.Sprintf("e9fa%03d", i), "dw", "Central bank leaves rates unchanged", "", 0)
		e.ObservedAt = e.ObservedAt.Add(2 * c.cfg.StaleAfter)
		c.Add(e)
	}
	if _, held := c.StoryOf("e9f01"); held {
		t.Fatalf("story %s did not go stale", id)
	}
	c.Forget(id)
	c.TakeDirty()
	stories, entries := c.Len()

	forgotten := entry("e9f01", "tg1", "", "", 0)
	forgotten.Withdrawn = true
	unknown := entry("e9f00", "tg1", "", "", 0) // never seen
	unknown.Withdrawn = true
	for _, w := range []wire.Entry{forgotten, unknown} {
		if got := c.Add(w); got != "" {
			t.Errorf("withdrawal of %s went to story %q", w.ID, got)
		}
		if _, held := c.StoryOf(w.ID); held {
			t.Errorf("withdrawn entry %s is held", w.ID)
		}
	}
	if d := c.TakeDirty(); len(d) != 0 {
		t.Errorf("withdrawals changed stories %v", d)
	}
	if s, n := c.Len(); s != stories || n != entries {
		t.Errorf("after the withdrawals %d stories and %d entries, before %d and %d", s, n, stories, entries)
	}
}

func TestClaimsSkipTimesOfDay(t *testing.T) {
	var got []string
	for _, c := range claims(`At 19:17 and again at 7:30:05 the plant reported 1,200 tonnes; the 2:1 vote and 12:345 stand.`) {
		got = append(got, c.text)
	}
	want := []string{"1,200", "12", "345"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("claims %q, want %q", got, want)
	}
}

// Long posts must not stay in memory whole: the clusterer keeps a snippet
// and its terms, and neither may be a slice of the original text.
func TestLongTextsAreNotRetained(t *testing.T) {
	c := newTestClusterer(t)
	const n, size = 100, 200 << 10
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range n {
		words := make([]byte, 0, size)
		for k := 0; len(words) < size; k++ {
			words = fmt.Appendf(words, "Word%dx%d ", i, k)
		}
		e := entry(fmt.Sprintf("elong%d", i), "src", fmt.Sprintf("Headline number %d about plants", i), string(words), i)
		c.Add(e)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if grown := int64(after.HeapAlloc) - int64(before.HeapAlloc); grown > n*size/2 {
		t.Fatalf("heap grew by %d bytes for %d texts of %d bytes: texts are kept whole", grown, n, size)
	}
	runtime.KeepAlive(c)
}

// TestReachBoundsEveryMember checks the bound that lets score skip a
// story's members: no recent member of any active story may have a
// larger cosine with an entry than what the entry shares with the
// story's centroid allows, stories grown by joins and by merges alike.
func TestReachBoundsEveryMember(t *testing.T) {
	low := DefaultConfig()
	// Below 1/e a slug-only or headline-only term's log-scaled frequency
	// would be negative; the bound needs no weight to be.
	low.SlugWeight, low.TitleWeight = 0.2, 0.3
	for _, cfg := range []Config{DefaultConfig(), low} {
		reachBoundsEveryMember(t, cfg)
	}
}

func reachBoundsEveryMember(t *testing.T, cfg Config) {
	c, err := NewClusterer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	g := newSynthetic(7)
	for range 4000 {
		c.Add(g.next())
	}
	checked, tight := 0, 0
	for range 200 {
		vec := c.vector(g.next())
		for _, s := range c.stories {
			if !s.active {
				continue
			}
			var r reach
			for _, x := range vec {
				r.add(x.w, s.weight(x.h, x.t))
			}
			for _, m := range s.recent {
				for _, x := range m {
					if x.w < 0 {
						t.Fatalf("story %s: a member's term %s weighs %v", s.id, x.t, x.w)
					}
				}
				near := dotVec(vec, m)
				if near > r.bound()*(1+1e-9) {
					t.Fatalf("story %s: member cosine %v over the bound %v", s.id, near, r.bound())
				}
				checked++
				if near > 0 && near > 0.5*r.bound() {
					tight++
				}
			}
		}
	}
	if checked == 0 || tight == 0 {
		t.Fatalf("checked %d member cosines, %d near the bound: the stream exercises nothing", checked, tight)
	}
}

// TestTermTableFindsEveryPlace fills one story's term table far past
// several doublings, with terms that share a hash (kept in clash), share
// the high half of a hash, or land on the same first cell, and checks
// that every term is found at its place and that absent ones are not.
func TestTermTableFindsEveryPlace(t *testing.T) {
	c, err := NewClusterer(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	s := &story{id: "s1", active: true}
	c.number(s)
	var vec []term
	for i := range 300 {
		h := uint64(i%7)<<32 | uint64(i%13) // many tags and first cells alike
		vec = append(vec, term{h: h, t: fmt.Sprintf("t%d", i), w: 1})
	}
	sortTerms(vec)
	c.addCentroid(s, vec)
	if len(s.ct) != len(vec) {
		t.Fatalf("%d places for %d terms", len(s.ct), len(vec))
	}
	for _, x := range vec {
		i, ok := s.find(x.h, x.t)
		if !ok || s.ct[i] != x.t {
			t.Fatalf("term %s (hash %x): place %d, found %v", x.t, x.h, i, ok)
		}
	}
	if len(s.clash) == 0 {
		t.Fatal("no term shared a hash: the clash path went untested")
	}
	for _, probe := range []term{{h: 3<<32 | 5, t: "absent"}, {h: 99, t: "t1"}, {h: 1<<40 | 1, t: "t1"}} {
		if i, ok := s.find(probe.h, probe.t); ok {
			t.Fatalf("absent term %s (hash %x) found at %d", probe.t, probe.h, i)
		}
	}
}

// TestCoherenceIsMeanPairwiseCosine checks the closed form against the
// pairs themselves.
func TestCoherenceIsMeanPairwiseCosine(t *testing.T) {
	c, err := NewClusterer(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	s := &story{id: "s1", active: true}
	c.number(s)
	heads := []string{
		"Ukraine war drones strike oil depot",
		"Ukraine talks stall in Geneva",
		"Drones strike power plant near front",
		"Oil depot fire burns for second day",
	}
	var vecs [][]term
	for i, h := range heads {
		v := c.vector(entry(fmt.Sprintf("e%d", i), "x", h, "", i))
		vecs = append(vecs, v)
		c.addCentroid(s, v)
		s.reports++
	}
	var sum float64
	pairs := 0
	for i := range vecs {
		for j := range vecs {
			if i != j {
				sum += dotVec(vecs[i], vecs[j])
				pairs++
			}
		}
	}
	if want := sum / float64(pairs); math.Abs(s.coherence()-want) > 1e-12 {
		t.Fatalf("coherence %v, mean pairwise cosine %v", s.coherence(), want)
	}
}

// TestTopicStoryTakesNothing builds a story of a dozen reports that share
// one word and nothing else (a topic, not an event): it takes no new
// report and no story merges with it, at any threshold. With loose
// stories turned off (min_coherence 0), the same report joins it, which
// is what shows the rule at work.
func TestTopicStoryTakesNothing(t *testing.T) {
	report := entry("frag", "y", "Kyiv metro stations shelter residents", "", 20)
	run := func(minCoherence float64) (c *Clusterer, topic, frag *story) {
		cfg := DefaultConfig()
		cfg.MergePassInterval = 0
		cfg.MinCoherence = minCoherence
		cfg.Threshold = noJoins // the topic is built by merges
		c, topic = looseStory(t, cfg)
		// A join threshold the report clears for the topic.
		p := c.scoreStory(topic, c.vector(report), topic.last, false)
		if p <= 0 {
			t.Fatalf("the report scores %v against the topic; the test proves nothing", p)
		}
		c.cfg.Threshold = p / 2
		c.Add(report)
		return c, topic, c.byEntry["frag"]
	}
	c, topic, frag := run(0.08)
	if !c.loose(topic) {
		t.Fatalf("the topic (coherence %v) is not loose; the test proves nothing", topic.coherence())
	}
	if frag == topic {
		t.Error("the topic story took a new report")
	}
	c.cfg.MergeThreshold = 1e-9 // every member votes for anything
	if !c.votes(frag, topic) || !c.votes(topic, frag) {
		t.Fatal("the stories' members do not vote for each other; the test proves nothing")
	}
	if c.agree(frag, topic) || c.agree(topic, frag) {
		t.Error("the topic and the report's story agree to merge")
	}

	if _, topic, frag := run(0); frag != topic {
		t.Fatal("with loose stories off the report did not join the topic; the test proves nothing")
	}
}

// TestLooseStoryIsAFeature: a story of coherenceReports or more reports
// whose members have little in common is loose, and the model is told
// so; a tight story of one event is not, nor is any story with
// min_coherence off.
func TestLooseStoryIsAFeature(t *testing.T) {
	loose := func(minCoherence float64) (topic, event float64) {
		cfg := DefaultConfig()
		cfg.Threshold = noJoins
		cfg.MergePassInterval = 0
		cfg.MinCoherence = minCoherence
		c, ls := looseStory(t, cfg)
		if ls.coherence() >= 0.08 {
			t.Fatalf("the topic story's coherence is %v; the test proves nothing", ls.coherence())
		}
		var ts *story
		for i := range coherenceReports {
			id := fmt.Sprintf("t%d", i)
			c.Add(entry(id, fmt.Sprintf("z%d", i), "Drone strike sets Kyiv refinery on fire as blaze burns", "", 30+i))
			if ts == nil {
				ts = c.byEntry[id]
			} else if s := c.byEntry[id]; s != ts {
				c.merge(ts, s)
			}
		}
		if ts == ls || ts.reports < coherenceReports {
			t.Fatalf("the refinery story has %d reports; the test proves nothing", ts.reports)
		}
		vec := c.vector(entry("n", "w", "Kyiv refinery fire", "", 45))
		q := c.query(vec, t0.Add(45*time.Minute), false)
		lf, _ := c.pairFeatures(ls, &q, 0)
		tf, _ := c.pairFeatures(ts, &q, 0)
		return lf[featLoose], tf[featLoose]
	}
	if topic, event := loose(0.08); topic != 1 || event != 0 {
		t.Errorf("loose_story %v for the topic and %v for the event, want 1 and 0", topic, event)
	}
	if topic, event := loose(0); topic != 0 || event != 0 {
		t.Errorf("with min_coherence off, loose_story %v for the topic and %v for the event, want 0 and 0", topic, event)
	}
}

// looseStory builds, by hand, a story of a dozen reports that share one
// word and nothing else: a topic, not an event.
func looseStory(t *testing.T, cfg Config) (*Clusterer, *story) {
	t.Helper()
	c, err := NewClusterer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	background(c)
	others := []string{
		"grain exports reach record harvest levels", "energy grid repairs continue after winter",
		"peace talks open with envoys from Turkey", "prisoner exchange frees dozens of soldiers",
		"drone strike hits refinery near coast", "border crossing queues stretch for miles",
		"aid package approved by parliament vote", "refugee camp expands as families arrive",
		"tank delivery delayed by factory strike", "sanctions list adds shipping firms",
		"ceasefire proposal rejected by commanders", "nuclear plant inspectors report damage",
	}
	var loose *story
	for i, o := range others {
		id := fmt.Sprintf("e%d", i)
		c.Add(entry(id, "x", "Kyiv "+o, "", i))
		s := c.byEntry[id]
		if loose == nil {
			loose = s
		} else {
			c.merge(loose, s)
		}
	}
	return c, loose
}

// TestBigStoriesWaitLongerBetweenSnapshots: a changed story is due
// SnapshotInterval after its last snapshot, or, when that snapshot was
// big, after its size ÷ storyBytesPerSecond; a quiet story's first change
// is due at once, and a flush of everything (every 0) takes all.
func TestBigStoriesWaitLongerBetweenSnapshots(t *testing.T) {
	c := newTestClusterer(t)
	small := c.Add(entry("a1", "x", "Storm closes airport in Oslo", "", 0))
	big := c.Add(entry("b1", "y", "Parliament passes budget after all-night session", "", 1))
	if small == "" || big == "" || small == big {
		t.Fatalf("stories %q and %q", small, big)
	}
	every := 50 * time.Millisecond
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	if due := c.TakeDue(now, every); len(due) != 2 {
		t.Fatalf("first changes: %v due, want both", due)
	}
	c.MarkPublished(small, now, 20<<10)
	c.MarkPublished(big, now, 1<<20) // 256 ms at storyBytesPerSecond
	// Each step changes both stories again and asks what is due that long
	// after the snapshots above.
	for _, step := range []struct {
		after time.Duration
		all   bool
		want  []string
	}{
		{10 * time.Millisecond, false, nil},
		{60 * time.Millisecond, false, []string{small}},
		{200 * time.Millisecond, false, []string{small}},
		{260 * time.Millisecond, false, []string{small, big}},
		{20 * time.Millisecond, true, []string{small, big}},
	} {
		c.dirty[small], c.dirty[big] = true, true
		every := every
		if step.all {
			every = 0
		}
		got := c.TakeDue(now.Add(step.after), every)
		slices.Sort(got)
		want := slices.Clone(step.want)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s after the snapshots (every %s): %v due, want %v", step.after, every, got, want)
		}
		clear(c.dirty)
	}
}

// TestMemberBoundChangesNoDecision runs one stream through two
// clusterers, one that skips the members of stories the member bound
// rules out (production) and one that compares every member (its model
// marked as one the bound cannot serve), and requires the same story for
// every entry: the bound, names part included, must never cut a story
// that could have won. The stream's times start two hours before the
// test runs, so each run places the clock's housekeeping elsewhere; a
// failure names the start to replay it with.
func TestMemberBoundChangesNoDecision(t *testing.T) {
	pruned, full := newTestClusterer(t), newTestClusterer(t)
	// Not by collecting examples, which also turns off the topic rule
	// (see topicRule): only the pruning may differ.
	full.model.nonMonotone = true
	g := newSynthetic(7)
	for i := range 6000 {
		e := g.next()
		if i%3 == 0 {
			// Sentence-case and Title Case texts, so that names come
			// from capitals inside sentences and from the stream.
			e.Text = "Officials in " + strings.Fields(e.Headline)[0] + " said " + e.Text
			words := strings.Fields(e.Headline)
			for k, w := range words {
				words[k] = strings.ToUpper(w[:1]) + w[1:]
			}
			e.Headline = strings.Join(words, " ")
		}
		a, b := pruned.Add(e), full.Add(e)
		if a != b {
			t.Fatalf("stream from %s, entry %d (%q): %s with the bound, %s without", g.base.Format(time.RFC3339), i, e.Headline, a, b)
		}
	}
}

// TestPlainWordsBackNames: a report that shares only names with a story
// (Trump, the White House) founds its own story, though the model,
// reading the names as backed by those shared words, would join it; a
// report of the story's event, which shares its plain words too, joins
// as before. The texts are the captured feeds' (eval/testdata/feeds),
// with the NYT headline in sentence case so that its names are read as
// names in a stream this short.
func TestPlainWordsBackNames(t *testing.T) {
	c := newTestClusterer(t)
	c.cfg.MergePassInterval = 0
	background(c)
	c.Add(entry("flight", "nyt", "Which Trump officials joined him on his secret flight out of Turkey?",
		"The White House aides Natalie Harp and Dan Scavino were among those traveling with the president on a military jet.", 100))
	flight := c.byEntry["flight"]
	// score is the report's join probability for the flight story with
	// the rule and without it (as training collects its examples).
	score := func(e wire.Entry) (with, without, need float64) {
		vec := c.vector(e)
		with = c.scoreStory(flight, vec, e.PublishedAt, false)
		c.collect = &[]Example{}
		without = c.scoreStory(flight, vec, e.PublishedAt, false)
		c.collect = nil
		return with, without, c.joinThreshold(vec)
	}

	leavitt := entry("leavitt", "aj", "Karoline Leavitt to step down as White House press secretary, Trump says",
		"Leavitt is departing her role to spend more time with family after giving birth to a second child, according to Trump.", 130)
	with, without, need := score(leavitt)
	if without < need {
		t.Fatalf("without the rule the resignation scores %.3f, under the threshold %.3f; the test proves nothing", without, need)
	}
	if with >= need {
		t.Errorf("the resignation scores %.3f with the rule (%.3f without), at or over the threshold %.3f", with, without, need)
	}
	c.Add(leavitt)
	if c.byEntry["leavitt"] == flight {
		t.Error("the resignation joined the decoy-flight story on the names alone")
	}

	same := entry("same", "bbc", "Trump was smuggled out of Turkey on a secret flight, White House aides say",
		"The president left Air Force One in a catering truck and flew home on a military jet with a few aides.", 131)
	if with, without, need := score(same); with != without || with < need {
		t.Errorf("a report of the flight scores %.3f with the rule and %.3f without (threshold %.3f), want the same and a join", with, without, need)
	}
	c.Add(same)
	if c.byEntry["same"] != flight {
		t.Error("a report of the flight did not join its story")
	}

	// In a text without capitals the stream guesses which words are
	// names, so the words left over say nothing of them: the rule does
	// not apply.
	lower := entry("lower", "x", "trump adviser harrison fields briefs reporters on his family at the white house", "", 132)
	if with, without, _ := score(lower); with != without {
		t.Errorf("a post without capitals scores %.3f with the rule and %.3f without, want the same", with, without)
	}
}

// Two reports that share names and no other word are not one event by
// the count of what they share: Al Jazeera's "Israeli air strike kills
// one in northern Gaza" and "Israel vows to keep troops in Lebanon, Gaza
// and Syria" (the captured feeds in eval/testdata, 32 minutes apart)
// share "Israel"/"Israeli" and "Gaza" and not one other word, and in the
// feeds' stream the strike joined the vow on the shared-terms count. In
// this short stream the names rule alone already keeps it just under
// the threshold (0.484 at 0.489), so what fails here without the rule
// is the count's log-odds term in the explained decision.
func TestSharedNamesAloneAreNotSharedWords(t *testing.T) {
	var explain bytes.Buffer
	cfg := DefaultConfig()
	cfg.MergePassInterval = 0
	cfg.Explain = &explain
	c, err := NewClusterer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	background(c)
	// A report read earlier that writes "Israeli" in mid-sentence, as the
	// feeds' stream had: the word is then a name wherever it stands.
	c.Add(entry("siege", "aj", "Three Palestinian families besieged in their homes by Israeli settlers",
		"Three Palestinian families in Qusra, occupied West Bank, are being besieged inside their homes.", 60))
	c.Add(entry("troops", "aj", "Israel vows to keep troops in Lebanon, Gaza and Syria",
		"Israeli defence minister Israel Katz has said that Israel “will under no circumstances” withdraw its troops.", 100))
	troops := c.byEntry["troops"]
	// shared places e and returns the log-odds its shared-terms count
	// added for the troops story, and the probabilities with the rules
	// and without them (as training collects its examples).
	shared := func(e wire.Entry) (terms, with, without, need float64) {
		vec := c.vector(e)
		c.collect = &[]Example{}
		without = c.scoreStory(troops, vec, e.PublishedAt, false)
		c.collect = nil
		explain.Reset()
		c.Add(e)
		var d Decision
		if err := json.Unmarshal(explain.Bytes(), &d); err != nil {
			t.Fatalf("%s: explain: %v", e.ID, err)
		}
		for _, cand := range d.Candidates {
			if cand.Story != troops.id {
				continue
			}
			if cand.Bounded {
				t.Fatalf("%s: the troops story was ruled out by the member bound; the test proves nothing", e.ID)
			}
			return cand.Terms["short.member_shared_terms"] + cand.Terms["long.member_shared_terms"], cand.P, without, d.Threshold
		}
		t.Fatalf("%s: the troops story is not among the candidates: %s", e.ID, explain.String())
		return
	}

	strike := entry("strike", "aj", "Israeli air strike kills one in northern Gaza",
		"Strike on a tuk-tuk in Beit Lahiya kills one, wounds five in first Israeli aerial bombardment in a week", 132)
	terms, with, without, need := shared(strike)
	if without < need {
		t.Fatalf("without the rules the air strike scores %.3f, under the threshold %.3f; the test proves nothing", without, need)
	}
	if terms != 0 {
		t.Errorf("the names the air strike shares with the vow add %.3f to its log-odds, want 0", terms)
	}
	if with >= need || c.byEntry["strike"] == troops {
		t.Errorf("the air strike scores %.3f with the rules (%.3f without), threshold %.3f: it joined the vow on the names alone", with, without, need)
	}

	same := entry("same", "bbc", "Israel will keep troops in Gaza, Lebanon and Syria, defence minister says",
		"Israel Katz said the troops will stay under all circumstances.", 133)
	if terms, with, without, need := shared(same); terms <= 0 || with < need || c.byEntry["same"] != troops {
		t.Errorf("a report of the vow: shared terms add %.3f, probability %.3f (%.3f without the rules), threshold %.3f; want a join on the words it shares", terms, with, without, need)
	}
}

func TestInteractDropsACountOfNames(t *testing.T) {
	for _, tc := range []struct {
		plain float64
		kept  bool
	}{{-1, true}, {0, false}, {1e-12, false}, {0.05, true}} {
		var f features
		f[featCentroid], f[featShared] = 0.3, math.Log1p(2)
		f.interact(0.5, 1, tc.plain)
		short, long := f[featShared], f[numBase+featShared]
		if (short > 0) != tc.kept || (long > 0) != tc.kept {
			t.Errorf("plain words cosine %g: shared-terms count short %.3f, long %.3f; want both kept: %v",
				tc.plain, short, long, tc.kept)
		}
	}
}
