// Package synth groups wire entries into stories in a single online pass
// and builds story snapshots: headline, cited brief, first report, counts
// and the provenance list.
package synth

import (
	"cmp"
	"errors"
	"io"
	"math"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/newswire/newswire/bus"
	"github.com/newswire/newswire/wire"
)

// Config configures the clusterer. The defaults are documented in
// synth/README.md with the evaluation that chose them.
//
//	synth:
//	  model: ""                # a model file from `newswire train` ("": the shipped synth/model.json)
//	  threshold: 0             # join probability at which an entry joins its most probable story (0: the model's)
//	  merge_threshold: 0       # join probability a member must reach to vote for a merge (0: the model's)
//	  window: 72h              # how far back a story can still take entries
//	  stale_after: 24h         # a story with no entry for this long goes stale
//	  df_half_life: 24h        # document frequencies decay with this half-life
//	  time_half_life: 6h       # the unit of the model's time gap feature (stretched by a story's span, up to twice this)
//	  slug_weight: 0.5         # weight of the words in a link's slug
//	  snapshot_interval: 50ms  # at most one snapshot per story per interval (per 100 members)
//	  merge_pass_interval: 5m  # stream time between merge passes (0: off)
//	  max_provenance: 2000     # records in one snapshot; the rest are counted
type Config struct {
	// Threshold is the join probability (see Model) at which an entry
	// joins its most probable candidate story; below it, it founds one.
	// Zero takes the model's, which training chose for short and long
	// texts.
	Threshold float64
	// MergeThreshold is the join probability at which one member of a
	// story votes for merging it with another (see agree); zero takes
	// the model's.
	MergeThreshold   float64
	Window           time.Duration
	StaleAfter       time.Duration
	DFHalfLife       time.Duration
	TimeHalfLife     time.Duration
	SnapshotInterval time.Duration
	MaxProvenance    int
	// TitleWeight multiplies the weight of headline tokens over body tokens.
	TitleWeight float64
	// ProperWeight multiplies the weight of names, acronyms and numbers.
	ProperWeight float64
	// SlugWeight is the weight of the words of a link's slug; zero
	// leaves links out.
	SlugWeight float64
	// MaxBodyTokens caps how much of a long post's body is used.
	MaxBodyTokens int
	// RecentMembers is how many of a story's latest members it is compared
	// against one by one.
	RecentMembers int
	// Candidates is how many stories found through the index are scored fully.
	Candidates int
	// MergePassInterval is how much stream time (observed times, see
	// Add) passes between merge passes, which look at the small stories
	// changed since the last pass and merge each with its nearest story
	// when the members agree (see agree). Passes fall on multiples of
	// the interval, so a run rebuilt from the stream after a restart
	// makes them at the same entries as one that never stopped. Zero
	// turns the pass off.
	MergePassInterval time.Duration
	// MergePassMaxSize is the most members a story may have to look for
	// a home in the merge pass: a young thread is the likely fragment.
	MergePassMaxSize int
	// MinCoherence: a story of coherenceReports or more reports whose
	// members' mean pairwise cosine is below this is loose, a topic
	// ("the war", "the markets") rather than an event; the model sees
	// that as a feature. Zero turns it off.
	MinCoherence float64
	// SplitRatio: a story of full articles whose reports fall into two
	// groups (average linkage) whose mean cosine across is under
	// SplitRatio times the mean cosine within the looser group is two
	// events, and the group without its oldest report becomes a story of
	// its own (see split). Zero turns it off.
	SplitRatio float64
	// Model decides whether an entry joins a story (see Model); nil
	// means the model shipped in model.json.
	Model *Model
	// Explain, when set, receives one JSON line per decision (see
	// Decision): `newswire eval --explain`. A worker that rebuilds its
	// state after a restart decides again and would write again, so it
	// is for evaluation runs.
	Explain io.Writer
	// RedeliveryBackoff paces the worker's redeliveries of an entry whose
	// ack never came (a crashed or fenced worker): its first step is the
	// consumer's ack wait, the last repeats until the last delivery.
	RedeliveryBackoff []time.Duration
}

// DefaultConfig returns the documented defaults.
func DefaultConfig() Config {
	return Config{
		Window:            72 * time.Hour,
		StaleAfter:        24 * time.Hour,
		DFHalfLife:        24 * time.Hour,
		TimeHalfLife:      6 * time.Hour,
		SnapshotInterval:  50 * time.Millisecond,
		MaxProvenance:     2000,
		TitleWeight:       2,
		ProperWeight:      1.2,
		SlugWeight:        0.5,
		MaxBodyTokens:     120,
		RecentMembers:     64,
		Candidates:        8,
		MergePassInterval: 5 * time.Minute,
		MergePassMaxSize:  10,
		MinCoherence:      0.08,
		SplitRatio:        0.7,
		RedeliveryBackoff: DefaultRedeliveryBackoff(),
	}
}

// DefaultRedeliveryBackoff is the synthesizer's default redelivery pacing.
func DefaultRedeliveryBackoff() []time.Duration {
	return []time.Duration{30 * time.Second, time.Minute, 2 * time.Minute, 5 * time.Minute}
}

// ConfigError is one setting Validate refuses; Key is its name in the
// configuration file's synth section.
type ConfigError struct {
	Key string
	Msg string
}

func (e *ConfigError) Error() string { return "synth: " + e.Key + " " + e.Msg }

