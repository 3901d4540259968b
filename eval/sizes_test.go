package eval

import (
	"context"
	"flag"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/newswire/newswire/ingest/replay"
	"github.com/newswire/newswire/normalize"
)

// The story-size report runs only when asked for, on any replay file
// (labels are not needed):
//
//	go test ./eval -run TestStorySizes -v -stream ../../shared/data/telegram-ru-news-2024.jsonl.gz
//
// It clusters the stream on its own clock (see Arrivals) and prints how
// many stories it made and the largest ones. A long, dense stream is where
// a clusterer drifts from events into topics: one story that keeps taking
// whatever is said about a war or a market. -max-story N fails the run
// when any story grows past N items; -sweep scores one configuration per
// line, as in TestHeldOut.
var (
	sizesStream = flag.String("stream", "", "replay file for the story-size report")
	maxStory    = flag.Int("max-story", 0, "fail when a story of the -stream file has more items than this")
)

func TestStorySizes(t *testing.T) {
	if *sizesStream == "" {
		t.Skip("no -stream file")
	}
	items, err := replay.ReadFile(*sizesStream)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	st, err := Normalized(ctx, items, normalize.DefaultConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, params := range sweepConfigs(t) {
		pred, err := st.Assign(configOf(t, params))
		if err != nil {
			t.Fatal(err)
		}
		count := make(map[string]int)
		for _, p := range pred {
			count[p]++
		}
		sizes := make([]int, 0, len(count))
		singletons := 0
		for _, n := range count {
			sizes = append(sizes, n)
			if n == 1 {
				singletons++
			}
		}
		slices.Sort(sizes)
		slices.Reverse(sizes)
		t.Logf("%-40s items %d  stories %d  singletons %d  largest %v", strings.Join(params, " "), len(pred), len(sizes), singletons, sizes[:min(len(sizes), 8)])
		if *maxStory > 0 && len(sizes) > 0 && sizes[0] > *maxStory {
			t.Errorf("%v: a story of %d items, over %d", params, sizes[0], *maxStory)
		}
	}
}
