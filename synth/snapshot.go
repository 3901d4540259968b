package synth

import (
	"sort"
	"time"

	"github.com/newswire/newswire/provenance"
	"github.com/newswire/newswire/wire"
	"github.com/newswire/newswire/words"
)

// Snapshot builds the full snapshot of a story and advances its version.
// ok is false for an unknown id.
func (c *Clusterer) Snapshot(id string) (wire.Story, bool) {
	s, ok := c.stories[id]
	if !ok {
		return wire.Story{}, false
	}
	s.version++
	return c.build(s), true
}

func (c *Clusterer) build(s *story) wire.Story {
	members := make([]member, len(s.members))
	copy(members, s.members)
	sort.SliceStable(members, func(i, j int) bool {
		return provenance.Less(record(members[i].entry), record(members[j].entry))
	})
	recs := make([]provenance.Record, 0, len(members))
	sources := make(map[string]bool)
	langs := make(map[string]bool)
	origins := 0
	var origin *member
	var first *member
	for i := range members {
		m := &members[i]
		e := m.entry
		r := record(e)
		switch {
		case e.RepostOf != "":
			r.Role, r.Of = provenance.RoleRepost, e.RepostOf
		case e.DuplicateOf != "":
			r.Role, r.Of = provenance.RoleDuplicate, e.DuplicateOf
		case origin == nil && !e.Withdrawn:
			r.Role = provenance.RoleOrigin
		default:
			r.Role = provenance.RoleCorroboration
		}
		recs = append(recs, r)
		if e.Withdrawn {
			continue
		}
		if first == nil {
			first = m
		}
		if r.Role == provenance.RoleOrigin || r.Role == provenance.RoleCorroboration {
			origins++
			if origin == nil {
				origin = m
			}
		}
		sources[e.Source.ID] = true
		if e.Lang != "" {
			langs[e.Lang] = true
		}
	}
	st := wire.Story{
		Schema:      wire.SchemaStory,
		ID:          s.id,
		Version:     s.version,
		Status:      wire.StatusDeveloping,
		FirstSeen:   s.first,
		LastUpdated: s.last,
		Keywords:    c.keywords(s, 8),
		Counts:      wire.Counts{Entries: len(members), Sources: len(sources), Origins: origins},
	}
	if !s.active {
		st.Status = wire.StatusStale
	}
	if s.mergedInto != "" {
		st.Status, st.MergedInto = wire.StatusMerged, s.mergedInto
	}
	for l := range langs {
		st.Languages = append(st.Languages, l)
	}
	sort.Strings(st.Languages)
	if origin == nil {
		origin = first
	}
	if origin == nil && len(members) > 0 {
		origin = &members[0]
	}
	if origin != nil {
		st.Headline = origin.entry.Headline
		st.Brief = c.brief(origin, members)
	}
	if first != nil {
		e := first.entry
		st.FirstReport = wire.FirstReport{EntryID: e.ID, Source: e.Source.Code, URL: e.URL, PublishedAt: e.PublishedAt, LagSeconds: e.LagSeconds}
	}
	if len(recs) > c.cfg.MaxProvenance {
		st.Truncated = len(recs) - c.cfg.MaxProvenance
		recs = recs[:c.cfg.MaxProvenance]
	}
	st.Provenance = recs
	return st
}

func record(e wire.Entry) provenance.Record {
	return provenance.Record{
		EntryID:     e.ID,
		Source:      e.Source,
		URL:         e.URL,
		Headline:    e.Headline,
		PublishedAt: e.PublishedAt.UTC(),
		ObservedAt:  e.ObservedAt.UTC(),
		Raw:         e.Raw,
		Withdrawn:   e.Withdrawn,
	}
}

// brief is the origin's headline, cited by every entry that carries the
// same headline words.
func (c *Clusterer) brief(origin *member, members []member) []wire.BriefSentence {
	key := headlineKey(origin.entry.Headline)
	cites := []string{origin.entry.ID}
	for _, m := range members {
		if m.entry.ID != origin.entry.ID && !m.entry.Withdrawn && headlineKey(m.entry.Headline) == key {
			cites = append(cites, m.entry.ID)
		}
	}
	return []wire.BriefSentence{{Text: origin.entry.Headline, Cites: cites}}
}

func headlineKey(h string) string {
	toks := words.Split(h)
	b := make([]byte, 0, len(h))
	for _, t := range toks {
		b = append(b, t...)
		b = append(b, ' ')
	}
	return string(b)
}

// keywords are the story's heaviest centroid terms.
func (c *Clusterer) keywords(s *story, n int) []string {
	type tw struct {
		t string
		w float64
	}
	all := make([]tw, 0, len(s.centroid))
	for t, w := range s.centroid {
		all = append(all, tw{t, w})
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].w != all[j].w {
			return all[i].w > all[j].w
		}
		return all[i].t < all[j].t
	})
	out := make([]string, 0, n)
	for _, x := range all {
		if len(out) == n {
			break
		}
		out = append(out, x.t)
	}
	return out
}

// Clock is the clusterer's stream time: the latest observed time seen.
func (c *Clusterer) Clock() time.Time { return c.clock }
