// Package synth groups wire entries into stories in a single online pass
// and builds story snapshots: headline, cited brief, first report, counts
// and the provenance list.
package synth

import (
	"errors"
	"math"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/newswire/newswire/wire"
	"github.com/newswire/newswire/words"
)

// Config configures the clusterer.
//
//	synth:
//	  threshold: 0.35          # cosine similarity needed to join a story
//	  window: 72h              # how far back a story can still take entries
//	  stale_after: 24h         # a story with no entry for this long goes stale
//	  df_half_life: 24h        # document frequencies decay with this half-life
//	  snapshot_interval: 250ms # at most one snapshot per story per interval
//	  max_provenance: 2000     # records in one snapshot; the rest are counted
type Config struct {
	Threshold        float64
	Window           time.Duration
	StaleAfter       time.Duration
	DFHalfLife       time.Duration
	SnapshotInterval time.Duration
	MaxProvenance    int
	// TitleWeight multiplies the weight of headline tokens over body tokens.
	TitleWeight float64
	// MaxBodyTokens caps how much of a long post's body is used.
	MaxBodyTokens int
}

// DefaultConfig returns the documented defaults.
func DefaultConfig() Config {
	return Config{
		Threshold:        0.35,
		Window:           72 * time.Hour,
		StaleAfter:       24 * time.Hour,
		DFHalfLife:       24 * time.Hour,
		SnapshotInterval: 250 * time.Millisecond,
		MaxProvenance:    2000,
		TitleWeight:      2,
		MaxBodyTokens:    120,
	}
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	var errs []error
	if c.Threshold <= 0 || c.Threshold >= 1 {
		errs = append(errs, errors.New("synth: threshold must be within (0, 1)"))
	}
	if c.Window <= 0 || c.StaleAfter <= 0 || c.DFHalfLife <= 0 {
		errs = append(errs, errors.New("synth: window, stale_after and df_half_life must be positive"))
	}
	if c.SnapshotInterval < 0 {
		errs = append(errs, errors.New("synth: snapshot_interval must not be negative"))
	}
	if c.MaxProvenance < 10 {
		errs = append(errs, errors.New("synth: max_provenance must be at least 10"))
	}
	if c.TitleWeight <= 0 || c.MaxBodyTokens < 0 {
		errs = append(errs, errors.New("synth: title_weight must be positive and max_body_tokens not negative"))
	}
	return errors.Join(errs...)
}

// Clusterer assigns each entry to a story as it arrives. It is not safe
// for concurrent use; the worker serialises calls. Given the same entries
// in the same order it makes the same decisions and the same story ids.
type Clusterer struct {
	cfg     Config
	df      map[string]*decayed
	docs    decayed
	clock   time.Time
	stories map[string]*story
	index   map[string][]*story // token → active stories whose centroid holds it
	byEntry map[string]*story   // entry id → its story, for active stories
	nextSeq int64
	added   int
	dirty   map[string]bool
}

type decayed struct {
	v  float64
	at time.Time
}

func (d *decayed) value(now time.Time, halfLife time.Duration) float64 {
	if d.at.IsZero() || !now.After(d.at) {
		return d.v
	}
	return d.v * math.Exp2(-float64(now.Sub(d.at))/float64(halfLife))
}

func (d *decayed) add(now time.Time, halfLife time.Duration, x float64) {
	d.v = d.value(now, halfLife) + x
	if now.After(d.at) {
		d.at = now
	}
}

type story struct {
	id         string
	seq        int64
	centroid   map[string]float64
	norm2      float64
	members    []member
	first      time.Time
	last       time.Time
	seen       time.Time // latest observed time of a member, for staleness
	active     bool
	version    int64
	mergedInto string
}

type member struct {
	entry wire.Entry // Text holds at most a snippet
	// independent is false for entries that copy or repost another.
	independent bool
}

