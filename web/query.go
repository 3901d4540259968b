package web

import (
	"encoding/base64"
	"errors"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/newswire/newswire/wire"
)

// ErrBadCursor is returned for a cursor this store did not write.
var ErrBadCursor = errors.New("web: malformed cursor")

// EntryFilter selects entries; zero fields select everything.
type EntryFilter struct {
	Kind     string // source kind: rss, telegram, …
	Source   string // source id or display code (any case)
	Language string // primary subtag: "en" matches "en-GB"
	Since    time.Time
	Until    time.Time // exclusive
	Story    string    // only entries of this story
	// Query is a full-text query over headline and text (see parseQuery):
	// words that must all match, "phrases", -exclusions.
	Query string
}

func (f EntryFilter) match(e wire.Entry, storyOf map[string]string) bool {
	switch {
	case f.Kind != "" && !strings.EqualFold(e.Source.Kind, f.Kind):
		return false
	case f.Source != "" && !strings.EqualFold(e.Source.ID, f.Source) && !strings.EqualFold(e.Source.Code, f.Source):
		return false
	case f.Language != "" && !strings.EqualFold(primaryTag(e.Lang), primaryTag(f.Language)):
		return false
	case !f.Since.IsZero() && e.PublishedAt.Before(f.Since):
		return false
	case !f.Until.IsZero() && !e.PublishedAt.Before(f.Until):
		return false
	case f.Story != "" && storyOf[e.ID] != f.Story:
		return false
	}
	return true
}

func primaryTag(lang string) string {
	if i := strings.IndexAny(lang, "-_"); i >= 0 {
		return lang[:i]
	}
	return lang
}

// EntryPage is one page of entries, newest first, and the cursor of the next.
type EntryPage struct {
	Entries []wire.Entry
	Next    string // empty on the last page
	lastSeq uint64
}