// Validate reports a configuration that cannot work: every refused
// setting, as a *ConfigError, joined.
func (c Config) Validate() error {
	var errs []error
	bad := func(key, msg string) { errs = append(errs, &ConfigError{Key: key, Msg: msg}) }
	if c.Threshold < 0 || c.Threshold >= 1 {
		bad("threshold", "must be within [0, 1)")
	}
	if c.MergeThreshold < 0 || c.MergeThreshold > 1 {
		bad("merge_threshold", "must be within [0, 1]")
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{{"window", c.Window}, {"stale_after", c.StaleAfter}, {"df_half_life", c.DFHalfLife}, {"time_half_life", c.TimeHalfLife}} {
		if d.v <= 0 {
			bad(d.key, "must be positive")
		}
	}
	if c.SnapshotInterval < 0 {
		bad("snapshot_interval", "must not be negative")
	}
	if c.MaxProvenance < 10 {
		bad("max_provenance", "must be at least 10")
	}
	if c.TitleWeight <= 0 {
		bad("title_weight", "must be positive")
	}
	if c.ProperWeight <= 0 {
		bad("proper_weight", "must be positive")
	}
	if c.MaxBodyTokens < 0 {
		bad("max_body_tokens", "must not be negative")
	}
	if c.SlugWeight < 0 {
		bad("slug_weight", "must not be negative")
	}
	if c.RecentMembers < 1 {
		bad("recent_members", "must be at least 1")
	}
	if c.Candidates < 1 {
		bad("candidates", "must be at least 1")
	}
	if c.MergePassInterval < 0 {
		bad("merge_pass_interval", "must not be negative")
	}
	if c.MergePassMaxSize < 0 {
		bad("merge_pass_max_size", "must not be negative")
	}
	if c.MinCoherence < 0 || c.MinCoherence >= 1 {
		bad("min_coherence", "must be within [0, 1)")
	}
	if c.SplitRatio < 0 || c.SplitRatio > 1 {
		bad("split_ratio", "must be within [0, 1]")
	}
	if msg := bus.CheckBackoff(c.RedeliveryBackoff, flushTimeout, maxDeliver); msg != "" {
		bad("redelivery_backoff", msg)
	}
	return errors.Join(errs...)
}

// Clusterer assigns each entry to a story as it arrives. It is not safe
// for concurrent use; the worker serialises calls. Given the same entries
// in the same order it makes the same decisions and the same story ids.
type Clusterer struct {
	cfg   Config
	stems *stemmer
	// df holds each term's decayed document frequency and the term's
	// canonical string: vectors share that one string, so the equality
	// checks of dot products and map lookups stop at the pointer instead
	// of comparing bytes.
	df      map[string]*docFreq
	docs    decayed
	clock   time.Time
	stories map[string]*story
	index   map[string]*postList // term → active stories whose centroid holds it
	// Stories in the index have a dense number: postings name it, and the
	// scoring loops accumulate in hits by it, so walking a posting list
	// reads one dense array instead of the stories.
	live    []*story
	free    []int32
	hits    []hit
	times   []storyTimes      // what the window filter and expiry read
	byEntry map[string]*story // entry id → its story, for active stories
	nextSeq int64
	dirty   map[string]bool
	// sentences holds the terms of the sentences snapshots have read,
	// by language and text (see sentenceTerms).
	sentences map[[2]string][]termCount
	// Housekeeping runs on the stream clock (see schedule): expiry,
	// forgetting decayed terms, and the merge pass.
	expiry, vocab, passing schedule
	// scratch space reused by every Add, so that the hot path does not allocate per candidate;
	// after vector, bag[:len(vecOf)] holds, by place, the folded words vecOf was built
	// from, whose casing counts Add adds to the stream's (docFreq.named)
	bag []bagTerm
	// vecDF holds, by place, the document-frequency entry of each term of
	// the vector vector returned last (nil for a term not seen before),
	// and vecRef the stemmer cache entry that should remember it, so that
	// Add counts the term without a second lookup.
	vecDF  []*docFreq
	vecRef []*stemmed
	vecOf  []term // the vector vecDF and vecRef describe
	cands  []candidate
	common []term
	order  []int32
	probe  probe
	// fragment holds the centroid of the story the merge pass is placing,
	// and prods its products with a candidate's, by place.
	fragment probe
	prods    []float64
	matched  []bool
	touched  []int32
	epoch    uint64
	toks     []token
	// changed holds the stories that took an entry since the last merge pass.
	changed []*story
	passes  uint64
	pick    []int32
	found   []candidate
	// model decides joins.
	model Model
	// collect, when set, receives the training examples (see Examples),
	// and byLabel the active story of each gold label.
	collect *[]Example
	// explainErr is the first error writing a Decision (see explain).
	explainErr error
	byLabel    map[string]*story
	// labelOf, set only while collecting examples on the model's own
	// decisions (see PolicyExamples), holds each placed entry's gold story.
	labelOf map[string]string
	// changes counts what Add did to stories since the clusterer was made.
	changes StoryChanges
}

// StoryChanges counts stories founded, merged away into another and gone
// stale. The worker reads them around each live Add, so that what a
// rebuild replays is not counted again.
type StoryChanges struct {
	Founded, Merged, Stale, Split int64
}

// Changes returns the story changes since the clusterer was made.
func (c *Clusterer) Changes() StoryChanges { return c.changes }

// Active is the number of active stories: those in the index, which
// entries can still join.
func (c *Clusterer) Active() int { return len(c.live) - len(c.free) }

// bagTerm is one token occurrence on its way into a vector. Sorting the
// occurrences by term and adding up each run replaces a map per entry;
// pos keeps the additions in token order, as a running sum would.
type bagTerm struct {
	h      uint64
	t      string
	pos    int32
	f      float64
	proper bool
	head   bool // the term is in the headline
	// capped is set for a capitalised word of a Title Case text, or one
	// that starts a sentence, where the capital says nothing and the
	// stream decides (see docFreq.named); and for a word whose writing
	// has no case at all (bare).
	capped bool
	// bare is set for a word of a script without capitals or of a text
	// written without any: it is a name also when the stream has never
	// written it either way (docFreq.caseUnknown).
	bare bool
	// named and plain count the word's capitalised and small-letter
	// occurrences inside sentences of texts whose capitals mark names.
	named, plain float64
	ref          *stemmed
}

// hit is what retrieval accumulates for one story, by its dense number:
// the fields one posting updates sit together, so that a posting costs
// one cache line, not one in each of four arrays.
type hit struct {
	mark  uint64  // the epoch of the retrieval that last touched the story
	acc   float64 // the entry's overlap with the centroid so far
	norm  float64 // the centroid's length, √norm2
	reach reach   // what the entry may share with one member (see score)
}

// storyTimes mirrors a story's time span and latest observed time by
// its dense number, so that the filters that look at every story found
// or held read one dense array.
type storyTimes struct {
	first, last, seen time.Time
}

type docFreq struct {
	decayed
	// forgotten is set when forgetTerms drops the entry, so that a
	// stemmer cache entry still pointing at it looks the term up again.
	forgotten bool
	term      string
	// word is how the term reads in text (the term may be a stem).
	word string
	// named and plain count, over the stream, the term's capitalised and
	// small-letter occurrences inside sentences of texts whose capitals
	// mark names. A Title Case headline ("Ferry Capsizes on Zimbabwe's
	// Lake Kariba") marks no names by itself; a word of it the stream
	// mostly writes with a capital is taken for one: truecasing by the
	// stream's own usage, in any language that has capitals.
	named, plain float64
}

// isName reports whether the stream mostly writes the term with a capital.
func (d *docFreq) isName() bool { return d != nil && !d.forgotten && d.named > d.plain }

// caseUnknown reports whether the stream has never written the term inside
// a sentence of a text whose capitals mark names; nil is a term the
// stream has not held.
func (d *docFreq) caseUnknown() bool {
	return d == nil || d.named == 0 && d.plain == 0
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

// term is one weighted dimension of a vector. Vectors are kept as slices
// sorted by term so that every sum runs in the same order and gives the
// same bits on every run: the decisions must be reproducible.
type term struct {
	h uint64 // hash of t: vectors sort and join on it, strings only break its ties
	t string
	w float64
	// p marks a name, acronym or figure: the terms that tell one event
	// from another of the same kind (see features); hd a headline term;
	// g a name only because the word's case is unknown (a word of a text
	// without capitals the stream has never written either way).
	p, hd, g bool
}

func newTerm(t string, w float64) term { return term{h: hashTerm(t), t: t, w: w} }

// hashTerm is 64-bit FNV-1a: a fixed function, so that the order of terms,
// and with it every floating-point sum, is the same in every process.
func hashTerm(t string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(t); i++ {
		h ^= uint64(t[i])
		h *= 1099511628211
	}
	return h
}

func termLess(a, b term) bool {
	if a.h != b.h {
		return a.h < b.h
	}
	return a.t < b.t
}

func compareTerms(a, b term) int {
	if c := cmp.Compare(a.h, b.h); c != 0 {
		return c
	}
	return strings.Compare(a.t, b.t)
}

func sortTerms(v []term) { slices.SortFunc(v, compareTerms) }

type story struct {
	// The fields read for every story the index finds come first, so that
	// one or two cache lines decide whether the story may take an entry.
	cw     []float64
	norm2  float64
	seq    int64
	active bool
	first  time.Time
	last   time.Time
	// num is the story's dense number while it is in the index; pos
	// holds, per centroid term, the place of its posting in that term's list.
	num int32
	pos []int32
	pl  []*postList // per centroid term, its posting list

	id string
	// The centroid is the sum of the members' unit vectors: slots finds a
	// term's place in cw (weights), ct (terms) and ch (hashes) by the
	// term's hash, so that postings can point straight at a weight and a
	// lookup hashes no string. A second term with the hash of one already
	// held (possible, never seen) gets its place from clash instead.
	slots []slot
	held  int // places in slots
	clash map[string]int32
	ct    []string
	ch    []uint64
	// cp marks the centroid's names and figures (a term any member used
	// as one), and pnorm2 is the squared length of that part.
	cp     []bool
	pnorm2 float64
	// recent holds the vectors of the latest independent members, oldest
	// first, and sigs their term signatures.
	recent [][]term
	sigs   []signature
	rpn    []float64 // length of each recent member's names part
	rids   []string  // each recent member's entry id
	// guessed is set once a member's names were guessed (see term.g):
	// the plain-words rule then does not apply (see plainBack).
	guessed    bool
	members    []member
	seen       time.Time // latest observed time of a member, for staleness
	version    int64
	mergedInto string
	splitFrom  string // the story this one split off (see split)
	// published is when the worker last published a snapshot of the story
	// (wall time, for rate limiting only; it never affects clustering),
	// and publishedBytes that snapshot's size.
	published      time.Time
	publishedBytes int
	// passEpoch is one more than the number of the merge pass for which
	// the story is already queued: zero is never queued.
	passEpoch uint64
	// reports counts the members whose words are in the centroid: reposts
	// and copies make a story no bigger for merging.
	reports int
	// label is the gold story of the founding entry, set only while
	// examples are collected for training (see Examples).
	label string
}

type member struct {
	entry wire.Entry // Text holds at most a snippet
	// independent is false for entries that copy or repost another.
	independent bool
	// founded is set on the entry a story's id was made of (see StoryID):
	// the one that founded it, or the first of a split's part (see split).
	founded bool
}

// NewClusterer returns an empty clusterer.
func NewClusterer(cfg Config) (*Clusterer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	model := DefaultModel()
	if cfg.Model != nil {
		model = *cfg.Model
	}
	return &Clusterer{
		cfg:     cfg,
		df:      make(map[string]*docFreq),
		stories: make(map[string]*story),
		index:   make(map[string]*postList),
		byEntry: make(map[string]*story),
		dirty:   make(map[string]bool),
		stems:   newStemmer(),
		model:   model,
	}, nil
}

// StoryID derives a story's id from its founding entry.
func StoryID(entryID string) string { return "s" + strings.TrimPrefix(entryID, "e") }

// Add assigns e to a story and returns the story's id. Adding an entry that
// is already in an active story changes nothing and returns that story,
// except that a withdrawal marks the entry withdrawn there. A withdrawal
// of an entry no active story holds (its story went stale, or the entry
// never arrived) takes no story and returns "": the deleted post has
// nothing left to retract, and its bare id must not found a story.
func (c *Clusterer) Add(e wire.Entry) string { return c.add(e, "") }

// add places e; label, set only while collecting training examples,
// is its gold story: the clusterer then records the features of every
// candidate it scores and puts e in its gold story, so that the stories
// it compares later entries with are the true ones.
func (c *Clusterer) add(e wire.Entry, label string) string {
	if s, ok := c.byEntry[e.ID]; ok {
		if e.Withdrawn {
			for i := range s.members {
				if m := &s.members[i]; m.entry.ID == e.ID && !m.entry.Withdrawn {
					m.entry.Withdrawn = true
					c.dirty[s.id] = true
				}
			}
		}
		return s.id
	}
	if e.Withdrawn {
		return ""
	}
	at := e.PublishedAt
	// A time the normalizer could not read is the fetch time, which many
	// entries of one poll share: it says nothing about belonging together.
	noTime := slices.ContainsFunc(e.Flags, timeReplaced)
	// The clock runs on arrival (observed) time: staleness and frequency
	// decay follow what the wire delivers, even when sources backfill old posts.
	if e.ObservedAt.After(c.clock) {
		c.clock = e.ObservedAt
	}
	c.runDue()
	var vec []term
	if e.RepostOf != "" {
		// A platform repost says nothing new: it joins its original's story
		// and leaves the centroid where the independent reports put it.
		if s, ok := c.byEntry[e.RepostOf]; ok && s.active {
			c.join(s, e, nil, false)
			c.explainPlacement("copy", e.ID, e.Headline, s.id, nil, nil)
			return s.id
		}
	} else if e.DuplicateOf != "" {
		// A near-duplicate is the normalizer's estimate from a short text's
		// shingles; it joins its original's story like a repost when its
		// words are at home there, and is clustered like any entry when
		// they are not (a false match on boilerplate such as "Share this").
		//
		// While following gold labels too, the model decides this, as in
		// production: a near-duplicate it accepts gives no example, one it
		// turns away meets its candidates like any entry. These are the
		// decisions the model faces, but it is the model the binary ships
		// with that makes them, so training depends on it through these
		// yes-or-no answers alone (synth/README.md, "make train").
		if s, ok := c.byEntry[e.DuplicateOf]; ok && s.active {
			vec = c.vector(e)
			if c.scoreStory(s, vec, at, noTime) >= c.joinThreshold(vec) {
				c.join(s, e, nil, false)
				c.explainPlacement("copy", e.ID, e.Headline, s.id, vec, nil)
				return s.id
			}
		}
	}
	if vec == nil {
		vec = c.vector(e)
	}
	cands := c.score(vec, at, noTime)
	for i, x := range vec {
		d := c.vecDF[i] // looked up by vector; nothing has changed the table since
		if d == nil {
			// The first vector to hold a term lends it its string.
			d = &docFreq{term: x.t, word: x.t}
			c.df[x.t] = d
			if r := c.vecRef[i]; r != nil {
				d.word, r.df = r.word, d
			}
		}
		vec[i].t = d.term
		d.add(c.clock, c.cfg.DFHalfLife, 1)
		d.named += c.bag[i].named
		d.plain += c.bag[i].plain
	}
	c.docs.add(c.clock, c.cfg.DFHalfLife, 1)
	independent := e.DuplicateOf == "" && e.RepostOf == ""
	if c.collect != nil && label != "" {
		if c.labelOf == nil {
			return c.addGold(e, label, vec, independent, cands, at)
		}
		c.addPolicy(label, cands)
	}
	if len(cands) > 0 && cands[0].score >= c.joinThreshold(vec) {
		best := cands[0].s
		c.join(best, e, vec, independent)
		c.explainPlacement("join", e.ID, e.Headline, best.id, vec, cands)
		c.mergeLinked(best, cands[1:], c.joinThreshold(vec))
		for best.mergedInto != "" {
			best = c.stories[best.mergedInto]
		}
		if t := c.split(best); t != nil {
			return c.byEntry[e.ID].id
		}
		return best.id
	}
	s := c.foundStory(e, vec, independent, at)
	c.explainPlacement("found", e.ID, e.Headline, s.id, vec, cands)
	return s.id
}

// joinThreshold is the join probability vec needs: the configured one,
// or the model's for its length of text.
func (c *Clusterer) joinThreshold(vec []term) float64 {
	if c.cfg.Threshold > 0 {
		return c.cfg.Threshold
	}
	return c.model.blend(c.model.Join, longness(len(vec)))
}

// mergeThreshold is the join probability at which a member of vec votes
// for a merge (see votes).
func (c *Clusterer) mergeThreshold(vec []term) float64 {
	if c.cfg.MergeThreshold > 0 {
		return c.cfg.MergeThreshold
	}
	return c.model.blend(c.model.Merge, longness(len(vec)))
}

// foundStory opens a new story with e as its first member.
func (c *Clusterer) foundStory(e wire.Entry, vec []term, independent bool, at time.Time) *story {
	s := &story{id: StoryID(e.ID), seq: c.nextSeq, first: at, last: at, active: true}
	c.nextSeq++
	c.number(s)
	c.stories[s.id] = s
	c.changes.Founded++
	c.join(s, e, vec, independent)
	s.members[0].founded = true
	return s
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// vector is the entry's L2-normalised TF-IDF vector over headline and body
// terms, sorted by term.
func (c *Clusterer) vector(e wire.Entry) []term {
	bag := c.bag[:0]
	var cased, more bool
	c.toks, cased = tokenize(c.stems, e.Lang, e.Headline, 0, c.toks[:0])
	bag = appendWords(bag, c.toks, c.cfg.TitleWeight, true)
	body := e.Body()
	if c.cfg.MaxBodyTokens > 0 && body != "" {
		c.toks, more = tokenize(c.stems, e.Lang, body, c.cfg.MaxBodyTokens, c.toks[:0])
		cased = cased || more
		bag = appendWords(bag, c.toks, 1, false)
	}
	if !cased {
		// A text without one capital in the words read (a post typed in
		// small letters; links and handles aside) says nothing of which
		// of its words are names: the stream decides, as for a Title
		// Case headline, and its small letters are no evidence against a
		// name. Numbers stay what they are: figures are names already,
		// years and small numbers never.
		for i := range bag {
			if !bag[i].proper && !hasDigit(bag[i].t) {
				bag[i].capped, bag[i].bare, bag[i].plain = true, true, 0
			}
		}
	}
	if c.cfg.SlugWeight > 0 {
		// The words of the link's slug: often the first headline, or
		// keywords the headline leaves out.
		c.toks = slugTokens(c.stems, e.Lang, e.URL, c.toks[:0])
		for _, t := range c.toks {
			bag = append(bag, bagTerm{h: hashTerm(t.term), t: t.term, pos: int32(len(bag)), f: c.cfg.SlugWeight, ref: t.ref})
		}
	}
	slices.SortFunc(bag, func(a, b bagTerm) int {
		if c := cmp.Compare(a.h, b.h); c != 0 {
			return c
		}
		if c := strings.Compare(a.t, b.t); c != 0 {
			return c
		}
		return cmp.Compare(a.pos, b.pos)
	})
	// Fold each run of one term into its first occurrence.
	n := 0
	for i := 0; i < len(bag); i++ {
		if n > 0 && bag[n-1].h == bag[i].h && bag[n-1].t == bag[i].t {
			bag[n-1].f += bag[i].f
			bag[n-1].proper = bag[n-1].proper || bag[i].proper
			bag[n-1].head = bag[n-1].head || bag[i].head
			bag[n-1].capped = bag[n-1].capped || bag[i].capped
			bag[n-1].bare = bag[n-1].bare || bag[i].bare
			bag[n-1].named += bag[i].named
			bag[n-1].plain += bag[i].plain
			if bag[n-1].ref == nil {
				bag[n-1].ref = bag[i].ref
			}
			continue
		}
		bag[n] = bag[i]
		n++
	}
	c.bag = bag
	docs := c.docs.value(c.clock, c.cfg.DFHalfLife)
	vec := make([]term, n)
	dfs, refs := c.vecDF[:0], c.vecRef[:0]
	for i, x := range bag[:n] {
		df, t := 0.0, x.t
		d := (*docFreq)(nil)
		if x.ref != nil && x.ref.df != nil && !x.ref.df.forgotten {
			d = x.ref.df
		} else if d = c.df[x.t]; d != nil && x.ref != nil {
			x.ref.df = d
		}
		if d != nil {
			df, t = d.value(c.clock, c.cfg.DFHalfLife), d.term
		}
		// A bare word that the stream has never written either way counts
		// as a name, as every word of a text in capitals does: otherwise a
		// stream in a script without capitals would name nothing, and the
		// names features, which carry most of the evidence between full
		// articles, would all be zero.
		guessed := false
		if x.capped && !x.proper && (d.isName() || x.bare && d.caseUnknown()) {
			x.proper, guessed = true, !d.isName()
		}
		dfs, refs = append(dfs, d), append(refs, x.ref)
		// A term seen once in the slug or headline weighs f = slug_weight
		// or title_weight; below 1/e its log-scaled frequency would turn
		// negative. It is floored at zero: no term counts against a story,
		// which the member bound in score relies on.
		w := max(0, 1+math.Log(x.f)) * (math.Log((docs+1)/(df+1)) + 1)
		if x.proper {
			w *= c.cfg.ProperWeight
		}
		vec[i] = term{h: x.h, t: t, w: w, p: x.proper, hd: x.head, g: guessed}
	}
	c.vecDF, c.vecRef, c.vecOf = dfs, refs, vec
	unitLength(vec)
	return vec
}

// appendWords adds the words of one text to bag, each counting f.
// Capitals mark names inside sentences, except in a Title Case text, whose
// capitalised words, like a sentence's first, are names only if the
// stream says so (docFreq.named); the other texts add to that evidence.
func appendWords(bag []bagTerm, toks []token, f float64, head bool) []bagTerm {
	title := titleCase(toks)
	for _, t := range toks {
		x := bagTerm{h: hashTerm(t.term), t: t.term, pos: int32(len(bag)), f: f, proper: t.proper, head: head, ref: t.ref}
		switch {
		case t.uncased:
			x.capped, x.bare = true, true
		case t.initial:
			x.capped = true
		case title:
			x.capped = t.capital
		case t.capital:
			x.proper, x.named = true, 1
		case t.lower:
			x.plain = 1
		}
		bag = append(bag, x)
	}
	return bag
}

// refsOf returns the stemmer cache entries of vec's terms, by place, when
// vec is the vector vector returned last, and nil otherwise.
func (c *Clusterer) refsOf(vec []term) []*stemmed {
	if len(vec) == 0 || len(c.vecOf) != len(vec) || &c.vecOf[0] != &vec[0] {
		return nil
	}
	return c.vecRef
}

// postingsOf is the posting list of term t, nil when no active story
// holds it. ref, the stemmer cache entry of a word that stands for t
// (nil when there is none), remembers the list: a word seen before finds
// it without hashing the term.
func (c *Clusterer) postingsOf(t string, ref *stemmed) *postList {
	if ref != nil && ref.post != nil && !ref.post.gone {
		return ref.post
	}
	pl := c.index[t]
	if pl != nil && ref != nil {
		ref.post = pl
	}
	return pl
}

// unitLength scales vec to L2 length 1, so that a dot product is a cosine.
func unitLength(vec []term) {
	var norm2 float64
	for _, x := range vec {
		norm2 += x.w * x.w
	}
	if norm2 > 0 {
		inv := 1 / math.Sqrt(norm2)
		for i := range vec {
			vec[i].w *= inv
		}
	}
}

type candidate struct {
	s     *story
	score float64 // the join probability, or the partial overlap while retrieving
	f     features
	// bounded marks a candidate ruled out by the member bound: score is
	// the bound's probability and f has its member features at zero.
	bounded bool
}

// maxPostings bounds how long a posting list the retrieval walks: a term
// held by that many active stories is too common to find a story by,
// though it still counts in the full score of the stories found otherwise.
const maxPostings = 128

// score finds the active stories sharing a term with vec through the
// index, keeps the Candidates with the largest partial centroid overlap,
// and gives those their join probability (see features and Model). The
// result is sorted best first, ties to the older story.
func (c *Clusterer) score(vec []term, at time.Time, noTime bool) []candidate {
	// Scratch fields on the stories, stamped with an epoch, accumulate the
	// overlap: cheaper than a map on the hottest loop.
	c.epoch++
	touched := c.touched[:0]
	common := c.common[:0] // terms too common to retrieve by; added to the full score below
	hits := c.hits
	refs := c.refsOf(vec)
	for k, x := range vec {
		var ref *stemmed
		if refs != nil {
			ref = refs[k]
		}
		var post []posting
		if pl := c.postingsOf(x.t, ref); pl != nil {
			post = pl.p
		}
		if len(post) > maxPostings {
			common = append(common, x)
			continue
		}
		for _, p := range post {
			h := &hits[p.num]
			if h.mark != c.epoch {
				h.mark, h.acc, h.reach = c.epoch, 0, reach{}
				touched = append(touched, p.num)
			}
			h.acc += x.w * p.w
			h.reach.add(x.w, p.w)
		}
	}
	c.touched, c.common = touched, common
	// Keep the Candidates best by partial overlap: a bounded insertion
	// instead of sorting every story that shares a term. The slice is
	// scratch: the caller is done with it before the next score.
	found := c.cands[:0]
	better := func(a, b candidate) bool {
		if a.score != b.score {
			return a.score > b.score
		}
		return a.s.seq < b.s.seq
	}
	for _, num := range touched {
		// Rank on the dense arrays first: only a story that would enter
		// the list is read to see whether its time span admits the entry.
		v := hits[num].acc / hits[num].norm
		if len(found) == c.cfg.Candidates && v < found[len(found)-1].score {
			continue
		}
		x := candidate{s: c.live[num], score: v}
		// A story that has become a topic takes no new report: what
		// comes next about "the war" is a new event's story. The rule
		// sits on top of the model, like the thresholds: examples are
		// collected without it (see topicRule).
		if c.topicRule() && c.loose(x.s) {
			continue
		}
		if len(found) == c.cfg.Candidates && !better(x, found[len(found)-1]) {
			continue
		}
		// Postings hold only active stories; the window is the filter.
		if tm := &c.times[num]; at.Sub(tm.last) > c.cfg.Window || tm.first.Sub(at) > c.cfg.Window {
			continue
		}
		i := len(found)
		found = append(found, x)
		for ; i > 0 && better(x, found[i-1]); i-- {
			found[i] = found[i-1]
		}
		found[i] = x
		if len(found) > c.cfg.Candidates {
			found = found[:c.cfg.Candidates]
		}
	}
	q := c.query(vec, at, noTime)
	need := c.joinThreshold(vec) * (1 - 1e-9)
	probing := false
	for i := range found {
		s := found[i].s
		dot, r := hits[s.num].acc, hits[s.num].reach
		for _, x := range common {
			cw := s.weight(x.h, x.t)
			dot += x.w * cw
			r.add(x.w, cw)
		}
		f, plainC := c.pairFeatures(s, &q, dot)
		// The best member match the bound allows: when even it leaves
		// the story under the threshold, the members need not be read.
		f[featMember] = r.bound()
		// A member can share a name with the entry only if the centroid
		// holds that term as a name: no shared name, no names cosine.
		if f[featNamesCentroid] > 0 {
			f[featNamesMember] = 1
		}
		f[featShared] = math.Log1p(float64(r.n))
		bound := f
		bound.interact(q.long, q.reach, -1)
		if p := c.model.probability(&bound); c.collect == nil && c.model.monotone() && p < need {
			f[featMember], f[featNamesMember], f[featShared] = 0, 0, 0
			f.interact(q.long, q.reach, c.plainBack(plainC, 0))
			found[i].f, found[i].score, found[i].bounded = f, p, true
			continue
		}
		if !probing {
			c.probe.fill(vec)
			probing = true
		}
		var plainM float64
		f[featMember], f[featNamesMember], f[featShared], plainM = c.members(s, &q)
		f.interact(q.long, q.reach, c.plainBack(plainC, plainM))
		found[i].f, found[i].score = f, c.model.probability(&f)
	}
	slices.SortFunc(found, func(a, b candidate) int {
		if better(a, b) {
			return -1
		}
		if better(b, a) {
			return 1
		}
		return 0
	})
	c.cands = found
	return found
}

// query is what the features need to know of the entry being placed.
type query struct {
	vec    []term
	at     time.Time
	noTime bool
	names  float64 // length of the vector's names part
	long   float64 // see longness
	reach  float64 // see namesReach
	plain  float64 // length of the vector's part that is not names
	// guessed: some of the vector's names were guessed (see term.g)
	guessed bool
}

func (c *Clusterer) query(vec []term, at time.Time, noTime bool) query {
	names, n := namesPart(vec)
	return query{vec: vec, at: at, noTime: noTime, names: names, long: longness(len(vec)), reach: namesReach(n),
		plain: rest(1, names*names), guessed: guessedNames(vec)}
}

// pairFeatures fills every feature of (entry, s) but the member ones,
// given the entry's dot product with s's centroid.
func (c *Clusterer) pairFeatures(s *story, q *query, dot float64) (features, float64) {
	var f features
	f[featCentroid] = dot / math.Sqrt(s.norm2)
	// What the entry names, and what its headline says, that the story
	// never did: a new name in the headline is most often another event.
	var nd, namesAll, namesNew, headAll, headNew float64
	for _, x := range q.vec {
		if !x.p && !x.hd {
			continue
		}
		i, ok := s.find(x.h, x.t)
		if x.p {
			namesAll += x.w * x.w
			if !ok {
				namesNew += x.w * x.w
			} else if s.cp[i] {
				nd += x.w * s.cw[i]
			}
		}
		if x.hd {
			headAll += x.w * x.w
			if !ok {
				headNew += x.w * x.w
			}
		}
	}
	if namesAll > 0 {
		f[featNamesNew] = namesNew / namesAll
	}
	if headAll > 0 {
		f[featHeadNew] = headNew / headAll
	}
	if q.names > 0 && s.pnorm2 > 0 {
		f[featNamesCentroid] = cosine(nd, q.names, math.Sqrt(s.pnorm2))
	} else {
		f[featNoNames] = 1
	}
	if q.noTime {
		f[featNoTime] = 1
	} else {
		f[featGap] = gapFeature(s, q.at, c.cfg.TimeHalfLife)
	}
	f[featSize] = math.Log1p(float64(s.reports))
	if c.loose(s) {
		f[featLoose] = 1
	}
	// Where either side's names were guessed (a text without capitals)
	// or either side has no plain words (every word a name, as in a text
	// in capitals), the words that are not names say nothing of the
	// names: the plain-words rule does not apply (-1). dot and nd add
	// the shared names' products in different orders, so where every
	// shared term is a name dot-nd is 0 only up to rounding, either way;
	// a negative residue must not read as "does not apply".
	plain := -1.0
	if sp := rest(s.norm2, s.pnorm2); q.plain > 0 && sp > 0 && !q.guessed && !s.guessed {
		plain = min(1, max(0, cosine(dot-nd, q.plain, sp)))
	}
	return f, plain
}

// guessedNames reports whether any of vec's names was guessed.
func guessedNames(vec []term) bool {
	for _, x := range vec {
		if x.g {
			return true
		}
	}
	return false
}

// rest is the length of the part of a vector of squared length all that
// is not in a part of squared length part; 0 when nothing is left beyond
// rounding.
func rest(all, part float64) float64 {
	if d := all - part; d > 1e-12*all {
		return math.Sqrt(d)
	}
	return 0
}

// members is the best cosine of the loaded entry with one of s's recent
// members, and the best cosine of its names with one member's.
//
// shared is ln(1 + the terms the entry shares with its nearest member):
// one rare word in common can make a high cosine between two short
// texts, and it is weak evidence.
func (c *Clusterer) members(s *story, q *query) (near, names, shared, plain float64) {
	most := 0
	for k := range s.sigs {
		if s.sigs[k].meets(c.probe.sig) {
			d, nd, n := c.probe.dot(s.recent[k])
			if d > near {
				near, most = d, n
			}
			names = max(names, cosine(nd, q.names, s.rpn[k]))
			plain = max(plain, min(1, cosine(d-nd, q.plain, rest(1, s.rpn[k]*s.rpn[k]))))
		}
	}
	return near, names, math.Log1p(float64(most)), plain
}

// reach bounds the cosine of an entry with any one member of a story from
// what the entry shares with the story's centroid. The centroid is the
// sum of its members' unit vectors, whose weights are never negative, so
// a member's weight for a term is at most min(1, the centroid's weight).
// Summed over the shared terms, that bounds a member's dot product (lin);
// so does the length of the entry's part on those terms, by
// Cauchy–Schwarz (√sq).
//
// n counts the shared terms, which bounds the terms a member shares.
type reach struct {
	lin, sq float64
	n       int
}

func (r *reach) add(w, cw float64) {
	if cw > 0 {
		r.lin += w * min(cw, 1)
		r.sq += w * w
		r.n++
	}
}

// bound is the largest cosine a member can have with the entry.
func (r reach) bound() float64 { return min(1, r.lin, math.Sqrt(r.sq)) }

// coherenceReports is the fewest reports a story needs before its
// coherence is judged: a few members' mean similarity says little.
const coherenceReports = 10

// coherence is the mean cosine between two of the story's reports. The
// centroid C is the sum of n unit vectors, so |C|² = n + the sum of the
// n(n−1) ordered pairs' cosines: no pair needs to be compared.
func (s *story) coherence() float64 {
	n := float64(s.reports)
	return (s.norm2 - n) / (n * (n - 1))
}

// topicRule reports whether loose stories are kept from taking reports
// and merges. Training collects its examples with the rule off, so the
// model learns from the same pairs and states as before the rule (the
// thresholds are still chosen with it on): the dev sets' broad gold
// stories become topics, and the examples the rule removed moved the
// fitted weights by up to 0.02, enough to move ECB+ and the feeds as
// retraining noise does (synth/README.md, "Topics take nothing").
func (c *Clusterer) topicRule() bool { return c.collect == nil }

// plainBack is what interact takes for a pair whose cosines over the
// words that are not names are centroid (-1: the rule does not apply, see
// pairFeatures) and member (the best with one recent member).
//
// Names count only as far as the words agree (wordsBack), but the words
// two reports share may be names themselves: Al Jazeera's "Karoline
// Leavitt to step down as White House press secretary, Trump says" and
// the NYT's "Which Trump Officials Joined Him on His Secret Flight…"
// agree in "Trump" and "White House", so the all-words cosine backs the
// names with the names. Under this rule the names evidence counts only
// as far as the plain words agree as well. Like the topic rule it sits
// on top of the model: examples are collected without it (-1), because
// a model fitted with it moved the dev sets' thresholds and lost ECB+
// (synth/README.md, "Plain words back names"). It can only lower a
// names cosine, so the member bound, taken without it, stays a bound.
func (c *Clusterer) plainBack(centroid, member float64) float64 {
	if c.collect != nil || centroid < 0 {
		return -1
	}
	return max(centroid, member)
}

// loose reports whether s is a topic rather than an event (see
// Config.MinCoherence).
func (c *Clusterer) loose(s *story) bool {
	return c.cfg.MinCoherence > 0 && s.reports >= coherenceReports && s.coherence() < c.cfg.MinCoherence
}

// scoreStory is the join probability of one story for vec.
func (c *Clusterer) scoreStory(s *story, vec []term, at time.Time, noTime bool) float64 {
	var dot float64
	for _, x := range vec {
		dot += x.w * s.weight(x.h, x.t)
	}
	q := c.query(vec, at, noTime)
	f, plainC := c.pairFeatures(s, &q, dot)
	c.probe.fill(vec)
	var plainM float64
	f[featMember], f[featNamesMember], f[featShared], plainM = c.members(s, &q)
	f.interact(q.long, q.reach, c.plainBack(plainC, plainM))
	return c.model.probability(&f)
}

// join adds e to s; a vector, when given, moves the story's centroid and
// becomes one of its recent members.
func (c *Clusterer) join(s *story, e wire.Entry, vec []term, independent bool) {
	if vec != nil {
		s.reports++
		c.addCentroid(s, vec)
		s.recent = append(s.recent, vec)
		s.sigs = append(s.sigs, signatureOf(vec))
		names, _ := namesPart(vec)
		s.rpn = append(s.rpn, names)
		s.rids = append(s.rids, e.ID)
		s.guessed = s.guessed || guessedNames(vec)
		if n := len(s.recent) - c.cfg.RecentMembers; n > 0 {
			s.recent, s.sigs, s.rpn, s.rids = s.recent[n:], s.sigs[n:], s.rpn[n:], s.rids[n:]
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
	c.times[s.num] = storyTimes{s.first, s.last, s.seen}
	c.byEntry[e.ID] = s
	c.dirty[s.id] = true
	if vec != nil && s.passEpoch != c.passes+1 {
		s.passEpoch = c.passes + 1
		c.changed = append(c.changed, s)
	}
}

func (c *Clusterer) addCentroid(s *story, vec []term) {
	refs := c.refsOf(vec)
	for k, x := range vec {
		i, had := s.find(x.h, x.t)
		if !had {
			var ref *stemmed
			if refs != nil {
				ref = refs[k]
			}
			pl := c.postingsOf(x.t, ref)
			if pl == nil {
				pl = &postList{}
				c.index[x.t] = pl
				if ref != nil {
					ref.post = pl
				}
			}
			i = int32(len(s.cw))
			s.ch = append(s.ch, x.h)
			if !s.place(i) {
				if s.clash == nil {
					s.clash = make(map[string]int32)
				}
				s.clash[x.t] = i
			}
			s.cw = append(s.cw, 0)
			s.cp = append(s.cp, false)
			s.ct = append(s.ct, x.t)
			s.pos = append(s.pos, int32(len(pl.p)))
			s.pl = append(s.pl, pl)
			pl.p = append(pl.p, posting{num: s.num, i: i})
		}
		old := s.cw[i]
		s.norm2 += 2*old*x.w + x.w*x.w
		s.cw[i] = old + x.w
		switch {
		case s.cp[i]:
			s.pnorm2 += 2*old*x.w + x.w*x.w
		case x.p:
			s.cp[i] = true
			s.pnorm2 += s.cw[i] * s.cw[i]
		}
		s.pl[i].p[s.pos[i]].w = s.cw[i]
	}
	c.hits[s.num].norm = math.Sqrt(s.norm2)
}

// mergeLinked merges into one story the stories that an entry just
// joined to s was also probable enough to join, when their members agree
// (see agree): two threads that the wire has shown to be one event. The
// older story survives; the other publishes a final snapshot pointing to
// it. need is the entry's join threshold.
func (c *Clusterer) mergeLinked(s *story, others []candidate, need float64) {
	for _, o := range others {
		if o.score < need {
			break
		}
		if !o.s.active || o.s == s || o.s.mergedInto != "" {
			continue
		}
		if !c.agree(s, o.s) {
			continue
		}
		keep, gone := s, o.s
		if gone.seq < keep.seq {
			keep, gone = gone, keep
		}
		c.merge(keep, gone)
		s = keep
	}
}

// agree reports whether two stories are one event by their members: the
// smaller story's recent members are each scored against the larger
// story as if they arrived now, and more than half must be let in. One
// entry that links two stories, or two centroids that drifted close on a
// topic's words, is not enough: every report of the fragment must look
// like a report of the other story, which is what stops chains.
func (c *Clusterer) agree(a, b *story) bool {
	if c.topicRule() && (c.loose(a) || c.loose(b)) {
		return false // a topic absorbs no story, nor is absorbed
	}
	if c.parted(a, b) || c.parted(b, a) {
		return false // their members showed two events (see split)
	}
	return c.votes(a, b) && c.votes(b, a)
}

// parted reports whether a was split off b, or off a story since merged
// into b: a merge must not undo what the split found.
func (c *Clusterer) parted(a, b *story) bool {
	return a.splitFrom != "" && c.Survivor(a.splitFrom) == b.id
}

// votes reports whether more than half of from's recent members would
// join to at MergeThreshold.
//
// Two stories of one report each are one pair of reports, and the later
// of them was already refused (or never reached) when it arrived: their
// merge would be that join, so each report needs the join threshold. A
// merge threshold under the join threshold is for stories whose reports
// agree as a majority; between two single reports it let a stray word
// merge what the join had kept apart ("…disability support is in crisis"
// with "…deepen Libya's energy crisis", synth/README.md).
func (c *Clusterer) votes(from, to *story) bool {
	if len(from.recent) == 0 {
		return false
	}
	at := to.first // spans that overlap are no time apart
	switch {
	case from.last.Before(to.first):
		at = from.last
	case from.first.After(to.last):
		at = from.first
	}
	n := len(from.recent)
	need := n/2 + 1
	yes := 0
	single := from.reports == 1 && to.reports == 1
	for k, vec := range from.recent {
		bar := c.mergeThreshold(vec)
		if single {
			bar = max(bar, c.joinThreshold(vec))
		}
		if c.scoreStory(to, vec, at, false) >= bar {
			yes++
		}
		if yes >= need || yes+n-k-1 < need {
			break
		}
	}
	return yes >= need
}

// centroidCosine sums over the smaller centroid's terms in string order,
// a fixed order whatever the order the terms came in.
func (c *Clusterer) centroidCosine(a, b *story) float64 {
	if len(a.cw) > len(b.cw) {
		a, b = b, a
	}
	order := c.order[:0]
	for i := range a.ct {
		order = append(order, int32(i))
	}
	slices.SortFunc(order, func(i, j int32) int { return strings.Compare(a.ct[i], a.ct[j]) })
	var dot float64
	for _, i := range order {
		dot += a.cw[i] * b.weight(a.ch[i], a.ct[i])
	}
	c.order = order
	return dot / math.Sqrt(a.norm2*b.norm2)
}

// merge moves every member of gone into keep.
func (c *Clusterer) merge(keep, gone *story) {
	c.explain(Decision{Kind: "merge", Story: keep.id, Merged: gone.id})
	terms := make([]term, 0, len(gone.cw))
	for i, t := range gone.ct {
		terms = append(terms, term{h: gone.ch[i], t: t, w: gone.cw[i], p: gone.cp[i]})
	}
	sortTerms(terms)
	c.unindex(gone)
	c.addCentroid(keep, terms)
	keep.reports += gone.reports
	keep.recent = append(keep.recent, gone.recent...)
	keep.sigs = append(keep.sigs, gone.sigs...)
	keep.rpn = append(keep.rpn, gone.rpn...)
	keep.rids = append(keep.rids, gone.rids...)
	keep.guessed = keep.guessed || gone.guessed
	if n := len(keep.recent) - c.cfg.RecentMembers; n > 0 {
		keep.recent, keep.sigs, keep.rpn, keep.rids = keep.recent[n:], keep.sigs[n:], keep.rpn[n:], keep.rids[n:]
	}
	for _, m := range gone.members {
		keep.members = append(keep.members, m)
		c.byEntry[m.entry.ID] = keep
	}
	keep.first = minTime(keep.first, gone.first)
	if gone.last.After(keep.last) {
		keep.last = gone.last
	}
	if gone.seen.After(keep.seen) {
		keep.seen = gone.seen
	}
	c.times[keep.num] = storyTimes{keep.first, keep.last, keep.seen}
	gone.active = false
	gone.mergedInto = keep.id
	c.changes.Merged++
	gone.recent, gone.sigs, gone.rpn, gone.rids = nil, nil, nil, nil
	c.dirty[keep.id] = true
	c.dirty[gone.id] = true
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// number gives a story entering the index a dense number, reusing the
// numbers of stories that left it.
func (c *Clusterer) number(s *story) {
	if n := len(c.free); n > 0 {
		s.num = c.free[n-1]
		c.free = c.free[:n-1]
		c.live[s.num] = s
		return
	}
	s.num = int32(len(c.live))
	c.live = append(c.live, s)
	c.hits = append(c.hits, hit{})
	c.times = append(c.times, storyTimes{})
}

// unindex removes s's postings and frees its number. A posting is
// replaced by its list's last one: the order of a list does not matter,
// since every ranking that reads it breaks ties by story age.
func (c *Clusterer) unindex(s *story) {
	for k, t := range s.ct {
		pl := s.pl[k]
		list := pl.p
		at, last := s.pos[k], len(list)-1
		if int(at) != last {
			moved := list[last]
			list[at] = moved
			c.live[moved.num].pos[moved.i] = at
		}
		pl.p = list[:last]
		if last == 0 {
			pl.gone = true
			delete(c.index, t)
		}
	}
	s.pos, s.pl = nil, nil
	c.live[s.num] = nil
	c.free = append(c.free, s.num)
	s.num = -1
}

func snippet(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strings.Clone(s[:cut]) // not a slice that keeps the whole text alive
}

// expire retires stories that have been quiet for StaleAfter of stream time.
func (c *Clusterer) expire() {
	var gone []*story
	for num, s := range c.live { // the active stories, and nil for free numbers
		if s != nil && c.clock.Sub(c.times[num].seen) > c.cfg.StaleAfter {
			gone = append(gone, s)
		}
	}
	if len(gone) == 0 {
		return
	}
	sort.Slice(gone, func(i, j int) bool { return gone[i].seq < gone[j].seq })
	c.changes.Stale += int64(len(gone))
	for _, s := range gone {
		s.active = false
		s.recent, s.sigs, s.rpn, s.rids = nil, nil, nil, nil
		c.dirty[s.id] = true
		c.unindex(s)
		for _, m := range s.members {
			delete(c.byEntry, m.entry.ID)
		}
	}
}

// forgetTerms drops document frequencies that have decayed to nothing, so
// the vocabulary held stays that of the recent wire.
func (c *Clusterer) forgetTerms() {
	for t, d := range c.df {
		if d.value(c.clock, c.cfg.DFHalfLife) < 0.01 {
			d.forgotten = true
			delete(c.df, t)
		}
	}
}

// postList is the posting list of one term. A list that lost its last
// posting is gone: it left the index, and a stemmer cache entry still
// pointing at it looks the term up again.
type postList struct {
	p    []posting
	gone bool
}

// posting is one story in a term's posting list: its dense number, the
// place of the term in its centroid, and a copy of the term's centroid
// weight there (kept in step by addCentroid), so that retrieval reads
// the weight without visiting the story.
type posting struct {
	num int32
	i   int32
	w   float64
}

// weight is the centroid weight of t (whose hash is h), zero when the
// story lacks it.
func (s *story) weight(h uint64, t string) float64 {
	if i, ok := s.find(h, t); ok {
		return s.cw[i]
	}
	return 0
}

// slot is one cell of a story's term table: the high half of a term's
// hash, and its place in the centroid plus one (zero marks a free cell).
type slot struct{ tag, at uint32 }

// find is the place of term t, whose hash is h, in the centroid. The
// table is open addressing with linear probing over a flat array: one
// story's lookup reads one or two cache lines, where a map reads its
// header, a directory and a group first. Scoring looks up the common terms
// of an entry in each candidate this way.
func (s *story) find(h uint64, t string) (int32, bool) {
	if len(s.slots) == 0 {
		return 0, false
	}
	mask, tag := uint64(len(s.slots)-1), uint32(h>>32)
	for k := h & mask; ; k = (k + 1) & mask {
		c := s.slots[k]
		if c.at == 0 {
			return 0, false
		}
		if i := int32(c.at - 1); c.tag == tag && s.ch[i] == h {
			if s.ct[i] == t {
				return i, true
			}
			i, ok := s.clash[t]
			return i, ok
		}
	}
}

// place enters place i, whose hash is s.ch[i], in the table, unless a
// term with that hash is there already (then it reports false, and the
// caller keeps i in clash). The table doubles when it would be over
// three-quarters full.
func (s *story) place(i int32) bool {
	if 4*(s.held+1) > 3*len(s.slots) {
		old := s.slots
		s.slots = make([]slot, max(8, 2*len(old)))
		s.held = 0
		for _, c := range old {
			if c.at != 0 {
				s.put(c)
			}
		}
	}
	h := s.ch[i]
	mask, tag := uint64(len(s.slots)-1), uint32(h>>32)
	for k := h & mask; ; k = (k + 1) & mask {
		c := s.slots[k]
		if c.at == 0 {
			s.slots[k] = slot{tag, uint32(i) + 1}
			s.held++
			return true
		}
		if c.tag == tag && s.ch[c.at-1] == h {
			return false
		}
	}
}

// put enters a cell known to be absent, when the table grows.
func (s *story) put(c slot) {
	mask := uint64(len(s.slots) - 1)
	k := s.ch[c.at-1] & mask
	for s.slots[k].at != 0 {
		k = (k + 1) & mask
	}
	s.slots[k] = c
	s.held++
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

// storyBytesPerSecond bounds the snapshot bytes one story puts on the bus
// per second: a story whose last snapshot was b bytes waits b ÷ this
// before its next, when that is longer than SnapshotInterval. A snapshot
// costs the synthesizer, the server's disk and every reader in
// proportion to its size, so a big story is published less often and
// its cost per second stays bounded, while stories of up to ~200 KiB
// (a few hundred headlines) keep the plain interval and their latency.
const storyBytesPerSecond = 4 << 20

// TakeDue returns, in a deterministic order, the changed stories whose
// last snapshot is old enough at now (every, or longer for a big story:
// see storyBytesPerSecond), and clears them; stories published more
// recently stay changed for a later call. The first change to a quiet
// story goes out at once, a burst is coalesced.
func (c *Clusterer) TakeDue(now time.Time, every time.Duration) []string {
	ids := make([]string, 0, len(c.dirty))
	for id := range c.dirty {
		if s, ok := c.stories[id]; ok && now.Sub(s.published) < s.snapshotGap(every) {
			continue
		}
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		delete(c.dirty, id)
	}
	return ids
}

// snapshotGap is the least time between two of the story's snapshots.
func (s *story) snapshotGap(every time.Duration) time.Duration {
	if every <= 0 {
		return 0
	}
	return max(every, time.Duration(s.publishedBytes)*time.Second/storyBytesPerSecond)
}

// MarkPublished records when a story's snapshot of size bytes went out.
func (c *Clusterer) MarkPublished(id string, at time.Time, size int) {
	if s, ok := c.stories[id]; ok {
		s.published, s.publishedBytes = at, size
	}
}

// Unpublished reports whether the story holding an entry has changes not
// yet published: the entry must not be acknowledged before they are.
func (c *Clusterer) Unpublished(entryID string) bool {
	s, ok := c.byEntry[entryID]
	return ok && c.dirty[s.id]
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

// Survivor follows a story's merges to the story that holds its entries
// now. A story no longer in memory is its own survivor.
func (c *Clusterer) Survivor(id string) string {
	for hops := 0; hops < 64; hops++ {
		s, ok := c.stories[id]
		if !ok || s.mergedInto == "" {
			break
		}
		id = s.mergedInto
	}
	return id
}

// mergePass merges each small story that changed since the last pass
// with the active story whose centroid is most like its own, when their
// members agree (see agree). A join decides on one entry
// as it arrives, before later reports show two threads are one event;
// the pass revisits that decision for the few stories the last entries
// touched, so its cost stays bounded by the stories one MergePassInterval changes.
func (c *Clusterer) mergePass() {
	queue := c.changed
	c.changed = nil
	c.passes++
	sort.Slice(queue, func(i, j int) bool { return queue[i].seq < queue[j].seq })
	for _, s := range queue {
		// A story merged away since it was queued stands for its
		// survivor; one the worker already forgot has nothing to merge.
		s, ok := c.stories[c.Survivor(s.id)]
		if !ok {
			continue
		}
		// Only a small story looks for a home: its few terms keep the
		// lookup cheap, and a big story that changed is found by the
		// small ones around it.
		if !s.active || c.cfg.MergePassMaxSize > 0 && len(s.members) > c.cfg.MergePassMaxSize {
			continue
		}
		o, _ := c.nearestStory(s)
		if o == nil || !c.agree(s, o) {
			continue
		}
		keep, gone := s, o
		if gone.seq < keep.seq {
			keep, gone = gone, keep
		}
		c.merge(keep, gone)
	}
}

// passTerms is how many of a story's heaviest centroid terms the merge
// pass retrieves by: a fragment's home shares its main words, and walking
// every term's postings would cost more than the joins the pass revisits.
const passTerms = 16

// passCandidates is how many of the stories found get the exact cosine:
// a fragment's home is nearly always the first or second by overlap.
const passCandidates = 3

// nearestStory finds, through the index, the active story whose centroid
// is most like s's, and its time-discounted cosine. Ties go to the older.
func (c *Clusterer) nearestStory(s *story) (*story, float64) {
	c.epoch++
	touched := c.touched[:0]
	hits := c.hits
	c.pick = heaviest(s, passTerms, c.pick[:0])
	for _, i := range c.pick {
		post := s.pl[i].p
		if len(post) > maxPostings {
			continue
		}
		w := s.cw[i]
		for _, p := range post {
			if p.num == s.num {
				continue
			}
			h := &hits[p.num]
			if h.mark != c.epoch {
				h.mark, h.acc = c.epoch, 0
				touched = append(touched, p.num)
			}
			h.acc += w * p.w
		}
	}
	c.touched = touched
	// The overlap on the heaviest terms ranks; the few best get the exact
	// cosine over all of s's terms.
	found := c.found[:0]
	for _, num := range touched {
		v := hits[num].acc / hits[num].norm
		if len(found) == passCandidates && v < found[len(found)-1].score {
			continue
		}
		x := candidate{s: c.live[num], score: v}
		// A topic merges with nothing (see agree): the pass looks for
		// the nearest story that could take the fragment.
		if c.topicRule() && c.loose(x.s) {
			continue
		}
		i := len(found)
		found = append(found, x)
		for ; i > 0 && (x.score > found[i-1].score || x.score == found[i-1].score && x.s.seq < found[i-1].s.seq); i-- {
			found[i] = found[i-1]
		}
		found[i] = x
		if len(found) > passCandidates {
			found = found[:passCandidates]
		}
	}
	c.found = found
	var best *story
	var bestScore float64
	// The fragment table is valid for this call only: s's weights change
	// with its next member.
	c.fragment.owner = nil
	defer func() { c.fragment.owner = nil }()
	for _, x := range found {
		dot := c.centroidDot(s, x.s)
		v := dot / math.Sqrt(s.norm2*x.s.norm2) * spanFactor(s, x.s, c.cfg.TimeHalfLife)
		if v > bestScore || v == bestScore && best != nil && x.s.seq < best.seq {
			best, bestScore = x.s, v
		}
	}
	return best, bestScore
}

// heaviest returns the places of s's n largest centroid weights, ties to
// the earlier place, so the choice is the same on every run.
func heaviest(s *story, n int, pick []int32) []int32 {
	for i, w := range s.cw {
		if len(pick) == n && w <= s.cw[pick[n-1]] {
			continue
		}
		j := len(pick)
		if j < n {
			pick = append(pick, 0)
		} else {
			j = n - 1
		}
		for ; j > 0 && w > s.cw[pick[j-1]]; j-- {
			pick[j] = pick[j-1]
		}
		pick[j] = int32(i)
	}
	return pick
}

// spanFactor discounts two stories by the gap between their time spans
// in plain time_half_life units (the model's entry gap, gapFeature, is
// stretched by the story's span; this ranking of merge candidates is not).
func spanFactor(a, b *story, halfLife time.Duration) float64 {
	var gap time.Duration
	switch {
	case b.first.After(a.last):
		gap = b.first.Sub(a.last)
	case a.first.After(b.last):
		gap = a.first.Sub(b.last)
	}
	return math.Exp2(-float64(gap) / float64(halfLife))
}

// probe holds one vector's terms in an open-addressing table by hash. An
// entry is compared with up to RecentMembers vectors of each of
// Candidates stories; one probe per term of each of those is cheaper than
// merging both sorted vectors, whose branches the CPU cannot predict.
type probe struct {
	slots []probeSlot
	mask  uint64
	sig   signature
	// owner and terms name the centroid a fragment table holds.
	owner *story
	terms int
}

type probeSlot struct {
	h uint64
	t string // empty marks a free slot: no term is empty
	w float64
	i int32 // the term's place in the vector or centroid it came from
	p bool  // the term is a name or figure
}

// reset empties the table and sizes it for terms entries: a power of two
// at least four times that, so that it stays at most a quarter full.
func (p *probe) reset(terms int) {
	n := 16
	for n < 4*terms {
		n *= 2
	}
	if cap(p.slots) < n {
		p.slots = make([]probeSlot, n)
	}
	p.slots = p.slots[:n]
	clear(p.slots)
	p.mask = uint64(n - 1)
}

// fill loads vec, keeping the table at most a quarter full so that a
// probe for an absent term (the common case) mostly ends at once.
func (p *probe) fill(vec []term) {
	p.reset(len(vec))
	p.sig = signatureOf(vec)
	for _, x := range vec {
		i := x.h & p.mask
		for p.slots[i].t != "" {
			i = (i + 1) & p.mask
		}
		p.slots[i] = probeSlot{x.h, x.t, x.w, 0, x.p}
	}
}

// dot is the dot product of the loaded vector with m. The products are
// added in m's order, which is the sorted order a merge of the two
// vectors adds them in, so the sum has the same bits as dotVec's.
//
// names is the same product over the terms that are names or figures in
// both vectors.
//
// shared counts the terms the two have in common.
func (p *probe) dot(m []term) (d, names float64, shared int) {
	for _, x := range m {
		for i := x.h & p.mask; ; i = (i + 1) & p.mask {
			sl := &p.slots[i]
			if sl.t == "" {
				break
			}
			if sl.h == x.h && sl.t == x.t {
				shared++
				d += sl.w * x.w
				if sl.p && x.p {
					names += sl.w * x.w
				}
				break
			}
		}
	}
	return d, names, shared
}

// signature has one bit set per term of a vector, chosen by the term's
// hash. Two vectors whose signatures do not meet share no term, so their
// dot product is exactly zero and need not be computed: most recent
// members of a candidate story share nothing with the entry but the
// common words that found the story, and reading their vectors is what
// scoring spends its time on.
type signature [4]uint64

func signatureOf(vec []term) signature {
	var s signature
	for _, x := range vec {
		b := x.h >> 56
		s[b>>6] |= 1 << (b & 63)
	}
	return s
}

func (a *signature) meets(b signature) bool {
	return a[0]&b[0]|a[1]&b[1]|a[2]&b[2]|a[3]&b[3] != 0
}

// centroidDot is Σ s.cw[i]·o's weight of s.ct[i], summed in s's order.
// A fragment's centroid is small and its candidate's may be small too:
// then o's terms are probed against a table of s's and the products are
// summed in s's order afterwards (a term o lacks adds +0, so skipping it
// leaves the bits alone), which avoids one map lookup per term of s.
func (c *Clusterer) centroidDot(s, o *story) float64 {
	var dot float64
	if len(o.ct) > 4*len(s.ct) {
		for i, t := range s.ct {
			dot += s.cw[i] * o.weight(s.ch[i], t)
		}
		return dot
	}
	p := &c.fragment
	if p.fillCentroid(s) {
		c.prods = slices.Grow(c.prods[:0], len(s.ct))[:len(s.ct)]
		c.matched = slices.Grow(c.matched[:0], len(s.ct))[:len(s.ct)]
	}
	clear(c.matched)
	for j, h := range o.ch {
		for k := h & p.mask; ; k = (k + 1) & p.mask {
			sl := &p.slots[k]
			if sl.t == "" {
				break
			}
			if sl.h == h && sl.t == o.ct[j] {
				c.prods[sl.i] = sl.w * o.cw[j]
				c.matched[sl.i] = true
				break
			}
		}
	}
	for i, ok := range c.matched {
		if ok {
			dot += c.prods[i]
		}
	}
	return dot
}

// fillCentroid loads s's centroid unless it is the one loaded already,
// and reports whether it loaded it.
func (p *probe) fillCentroid(s *story) bool {
	if p.owner == s && p.terms == len(s.ct) {
		return false
	}
	p.reset(len(s.ct))
	for i, t := range s.ct {
		k := s.ch[i] & p.mask
		for p.slots[k].t != "" {
			k = (k + 1) & p.mask
		}
		p.slots[k] = probeSlot{s.ch[i], t, s.cw[i], int32(i), s.cp[i]}
	}
	p.owner, p.terms = s, len(s.ct)
	return true
}
