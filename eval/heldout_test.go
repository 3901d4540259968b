package eval

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/newswire/newswire/ingest/replay"
	"github.com/newswire/newswire/normalize"
	"github.com/newswire/newswire/synth"
)

// The held-out report runs only when asked for, on a labelled file:
//
//	go test ./eval -run TestHeldOut -v -labelled ../testdata/replay/uci-news-2014-03.jsonl
//
// It prints BCubed and pairwise figures for the whole file and for each
// half of a split by gold story, in the file's order, in published-time
// order and in three interleaved orders (stories of one hour mixed, see
// Interleaved). Tune on half A, averaged over the orders; half B is the
// check.
// -bus sends every variant through the real bus (as `newswire eval` does)
// instead of the in-memory clusterer; -sweep FILE scores one configuration
// per line (key=value pairs, see setParam) on every variant.
var (
	labelled = flag.String("labelled", "", "labelled replay file for the held-out report")
	viaBus   = flag.Bool("bus", false, "run each variant through the embedded bus")
	sweep    = flag.String("sweep", "", "file of configurations, one per line, as key=value pairs")
	cache    = flag.String("cache", "", "directory to keep normalized streams in, so that sweeps compare like with like")
	floor    = flag.Float64("floor", 0, "fail when any variant's BCubed or pairwise F1 is below this")
	assigned = flag.String("assignments", "", "directory to write each in-memory variant's {id, story} lines to, for comparing two builds")
)

func TestHalvesSplitWholeStories(t *testing.T) {
	var items []replay.Item
	for i := range 200 {
		items = append(items, replay.Item{ID: strconv.Itoa(i), Label: fmt.Sprintf("story-%d", i%37)})
	}
	a, b := Half(items, 0), Half(items, 1)
	if len(a)+len(b) != len(items) || len(a) == 0 || len(b) == 0 {
		t.Fatalf("halves of %d items: %d and %d", len(items), len(a), len(b))
	}
	inA := make(map[string]bool)
	for _, it := range a {
		inA[it.Label] = true
	}
	for _, it := range b {
		if inA[it.Label] {
			t.Fatalf("story %s is in both halves", it.Label)
		}
	}
	if !slices.Equal(Half(items, 0), a) {
		t.Fatal("the split is not deterministic")
	}
}

func TestTimeOrderedSortsStably(t *testing.T) {
	items := []replay.Item{
		{ID: "a", PublishedAt: "2014-03-10T16:52:51Z"},
		{ID: "b", PublishedAt: "not a time"},
		{ID: "c", PublishedAt: "2014-03-10T10:00:00Z"},
		{ID: "d", PublishedAt: "2014-03-10T16:52:51Z"},
	}
	var got []string
	for _, it := range TimeOrdered(items) {
		got = append(got, it.ID)
	}
	if want := []string{"c", "a", "d", "b"}; !slices.Equal(got, want) {
		t.Fatalf("order %v, want %v", got, want)
	}
}

func TestInterleavedMixesWithinHoursOnly(t *testing.T) {
	var items []replay.Item
	for i := range 40 {
		hour := 10 + i/20 // rows 0–19 in hour 10, 20–39 in hour 11, story by story
		items = append(items, replay.Item{ID: strconv.Itoa(i), PublishedAt: fmt.Sprintf("2014-03-10T%02d:%02d:00Z", hour, i%20)})
	}
	items = append(items, replay.Item{ID: "bad", PublishedAt: "not a time"})
	a, b := Interleaved(items, 1), Interleaved(items, 2)
	if !slices.Equal(a, Interleaved(items, 1)) {
		t.Fatal("the same seed gave two orders")
	}
	if slices.Equal(a, b) || slices.Equal(a, items) {
		t.Fatal("the order did not change with the seed")
	}
	for _, order := range [][]replay.Item{a, b} {
		if len(order) != len(items) || order[len(order)-1].ID != "bad" {
			t.Fatalf("items lost or the unparsable one moved: %v", order)
		}
		for i, it := range order[:40] {
			n, _ := strconv.Atoi(it.ID)
			if n/20 != i/20 {
				t.Fatalf("item %s left its hour (place %d)", it.ID, i)
			}
		}
	}
}

type variant struct {
	name  string
	items []replay.Item
}

