package eval

import (
	"context"
	"fmt"
	"path/filepath"

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
	// Rounds is how many times the fitted model clusters the files itself
	// and is fitted again with the candidates it met added
	// (synth.PolicyExamples); 0 fits on the gold-following clusterer only.
	Rounds int
	// Log, when set, hears what training chose.
	Log func(msg string, keyvals ...any)
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
	var streams [][]*Stream
	for _, path := range paths {
		items, err := replay.ReadFile(path)
		if err != nil {
			return synth.Model{}, err
		}
		var set []synth.Example
		var sts []*Stream
		for _, v := range Orders(items) {
			st, err := opt.stream(ctx, path, v)
			if err != nil {
				return synth.Model{}, fmt.Errorf("eval: train: %s %s: %w", path, v.Name, err)
			}
			sts = append(sts, st)
			ex, err := synth.Examples(opt.Synth, st.Entries, st.Labels())
			if err != nil {
				return synth.Model{}, fmt.Errorf("eval: train: %s: %w", path, err)
			}
			set = append(set, ex...)
		}
		sets = append(sets, set)
		streams = append(streams, sts)
		names = append(names, filepath.Base(path))
	}
	m, err := synth.Fit(sets, opt.Fit)
	if err != nil {
		return synth.Model{}, fmt.Errorf("eval: train: %w", err)
	}
	m.TrainedOn = names
	if err := chooseThresholds(&m, opt.Synth, streams, opt.Log); err != nil {
		return synth.Model{}, err
	}
	// Dataset aggregation: each round the latest model clusters every
	// order itself, the candidates it meets join the examples, and the
	// model is fitted again. For each kind of text the round that scored
	// best on the files of that kind is kept (a round can help headlines
	// and hurt articles), and the two are combined.
	best := [2]synth.Model{m, m}
	bestScore, err := kindScores(m, opt.Synth, streams)
	if err != nil {
		return synth.Model{}, err
	}
	for round := range opt.Rounds {
		cfg := opt.Synth
		cfg.Model = &m
		for i, sts := range streams {
			for _, st := range sts {
				ex, err := synth.PolicyExamples(cfg, st.Entries, st.Labels())
				if err != nil {
					return synth.Model{}, fmt.Errorf("eval: train: %s: %w", names[i], err)
				}
				sets[i] = append(sets[i], ex...)
			}
		}
		next, err := synth.Fit(sets, opt.Fit)
		if err != nil {
			return synth.Model{}, fmt.Errorf("eval: train: round %d: %w", round+1, err)
		}
		next.TrainedOn = names
		if err := chooseThresholds(&next, opt.Synth, streams, opt.Log); err != nil {
			return synth.Model{}, err
		}
		sc, err := kindScores(next, opt.Synth, streams)
		if err != nil {
			return synth.Model{}, err
		}
		for k := range 2 {
			if sc[k] > bestScore[k] {
				best[k], bestScore[k] = next, sc[k]
			}
		}
		if opt.Log != nil {
			opt.Log("round", "n", round+1, "short_f1", sc[0], "long_f1", sc[1])
		}
		m = next
	}
	m = synth.Combine(best[0], best[1])
	return m, nil
}

// kindOf is 1 when most of a file's entries are long texts, else 0.
func kindOf(cfg synth.Config, sts []*Stream) (int, error) {
	long, err := synth.Longness(cfg, sts[0].Entries)
	if err != nil {
		return 0, fmt.Errorf("eval: train: %w", err)
	}
	if long >= 0.5 {
		return 1, nil
	}
	return 0, nil
}

// kindScores sums meanF1 over the files of each kind, clustered with m
// and its own thresholds.
func kindScores(m synth.Model, cfg synth.Config, streams [][]*Stream) ([2]float64, error) {
	var sc [2]float64
	cfg.Model = &m
	cfg.Threshold, cfg.MergeThreshold = 0, 0
	for _, sts := range streams {
		k, err := kindOf(cfg, sts)
		if err != nil {
			return sc, err
		}
		f, err := meanF1(sts, cfg)
		if err != nil {
			return sc, err
		}
		sc[k] += f
	}
	return sc, nil
}