// QueryEntries returns up to limit entries that match f, newest first,
// starting after cursor (empty for the first page). A text query is
// answered by the full-text index and then filtered and paged like any
// other, so the cursor of a query's page continues the same query.
// Errors: ErrBadCursor, a query that cannot be read (ErrQueryTooLong, too
// many words) or ErrNoIndex.
func (s *Store) QueryEntries(f EntryFilter, limit int, cursor string) (EntryPage, error) {
	var hits map[string]bool
	if f.Query != "" {
		q, err := parseQuery(f.Query)
		if err != nil {
			return EntryPage{}, err
		}
		if !q.empty() {
			if s.index == nil {
				return EntryPage{}, ErrNoIndex
			}
			// The index holds at most one document per held entry.
			if hits, err = s.index.search(q, s.maxEntries); err != nil {
				return EntryPage{}, err
			}
		}
	}
	before := uint64(math.MaxUint64)
	if cursor != "" {
		b, err := base64.RawURLEncoding.DecodeString(cursor)
		if err != nil || !strings.HasPrefix(string(b), "e:") {
			return EntryPage{}, ErrBadCursor
		}
		n, err := strconv.ParseUint(string(b[2:]), 10, 64)
		if err != nil {
			return EntryPage{}, ErrBadCursor
		}
		before = n
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	page := EntryPage{Entries: []wire.Entry{}}
	n := len(s.entries)
	for i := range n {
		idx := n - 1 - i
		if n == s.maxEntries {
			idx = (s.next - 1 - i + 2*n) % n
		}
		he := s.entries[idx]
		if he.seq >= before || hits != nil && (!hits[he.ID] || he.Withdrawn) || !f.match(he.Entry, s.storyOf) {
			continue
		}
		if len(page.Entries) == limit {
			page.Next = base64.RawURLEncoding.EncodeToString([]byte("e:" + strconv.FormatUint(page.lastSeq, 10)))
			break
		}
		page.Entries = append(page.Entries, he.Entry)
		page.lastSeq = he.seq
	}
	return page, nil
}

// StoryFilter selects stories; zero fields select every story but merged ones.
type StoryFilter struct {
	Status   string // developing, stale or merged
	Active   bool   // developing only
	Language string
	Source   string    // a source id or code in its provenance
	Since    time.Time // last updated at or after
}

func (f StoryFilter) match(st *heldStory) bool {
	switch {
	case f.Status == "" && st.Status == wire.StatusMerged, f.Status != "" && st.Status != f.Status:
		return false
	case f.Active && st.Status != wire.StatusDeveloping:
		return false
	case !f.Since.IsZero() && st.LastUpdated.Before(f.Since):
		return false
	}
	if f.Language != "" {
		found := false
		for _, l := range st.Languages {
			found = found || strings.EqualFold(primaryTag(l), primaryTag(f.Language))
		}
		if !found {
			return false
		}
	}
	if f.Source != "" {
		found := false
		for _, r := range st.Provenance {
			if strings.EqualFold(r.Source.ID, f.Source) || strings.EqualFold(r.Source.Code, f.Source) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// activityHalfLife is how fast a story's rank fades once it stops changing.
const activityHalfLife = time.Hour

// Rank is a story's place on the stories page: corroboration (independent
// sources, then entries, on a log scale so one huge story does not hold
// the top for ever) times recent activity (how long ago the store last
// got a new version, halving every activityHalfLife). Activity is measured
// on arrival, not on the news's own times, so old news replayed today and
// news from different years compete fairly.
func Rank(st wire.Story, changed, now time.Time) float64 {
	corroboration := 1 + 2*math.Log1p(float64(st.Counts.Origins)) + math.Log1p(float64(st.Counts.Entries))
	age := max(now.Sub(changed), 0)
	return corroboration * math.Exp2(-float64(age)/float64(activityHalfLife))
}

// RankedStory is a story summary (no provenance list) with its rank.
type RankedStory struct {
	wire.Story
	Rank float64 `json:"rank"`
}

// StoryPage is one page of ranked stories and the cursor of the next.
type StoryPage struct {
	Stories []RankedStory
	Next    string
}

// QueryStories returns up to limit stories that match f, best ranked
// first, after cursor. A cursor carries the time its ranking was made at,
// so later pages continue the same order.
func (s *Store) QueryStories(f StoryFilter, limit int, cursor string) (StoryPage, error) {
	// Wall-clock readings only (Round(0) drops the monotonic one): a
	// cursor carries now as wall time, and page two must rank exactly as
	// page one did.
	now := s.now().Round(0)
	var afterRank float64
	var afterID string
	if cursor != "" {
		b, err := base64.RawURLEncoding.DecodeString(cursor)
		parts := strings.SplitN(string(b), "|", 4)
		if err != nil || len(parts) != 4 || parts[0] != "s" {
			return StoryPage{}, ErrBadCursor
		}
		ns, err1 := strconv.ParseInt(parts[1], 10, 64)
		r, err2 := strconv.ParseFloat(parts[2], 64)
		if err1 != nil || err2 != nil {
			return StoryPage{}, ErrBadCursor
		}
		now, afterRank, afterID = time.Unix(0, ns), r, parts[3]
	}
	s.mu.RLock()
	all := make([]RankedStory, 0, len(s.stories))
	for _, st := range s.stories {
		if !f.match(st) {
			continue
		}
		c := st.Story
		c.Provenance = nil
		all = append(all, RankedStory{Story: c, Rank: Rank(st.Story, st.changed, now)})
	}
	s.mu.RUnlock()
	sort.Slice(all, func(i, j int) bool { return rankedBefore(all[i].Rank, all[i].ID, all[j].Rank, all[j].ID) })
	start := 0
	if cursor != "" {
		start = sort.Search(len(all), func(i int) bool { return rankedBefore(afterRank, afterID, all[i].Rank, all[i].ID) })
	}
	page := StoryPage{Stories: all[start:min(len(all), start+limit)]}
	if start+limit < len(all) {
		last := page.Stories[len(page.Stories)-1]
		page.Next = base64.RawURLEncoding.EncodeToString([]byte("s|" + strconv.FormatInt(now.UnixNano(), 10) + "|" +
			strconv.FormatFloat(last.Rank, 'g', -1, 64) + "|" + last.ID))
	}
	return page, nil
}

// rankedBefore orders by rank, best first, then by id.
func rankedBefore(ra float64, ida string, rb float64, idb string) bool {
	if ra != rb {
		return ra > rb
	}
	return ida < idb
}