// NewClusterer returns an empty clusterer.
func NewClusterer(cfg Config) (*Clusterer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Clusterer{
		cfg:     cfg,
		df:      make(map[string]*decayed),
		stories: make(map[string]*story),
		index:   make(map[string][]*story),
		byEntry: make(map[string]*story),
		dirty:   make(map[string]bool),
	}, nil
}

// StoryID derives a story's id from its founding entry.
func StoryID(entryID string) string { return "s" + strings.TrimPrefix(entryID, "e") }

// Add assigns e to a story and returns the story's id. Adding an entry that
// is already in an active story changes nothing and returns that story.
func (c *Clusterer) Add(e wire.Entry) string {
	if s, ok := c.byEntry[e.ID]; ok {
		return s.id
	}
	at := e.PublishedAt
	// The clock runs on arrival (observed) time: staleness and frequency
	// decay follow what the wire delivers, even when sources backfill old posts.
	if e.ObservedAt.After(c.clock) {
		c.clock = e.ObservedAt
	}
	c.added++
	if c.added%256 == 0 {
		c.expire()
	}
	independent := e.DuplicateOf == "" && e.RepostOf == ""
	if !independent {
		if s, ok := c.byEntry[firstNonEmpty(e.DuplicateOf, e.RepostOf)]; ok && s.active {
			c.join(s, e, nil, false)
			return s.id
		}
	}
	vec := c.vector(e)
	best, bestScore := c.best(vec, at)
	for t := range vec {
		c.df[t] = c.dfFor(t)
		c.df[t].add(c.clock, c.cfg.DFHalfLife, 1)
	}
	c.docs.add(c.clock, c.cfg.DFHalfLife, 1)
	if best != nil && bestScore >= c.cfg.Threshold {
		c.join(best, e, vec, true)
		return best.id
	}
	s := &story{id: StoryID(e.ID), seq: c.nextSeq, centroid: make(map[string]float64), first: at, last: at, active: true}
	c.nextSeq++
	c.stories[s.id] = s
	c.join(s, e, vec, true)
	return s.id
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func (c *Clusterer) dfFor(t string) *decayed {
	if d, ok := c.df[t]; ok {
		return d
	}
	return &decayed{}
}

// vector is the entry's L2-normalised TF-IDF vector over headline and body tokens.
func (c *Clusterer) vector(e wire.Entry) map[string]float64 {
	tf := make(map[string]float64)
	for _, t := range words.Split(e.Headline) {
		if keep(t) {
			tf[t] += c.cfg.TitleWeight
		}
	}
	body := e.Text
	if strings.HasPrefix(body, e.Headline) {
		body = body[len(e.Headline):]
	}
	n := 0
	for _, t := range words.Split(body) {
		if n >= c.cfg.MaxBodyTokens {
			break
		}
		if keep(t) {
			tf[t]++
			n++
		}
	}
	docs := c.docs.value(c.clock, c.cfg.DFHalfLife)
	var norm2 float64
	for t, f := range tf {
		df := 0.0
		if d, ok := c.df[t]; ok {
			df = d.value(c.clock, c.cfg.DFHalfLife)
		}
		w := (1 + math.Log(f)) * (math.Log((docs+1)/(df+1)) + 1)
		tf[t] = w
		norm2 += w * w
	}
	if norm2 > 0 {
		inv := 1 / math.Sqrt(norm2)
		for t := range tf {
			tf[t] *= inv
		}
	}
	return tf
}

func keep(t string) bool {
	if stopwords[t] {
		return false
	}
	return utf8.RuneCountInString(t) >= 2 || t[0] >= 0x80 && utf8.RuneCountInString(t) == 1 && isIdeograph(t)
}

func isIdeograph(t string) bool {
	r, _ := utf8.DecodeRuneInString(t)
	return r >= 0x2E80
}

// best finds the active story most similar to vec among those sharing a token with it.
func (c *Clusterer) best(vec map[string]float64, at time.Time) (*story, float64) {
	terms := sortedTerms(vec)
	seen := make(map[*story]bool)
	var best *story
	bestScore := 0.0
	for _, t := range terms {
		for _, s := range c.index[t] {
			if seen[s] || !s.active {
				continue
			}
			seen[s] = true
			if at.Sub(s.last) > c.cfg.Window || s.first.Sub(at) > c.cfg.Window {
				continue
			}
			var dot float64
			for _, u := range terms {
				dot += vec[u] * s.centroid[u]
			}
			score := dot / math.Sqrt(s.norm2)
			if score > bestScore || (score == bestScore && best != nil && s.seq < best.seq) {
				best, bestScore = s, score
			}
		}
	}
	return best, bestScore
}

func sortedTerms(vec map[string]float64) []string {
	terms := make([]string, 0, len(vec))
	for t := range vec {
		terms = append(terms, t)
	}
	sort.Strings(terms)
	return terms
}

// join adds e to s; a vector, when given, moves the story's centroid.
func (c *Clusterer) join(s *story, e wire.Entry, vec map[string]float64, independent bool) {
	for _, t := range sortedTerms(vec) {
		w := vec[t]
		old, had := s.centroid[t]
		s.norm2 += 2*old*w + w*w
		s.centroid[t] = old + w
		if !had {
			c.index[t] = append(c.index[t], s)
		}
	}
	e.Text = snippet(e.Text, 600)
	s.members = append(s.members, member{entry: e, independent: independent})
	if e.PublishedAt.After(s.last) {
		s.last = e.PublishedAt
	}
	if e.PublishedAt.Before(s.first) {
		s.first = e.PublishedAt
	}
	if e.ObservedAt.After(s.seen) {
		s.seen = e.ObservedAt
	}
	c.byEntry[e.ID] = s
	c.dirty[s.id] = true
}

func snippet(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

// expire retires stories that have been quiet for StaleAfter of stream time.
func (c *Clusterer) expire() {
	var gone []*story
	for _, s := range c.stories {
		if s.active && c.clock.Sub(s.seen) > c.cfg.StaleAfter {
			gone = append(gone, s)
		}
	}
	if len(gone) == 0 {
		return
	}
	sort.Slice(gone, func(i, j int) bool { return gone[i].seq < gone[j].seq })
	for _, s := range gone {
		s.active = false
		c.dirty[s.id] = true
		for t := range s.centroid {
			c.index[t] = removeStory(c.index[t], s)
			if len(c.index[t]) == 0 {
				delete(c.index, t)
			}
		}
		for _, m := range s.members {
			delete(c.byEntry, m.entry.ID)
		}
	}
	// Forget document frequencies that have decayed to nothing.
	for t, d := range c.df {
		if d.value(c.clock, c.cfg.DFHalfLife) < 0.01 {
			delete(c.df, t)
		}
	}
}

func removeStory(list []*story, s *story) []*story {
	for i, x := range list {
		if x == s {
			return append(list[:i], list[i+1:]...)
		}
	}
	return list
}

// StoryOf returns the id of the active story holding an entry.
func (c *Clusterer) StoryOf(entryID string) (string, bool) {
	s, ok := c.byEntry[entryID]
	if !ok {
		return "", false
	}
	return s.id, true
}

// TakeDirty returns the ids of stories changed since the last call, in a
// deterministic order, and clears the set.
func (c *Clusterer) TakeDirty() []string {
	ids := make([]string, 0, len(c.dirty))
	for id := range c.dirty {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	clear(c.dirty)
	return ids
}

// Forget drops a stale story from memory once its last snapshot is out.
func (c *Clusterer) Forget(id string) {
	if s, ok := c.stories[id]; ok && !s.active {
		delete(c.stories, id)
	}
}

// SetVersion sets the version of a story's last published snapshot, after
// a restart rebuilt the state.
func (c *Clusterer) SetVersion(id string, v int64) {
	if s, ok := c.stories[id]; ok && v > s.version {
		s.version = v
	}
}

// Len is the number of stories in memory and of active entries.
func (c *Clusterer) Len() (stories, entries int) { return len(c.stories), len(c.byEntry) }