// The thresholds training tries: join probabilities, and the probability
// at which a member votes for a merge (1: no merges).
var (
	joinGrid  = []float64{0.1, 0.15, 0.2, 0.3, 0.4, 0.5}
	mergeGrid = []float64{0.1, 0.2, 0.35, 0.5, 0.7, 1}
)

// chooseThresholds clusters every file in all its orders with each pair
// of thresholds on the grid and keeps, for each file, the pair with the
// best mean of BCubed and pairwise F1 over its orders. A file of mostly
// short texts sets the short-text pair, one of long texts the long-text
// pair (several files of one kind: the pair best on their mean); a kind
// no file has takes the other kind's.
func chooseThresholds(m *synth.Model, cfg synth.Config, streams [][]*Stream, log func(string, ...any)) error {
	type pair struct{ join, merge float64 }
	score := make(map[pair][2]float64) // per kind: summed F1 of the files of that kind
	var have [2]bool
	cfg.Model = m
	for _, sts := range streams {
		kind, err := kindOf(cfg, sts)
		if err != nil {
			return err
		}
		have[kind] = true
		for _, j := range joinGrid {
			for _, mg := range mergeGrid {
				c := cfg
				c.Threshold, c.MergeThreshold = j, mg
				f, err := meanF1(sts, c)
				if err != nil {
					return err
				}
				v := score[pair{j, mg}]
				v[kind] += f
				score[pair{j, mg}] = v
			}
		}
	}
	var best [2]pair
	var bestScore [2]float64
	for _, j := range joinGrid {
		for _, mg := range mergeGrid {
			p := pair{j, mg}
			for k := range 2 {
				if v := score[p][k]; v > bestScore[k] {
					best[k], bestScore[k] = p, v
				}
			}
		}
	}
	for k := range 2 {
		if !have[k] {
			best[k] = best[1-k]
		}
		if log != nil && have[k] {
			log("thresholds", "kind", k, "join", best[k].join, "merge", best[k].merge, "mean_f1", bestScore[k])
		}
	}
	m.Join = [2]float64{best[0].join, best[1].join}
	m.Merge = [2]float64{best[0].merge, best[1].merge}
	// Each pair was chosen with the other kind's texts held to the same
	// thresholds; in use they blend by each entry's length, and a file of
	// articles holds some short ones. So each kind's pair is chosen once
	// more with the model's own blended thresholds, scoring every file.
	total := func() (float64, error) {
		c := cfg
		c.Threshold, c.MergeThreshold = 0, 0
		var sum float64
		for _, sts := range streams {
			f, err := meanF1(sts, c)
			if err != nil {
				return 0, err
			}
			sum += f
		}
		return sum, nil
	}
	for k := range 2 {
		if !have[k] {
			continue
		}
		keepJ, keepM := m.Join[k], m.Merge[k]
		bestTotal := -1.0
		for _, j := range joinGrid {
			for _, mg := range mergeGrid {
				m.Join[k], m.Merge[k] = j, mg
				v, err := total()
				if err != nil {
					return err
				}
				if v > bestTotal {
					bestTotal, keepJ, keepM = v, j, mg
				}
			}
		}
		m.Join[k], m.Merge[k] = keepJ, keepM
		if log != nil {
			log("thresholds blended", "kind", k, "join", keepJ, "merge", keepM, "sum_f1", bestTotal)
		}
	}
	return nil
}

func (opt TrainOptions) stream(ctx context.Context, path string, v Variant) (*Stream, error) {
	if opt.Stream != nil {
		return opt.Stream(ctx, path, v)
	}
	return Normalized(ctx, v.Items, opt.Normalize, nil)
}

// meanF1 is the mean over the orders of one file of (BCubed F1 +
// pairwise F1) / 2, clustered with cfg: what training maximises.
func meanF1(sts []*Stream, cfg synth.Config) (float64, error) {
	var sum float64
	for _, st := range sts {
		s, err := st.Cluster(cfg)
		if err != nil {
			return 0, fmt.Errorf("eval: train: %w", err)
		}
		sum += (s.BCubedF1 + s.PairwiseF1) / 2
	}
	return sum / float64(len(sts)), nil
}
