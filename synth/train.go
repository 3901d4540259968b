package synth

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/newswire/newswire/wire"
)

// The normalizer's flags for a published time it replaced by the time
// it observed the item (normalize.FlagNoTime and its kin; a test keeps
// them in step).
const (
	flagFutureTime  = "published_in_future"
	flagAncientTime = "published_before_1995"
	flagNoTime      = "published_missing"
	flagBadTime     = "published_unparseable"
)

func timeReplaced(flag string) bool {
	switch flag {
	case flagFutureTime, flagAncientTime, flagNoTime, flagBadTime:
		return true
	}
	return false
}

// Examples runs a labelled entry stream through a clusterer that follows
// the gold labels (each entry goes to the active story of its label, or
// founds it) and returns one example per candidate story scored on the
// way: the features the production clusterer would see, and whether the
// candidate is the entry's story. Following the gold stories keeps the
// candidates what a good clusterer would hold. labels[i] is the gold
// story of entries[i]; entries with an empty label are added unlabelled.
// Merges are off, since gold stories never need them.
func Examples(cfg Config, entries []wire.Entry, labels []string) ([]Example, error) {
	if len(labels) != len(entries) {
		return nil, fmt.Errorf("synth: examples: %d entries and %d labels", len(entries), len(labels))
	}
	cfg.MergePassInterval = 0
	c, err := NewClusterer(cfg)
	if err != nil {
		return nil, err
	}
	var out []Example
	c.collect = &out
	c.byLabel = make(map[string]*story)
	for i, e := range entries {
		c.add(e, labels[i])
	}
	return out, nil
}

// addGold records the candidates' examples and places e in the story of
// its label.
func (c *Clusterer) addGold(e wire.Entry, label string, vec []term, independent bool, cands []candidate, at time.Time) string {
	// In story age order, not the model's: the examples, and the order
	// Fit sums them in, are then the same whatever model is shipped.
	slices.SortFunc(cands, func(a, b candidate) int { return cmp.Compare(a.s.seq, b.s.seq) })
	for _, x := range cands {
		*c.collect = append(*c.collect, Example{X: x.f, Join: x.s.label == label})
	}
	if s, ok := c.byLabel[label]; ok && s.active {
		c.join(s, e, vec, independent)
		return s.id
	}
	s := c.foundStory(e, vec, independent, at)
	s.label = label
	c.byLabel[label] = s
	return s.id
}

// PolicyExamples runs a labelled entry stream through the clusterer as it
// decides with cfg's model, joins and merges included, and returns one
// example per candidate story scored on the way: its features, and whether
// most of the candidate's members are of the entry's gold story. These are
// the states the model meets when it has erred — a story grown into a
// topic, an event split in two — which a clusterer following the gold
// labels never reaches (the dataset aggregation of Ross et al., AISTATS
// 2011). labels[i] is the gold story of entries[i].
func PolicyExamples(cfg Config, entries []wire.Entry, labels []string) ([]Example, error) {
	if len(labels) != len(entries) {
		return nil, fmt.Errorf("synth: examples: %d entries and %d labels", len(entries), len(labels))
	}
	c, err := NewClusterer(cfg)
	if err != nil {
		return nil, err
	}
	var out []Example
	c.collect = &out
	c.labelOf = make(map[string]string, len(entries))
	for i, e := range entries {
		c.labelOf[e.ID] = labels[i]
		c.add(e, labels[i])
	}
	return out, nil
}

// addPolicy records the candidates' examples for an entry the clusterer
// then places itself.
func (c *Clusterer) addPolicy(label string, cands []candidate) {
	count := make(map[string]int)
	for _, x := range cands {
		clear(count)
		best, most := "", 0
		for _, m := range x.s.members {
			l := c.labelOf[m.entry.ID]
			count[l]++
			if n := count[l]; n > most {
				best, most = l, n
			}
		}
		*c.collect = append(*c.collect, Example{X: x.f, Join: best == label})
	}
}

// Longness is the mean of how far the entries are long texts (0: all
// headlines or short posts, 1: all articles), as the model blends its
// short- and long-text weights and thresholds.
func Longness(cfg Config, entries []wire.Entry) (float64, error) {
	c, err := NewClusterer(cfg)
	if err != nil {
		return 0, err
	}
	if len(entries) == 0 {
		return 0, nil
	}
	var sum float64
	for _, e := range entries {
		sum += longness(len(c.vector(e)))
	}
	return sum / float64(len(entries)), nil
}
