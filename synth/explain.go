package synth

import (
	"encoding/json"
	"math"
)

// A Decision is why the clusterer placed one entry where it did, or why
// two stories merged: one JSON line per decision when Config.Explain is
// set (`newswire eval --explain FILE`). It is what an operator reads to
// see which evidence carried a wrong join, before retraining on their
// own labelled stream.
type Decision struct {
	// Kind is "join" (the entry joined Story), "found" (it founded
	// Story), "copy" (a repost or an accepted near-duplicate that joined
	// its original's story), "merge" (Merged was merged into Story) or
	// "split" (part of Story's reports left for the new story Split).
	Kind     string `json:"kind"`
	Entry    string `json:"entry,omitempty"`
	Headline string `json:"headline,omitempty"`
	Story    string `json:"story"`
	Merged   string `json:"merged,omitempty"`
	// Split is the story a "split" moved part of Story's reports to.
	Split string `json:"split,omitempty"`
	// Threshold is the join probability the entry needed (blended by its
	// length, Long).
	Threshold float64 `json:"threshold,omitempty"`
	Long      float64 `json:"long,omitempty"`
	// Candidates are the stories the entry was scored against, most
	// probable first (at most explainCandidates).
	Candidates []Candidate `json:"candidates,omitempty"`
}

// A Candidate is one story an entry was scored against.
type Candidate struct {
	Story string `json:"story"`
	// Headline is the headline of the story's founding entry.
	Headline string  `json:"headline"`
	Reports  int     `json:"reports"`
	P        float64 `json:"p"`
	// Terms are the model's log-odds terms that are not zero: feature
	// value times weight, by feature name; "bias" and, for a model with
	// trees, "trees" complete the sum, whose sigmoid is P. For a
	// candidate the member bound ruled out before its members were read
	// (Bounded), P is that bound and the terms have the member features
	// at zero.
	Terms   map[string]float64 `json:"terms"`
	Bounded bool               `json:"bounded,omitempty"`
}

// explainCandidates bounds how many candidates a decision lists.
const explainCandidates = 3

// explain writes d when explaining is on. A write error is kept and
// stops further writes (ExplainErr reports it): explaining must not
// change a decision, nor fail one.
func (c *Clusterer) explain(d Decision) {
	if c.cfg.Explain == nil || c.explainErr != nil {
		return
	}
	b, err := json.Marshal(d)
	if err == nil {
		_, err = c.cfg.Explain.Write(append(b, '\n'))
	}
	c.explainErr = err
}

// ExplainErr is the first error writing to Config.Explain, if any.
func (c *Clusterer) ExplainErr() error { return c.explainErr }

// explainPlacement describes where e went among cands.
func (c *Clusterer) explainPlacement(kind, entry, headline, story string, vec []term, cands []candidate) {
	if c.cfg.Explain == nil {
		return
	}
	d := Decision{Kind: kind, Entry: entry, Headline: headline, Story: story}
	if vec != nil {
		d.Threshold, d.Long = c.joinThreshold(vec), longness(len(vec))
	}
	for _, x := range cands[:min(len(cands), explainCandidates)] {
		d.Candidates = append(d.Candidates, c.candidateOf(x))
	}
	c.explain(d)
}

// candidateOf spells out x's log-odds.
func (c *Clusterer) candidateOf(x candidate) Candidate {
	out := Candidate{Story: x.s.id, Reports: x.s.reports, P: x.score, Terms: map[string]float64{"bias": c.model.Bias}}
	if len(x.s.members) > 0 {
		out.Headline = x.s.members[0].entry.Headline
	}
	linear := c.model.Bias
	for i, w := range c.model.w {
		if t := w * x.f[i]; t != 0 {
			out.Terms[featureNames[i]] = t
			linear += t
		}
	}
	if rest := c.model.logit(&x.f) - linear; math.Abs(rest) > 1e-12 {
		out.Terms["trees"] = rest
	}
	out.Bounded = x.bounded
	return out
}
