package synth

import (
	"math"
	"slices"
)

// A story of full articles can hold two events of one kind: the first
// report of the second quake, or of a firm's second takeover, finds its
// nearest member in the first event's story and joins it, and the second
// event's reports then follow it in. No join decision sees this, since
// each of them compares one article with one member; the members as a
// whole do. splitParts is the fewest reports each part must hold, so that
// one odd article never leaves on its own.
const splitParts = 3

// splitTerms is the median number of terms of a story's reports from
// which it may split: full articles, whose reports of one event repeat
// its who, where and what at length. Headlines and posts are left to the
// join model: on the UCI headlines the same rule split true stories, and
// on the Telegram posts (median 35 terms) it cut developing stories into
// their phases (the blast, then the arrest) about as often as it parted
// two events (synth/README.md, "Split").
const splitTerms = 60

// splitDue reports whether a story of n reports is checked: every time
// while it is small, then at every eighth report, so that the cost, cubic
// in n, stays a small share of the joins.
func splitDue(n int) bool { return n <= 16 || n%8 == 0 }

// split looks at s, which has just taken a report, and when its members
// fall into two groups that are far apart (see parts) and ran side by
// side, moves the group that does not hold its oldest member into a new
// story. It returns the new story, or nil.
//
// Only what the story still holds in full is split: every report's
// vector must be among its recent members. A split is decided by the
// stream alone, so a worker rebuilt after a restart splits at the same
// report, with the same ids.
func (c *Clusterer) split(s *story) *story {
	n := len(s.recent)
	if c.cfg.SplitRatio <= 0 || !c.topicRule() || !s.active || n < 2*splitParts || n != s.reports || !splitDue(n) {
		return nil
	}
	long := 0 // reports of splitTerms or more: the median is when half are
	for _, v := range s.recent {
		if len(v) >= splitTerms {
			long++
		}
	}
	if long < n-n/2 {
		return nil
	}
	away := c.parts(s.recent)
	if away == nil {
		return nil
	}
	moving := make(map[string]bool, len(away))
	for _, k := range away {
		moving[s.rids[k]] = true
	}
	vecOf := make(map[string][]term, n)
	for k, id := range s.rids {
		vecOf[id] = s.recent[k]
	}
	var stay, leave []member
	for _, m := range s.members {
		e := m.entry
		// A copy that joined as one (no vector of its own) follows its
		// original; one clustered on its own words (a repost that came
		// before its original, a near-duplicate the model turned away)
		// went where the groups put it.
		copied := e.RepostOf
		if copied == "" {
			copied = e.DuplicateOf
		}
		if moving[e.ID] || (vecOf[e.ID] == nil && copied != "" && moving[copied]) {
			moving[e.ID] = true // a copy of a copy follows too
			leave = append(leave, m)
		} else {
			stay = append(stay, m)
		}
	}
	if len(stay) == 0 || len(leave) == 0 {
		return nil
	}
	// Two events of one kind run side by side. When every report that
	// stays came before the first that would leave, the story has moved
	// on (the blast, then the arrest): that is one developing story, or a
	// new event the join model and the time gap judge, not a split.
	began := leave[0].entry.PublishedAt
	for _, m := range leave[1:] {
		if m.entry.PublishedAt.Before(began) {
			began = m.entry.PublishedAt
		}
	}
	if !slices.ContainsFunc(stay, func(m member) bool { return m.entry.PublishedAt.After(began) }) {
		return nil
	}
	// The new story is named after its earliest report that never
	// founded one: a story id is never used twice, not even one merged
	// away and forgotten long ago, whose subject holds its last snapshot.
	k := slices.IndexFunc(leave, func(m member) bool { return !m.founded && vecOf[m.entry.ID] != nil })
	if k < 0 {
		k = slices.IndexFunc(leave, func(m member) bool { return !m.founded })
	}
	if k < 0 {
		return nil
	}
	id := StoryID(leave[k].entry.ID)
	if _, taken := c.stories[id]; taken {
		return nil // cannot happen while founded marks every id used; never reuse one
	}
	leave[k].founded = true
	c.unindex(s)
	s.cw, s.ct, s.ch, s.cp, s.slots, s.clash = nil, nil, nil, nil, nil, nil
	s.held, s.norm2, s.pnorm2, s.reports = 0, 0, 0, 0
	s.recent, s.sigs, s.rpn, s.rids = nil, nil, nil, nil
	s.members, s.guessed = nil, false
	c.number(s)
	c.rejoin(s, stay, vecOf)
	t := &story{id: id, seq: c.nextSeq, active: true, splitFrom: s.id}
	c.nextSeq++
	c.number(t)
	c.stories[id] = t
	c.rejoin(t, leave, vecOf)
	c.changes.Split++
	c.explain(Decision{Kind: "split", Story: s.id, Split: t.id})
	return t
}

