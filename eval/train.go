package eval

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/newswire/newswire/ingest/replay"
	"github.com/newswire/newswire/normalize"
	"github.com/newswire/newswire/synth"
)

// Orders are the stream orders a labelled file is scored and trained in:
// the file's own and three interleaved mixes (see Interleaved).
func Orders(items []replay.Item) []Variant {
	vs := []Variant{{"file", items}}
	for seed := uint32(1); seed <= 3; seed++ {
		vs = append(vs, Variant{fmt.Sprintf("mix%d", seed), Interleaved(items, seed)})
	}
	return vs
}

// Variant is one order of a labelled file.
type Variant struct {
	Name  string
	Items []replay.Item
}

// Labels returns, per entry of the stream, the gold story of the first
// item it stands for.
func (st *Stream) Labels() []string {
	byEntry := make(map[string]string, len(st.Entries))
	for i, id := range st.EntryOf {
		if _, ok := byEntry[id]; !ok && id != "" {
			byEntry[id] = st.Gold[i]
		}
	}
	labels := make([]string, len(st.Entries))
	for i, e := range st.Entries {
		labels[i] = byEntry[e.ID]
	}
	return labels
}

// TrainOptions configure Train.
type TrainOptions struct {
	Normalize normalize.Config
	Synth     synth.Config
	Fit       synth.FitOptions
	// Stream returns the normalized stream of one order of one file; nil
	// normalizes it on a throwaway bus (Normalized). Sweeps pass a cache.
	Stream func(ctx context.Context, file string, v Variant) (*Stream, error)
}

// Train fits the join model on labelled files: each file is run in its
// own order and in three interleaved orders through the production
// normalizer, the clusterer follows the gold stories (synth.Examples),
// and every file weighs the same in the fit.
func Train(ctx context.Context, paths []string, opt TrainOptions) (synth.Model, error) {
	if len(paths) == 0 {
		return synth.Model{}, fmt.Errorf("eval: train: no labelled files")
	}
	var sets [][]synth.Example
	var names []string
	for _, path := range paths {
		items, err := replay.ReadFile(path)
		if err != nil {
			return synth.Model{}, err
		}
		var set []synth.Example
		for _, v := range Orders(items) {
			st, err := opt.stream(ctx, path, v)
			if err != nil {
				return synth.Model{}, fmt.Errorf("eval: train: %s %s: %w", path, v.Name, err)
			}
			ex, err := synth.Examples(opt.Synth, st.Entries, st.Labels())
			if err != nil {
				return synth.Model{}, fmt.Errorf("eval: train: %s: %w", path, err)
			}
			set = append(set, ex...)
		}
		sets = append(sets, set)
		names = append(names, filepath.Base(path))
	}
	m, err := synth.Fit(sets, opt.Fit)
	if err != nil {
		return synth.Model{}, fmt.Errorf("eval: train: %w", err)
	}
	m.TrainedOn = names
	return m, nil
}

func (opt TrainOptions) stream(ctx context.Context, path string, v Variant) (*Stream, error) {
	if opt.Stream != nil {
		return opt.Stream(ctx, path, v)
	}
	return Normalized(ctx, v.Items, opt.Normalize, nil)
}

// variantFile names a cached stream.
func variantFile(path string, v Variant) string {
	return strings.TrimSuffix(filepath.Base(path), ".jsonl") + "-" + v.Name + ".json"
}