func variants(items []replay.Item) []variant {
	timed := TimeOrdered(items)
	vs := []variant{
		{"file A", Half(items, 0)}, {"file B", Half(items, 1)}, {"file all", items},
		{"time A", Half(timed, 0)}, {"time B", Half(timed, 1)}, {"time all", timed},
	}
	for seed := uint32(1); seed <= 3; seed++ {
		mixed := Interleaved(items, seed)
		name := fmt.Sprintf("mix%d ", seed)
		vs = append(vs, variant{name + "A", Half(mixed, 0)}, variant{name + "B", Half(mixed, 1)}, variant{name + "all", mixed})
	}
	return vs
}

func TestHeldOut(t *testing.T) {
	if *labelled == "" {
		t.Skip("no -labelled file")
	}
	items, err := replay.ReadFile(*labelled)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	configs := sweepConfigs(t)
	vs := variants(items)
	streams := make([]*Stream, len(vs))
	if !*viaBus {
		for i, v := range vs {
			if streams[i], err = cachedStream(ctx, v); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, params := range configs {
		cfg := configOf(t, params)
		cfg.MaxProvenance = 1 << 20
		var line []string
		for i, v := range vs {
			var s Scores
			if *viaBus {
				res, err := RunItems(ctx, v.items, Options{Normalize: normalize.DefaultConfig(), Synth: cfg})
				if err != nil {
					t.Fatal(err)
				}
				s = res.Scores
			} else {
				pred, err := streams[i].Assign(cfg)
				if err != nil {
					t.Fatal(err)
				}
				s = Score(streams[i].Gold, pred)
				if *assigned != "" && *sweep == "" {
					writeAssignments(t, filepath.Join(*assigned, strings.ReplaceAll(v.name, " ", "-")+".jsonl"), v.items, pred)
				}
			}
			if *sweep == "" {
				t.Logf("%-8s items %4d gold %3d pred %4d  BCubed P %.3f R %.3f F1 %.3f  pairwise P %.3f R %.3f F1 %.3f  NMI %.3f",
					v.name, s.Items, s.Gold, s.Predicted, s.BCubedPrecision, s.BCubedRecall, s.BCubedF1,
					s.PairwisePrecision, s.PairwiseRecall, s.PairwiseF1, s.NMI)
			}
			line = append(line, fmt.Sprintf("%.3f/%.3f", s.BCubedF1, s.PairwiseF1))
			if s.BCubedF1 < *floor || s.PairwiseF1 < *floor {
				t.Errorf("%s %v: BCubed F1 %.3f, pairwise F1 %.3f, below %.2f", v.name, params, s.BCubedF1, s.PairwiseF1, *floor)
			}
		}
		if *sweep != "" {
			t.Logf("%-48s  %s", strings.Join(params, " "), strings.Join(line, "  "))
		}
	}
}

// cachedStream normalizes a variant once per -cache directory, so that a
// sweep compares configurations on one captured stream without normalizing
// it again (the normalizer decides near-duplicates in the raw items' order,
// so a capture is the same every time).
func cachedStream(ctx context.Context, v variant) (*Stream, error) {
	path := ""
	if *cache != "" {
		path = filepath.Join(*cache, strings.ReplaceAll(v.name, " ", "-")+".json")
	}
	return cachedNormalized(ctx, path, v.items)
}

// cachedNormalized reads the normalized stream of items from path, or
// normalizes them and writes it there (path "" keeps nothing).
func cachedNormalized(ctx context.Context, path string, items []replay.Item) (*Stream, error) {
	if path != "" {
		if b, err := os.ReadFile(path); err == nil {
			var st Stream
			return &st, json.Unmarshal(b, &st)
		}
	}
	st, err := Normalized(ctx, items, normalize.DefaultConfig(), nil)
	if err != nil || path == "" {
		return st, err
	}
	b, err := json.Marshal(st)
	if err != nil {
		return nil, err
	}
	return st, os.WriteFile(path, b, 0o644)
}

// writeAssignments writes one {"id":…,"story":…} line per item, the
// format of `newswire eval --assignments`, so that two builds can be
// compared on one cached stream with diff.
func writeAssignments(t *testing.T, path string, items []replay.Item, pred []string) {
	t.Helper()
	var b strings.Builder
	enc := json.NewEncoder(&b)
	for i, it := range items {
		if err := enc.Encode(struct {
			ID    string `json:"id"`
			Story string `json:"story"`
		}{it.ID, pred[i]}); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readSweep(t *testing.T, path string) [][]string {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out [][]string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" && !strings.HasPrefix(line, "#") {
			out = append(out, strings.Fields(line))
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// setParam sets one synth parameter by its config key.
// sweepConfigs is the -sweep file's configurations, or one of no changes.
func sweepConfigs(t *testing.T) [][]string {
	if *sweep == "" {
		return [][]string{nil}
	}
	return readSweep(t, *sweep)
}

// configOf is the default configuration with params (key=value) applied.
func configOf(t *testing.T, params []string) synth.Config {
	cfg := synth.DefaultConfig()
	for _, p := range params {
		if err := setParam(&cfg, p); err != nil {
			t.Fatal(err)
		}
	}
	return cfg
}

func setParam(c *synth.Config, kv string) error {
	k, v, ok := strings.Cut(kv, "=")
	if !ok {
		return fmt.Errorf("eval: %q is not key=value", kv)
	}
	num := func(dst *float64) error {
		f, err := strconv.ParseFloat(v, 64)
		*dst = f
		return err
	}
	dur := func(dst *time.Duration) error {
		d, err := time.ParseDuration(v)
		*dst = d
		return err
	}
	integer := func(dst *int) error {
		n, err := strconv.Atoi(v)
		*dst = n
		return err
	}
	var err error
	switch k {
	case "threshold":
		err = num(&c.Threshold)
	case "merge_threshold":
		err = num(&c.MergeThreshold)
	case "time_half_life":
		err = dur(&c.TimeHalfLife)
	case "df_half_life":
		err = dur(&c.DFHalfLife)
	case "window":
		err = dur(&c.Window)
	case "stale_after":
		err = dur(&c.StaleAfter)
	case "proper_weight":
		err = num(&c.ProperWeight)
	case "title_weight":
		err = num(&c.TitleWeight)
	case "recent_members":
		err = integer(&c.RecentMembers)
	case "max_body_tokens":
		err = integer(&c.MaxBodyTokens)
	case "slug_weight":
		err = num(&c.SlugWeight)
	case "candidates":
		err = integer(&c.Candidates)
	case "merge_pass_interval":
		err = dur(&c.MergePassInterval)
	case "merge_pass_max_size":
		err = integer(&c.MergePassMaxSize)
	case "min_coherence":
		err = num(&c.MinCoherence)
	case "model":
		var m synth.Model
		if m, err = synth.LoadModel(v); err == nil {
			c.Model = &m
		}
	case "join_short", "join_long", "merge_short", "merge_long":
		// a threshold of the model (set model= first, or the shipped one)
		if c.Model == nil {
			m := synth.DefaultModel()
			c.Model = &m
		}
		var f float64
		err = num(&f)
		k := map[string]int{"join_short": 0, "join_long": 1, "merge_short": 0, "merge_long": 1}[k]
		if strings.HasPrefix(kv, "join") {
			c.Model.Join[k] = f
		} else {
			c.Model.Merge[k] = f
		}
	default:
		return fmt.Errorf("eval: unknown parameter %q", k)
	}
	if err != nil {
		return fmt.Errorf("eval: %s: %w", kv, err)
	}
	return nil
}

func TestArrivalsFollowPublishedTimes(t *testing.T) {
	start := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	items := []replay.Item{
		{ID: "a"}, // no time: just before the first readable one
		{ID: "b", PublishedAt: ""},
		{ID: "c", PublishedAt: "2014-03-10T16:52:50Z"},
		{ID: "d", PublishedAt: "not a time"}, // 1 ms after c
		{ID: "e", PublishedAt: "Mon, 10 Mar 2014 12:00:00 -0500"},
		{ID: "f", PublishedAt: "2099-01-01T00:00:00Z"}, // after the run: 1 ms after e
	}
	got := Arrivals(items, start)
	want := []time.Time{
		time.Date(2014, 3, 10, 16, 52, 49, 998e6, time.UTC),
		time.Date(2014, 3, 10, 16, 52, 49, 999e6, time.UTC),
		time.Date(2014, 3, 10, 16, 52, 50, 0, time.UTC),
		time.Date(2014, 3, 10, 16, 52, 50, 1e6, time.UTC),
		time.Date(2014, 3, 10, 17, 0, 0, 0, time.UTC),
		time.Date(2014, 3, 10, 17, 0, 0, 1e6, time.UTC),
	}
	for i := range want {
		if !got[i].Equal(want[i]) {
			t.Errorf("item %s arrives at %v, want %v", items[i].ID, got[i], want[i])
		}
	}
	none := Arrivals([]replay.Item{{ID: "x"}, {ID: "y"}}, start)
	if !none[0].Equal(start) || !none[1].Equal(start.Add(time.Millisecond)) {
		t.Errorf("a file without times arrives at %v, want from %v on", none, start)
	}
}