// rejoin puts members, in their order, into s, which holds nothing yet.
func (c *Clusterer) rejoin(s *story, members []member, vecOf map[string][]term) {
	at := members[0].entry.PublishedAt
	s.first, s.last, s.seen = at, at, members[0].entry.ObservedAt
	for _, m := range members {
		c.join(s, m.entry, vecOf[m.entry.ID], m.independent)
		s.members[len(s.members)-1].founded = m.founded
	}
}

// parts splits vecs (unit vectors) by average linkage into two groups and
// returns the places of the group that does not hold vecs[0], ascending,
// when both groups hold splitParts or more and their mean cosine across is
// under SplitRatio times the mean cosine within the looser group. Else it
// returns nil. Ties go to the lower places, so that a run decides the same
// way every time.
func (c *Clusterer) parts(vecs [][]term) []int {
	n := len(vecs)
	sim := make([]float64, n*n)
	for i := range n {
		for j := i + 1; j < n; j++ {
			d := dotVec(vecs[i], vecs[j])
			sim[i*n+j], sim[j*n+i] = d, d
		}
	}
	// link holds the mean cosine between groups, updated as they join
	// (Lance and Williams); group[i] is the group vecs[i] is in, named by
	// its lowest place, and size the sizes by name.
	link := slices.Clone(sim)
	group := make([]int, n)
	size := make([]int, n)
	for i := range group {
		group[i], size[i] = i, 1
	}
	alive := n
	for alive > 2 {
		bi, bj, best := -1, -1, math.Inf(-1)
		for i := range n {
			if size[i] == 0 {
				continue
			}
			for j := i + 1; j < n; j++ {
				if size[j] > 0 && link[i*n+j] > best {
					bi, bj, best = i, j, link[i*n+j]
				}
			}
		}
		si, sj := float64(size[bi]), float64(size[bj])
		for k := range n {
			if size[k] == 0 || k == bi || k == bj {
				continue
			}
			v := (si*link[bi*n+k] + sj*link[bj*n+k]) / (si + sj)
			link[bi*n+k], link[k*n+bi] = v, v
		}
		size[bi] += size[bj]
		size[bj] = 0
		for k := range group {
			if group[k] == bj {
				group[k] = bi
			}
		}
		alive--
	}
	var other int
	for k := 1; k < n; k++ {
		if group[k] != 0 {
			other = group[k]
			break
		}
	}
	if size[0] < splitParts || size[other] < splitParts {
		return nil
	}
	within := func(g int) float64 {
		var sum float64
		for i := range n {
			for j := i + 1; j < n; j++ {
				if group[i] == g && group[j] == g {
					sum += sim[i*n+j]
				}
			}
		}
		m := float64(size[g])
		return sum / (m * (m - 1) / 2)
	}
	if link[other] >= c.cfg.SplitRatio*min(within(0), within(other)) {
		return nil
	}
	var away []int
	for k := range group {
		if group[k] == other {
			away = append(away, k)
		}
	}
	return away
}
