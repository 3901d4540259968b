package tgweb

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"go.uber.org/zap"

	"github.com/newswire/newswire/wire"
)

// maxKnown bounds State.Known. The newest page shows about 20 posts and
// ids below it are dropped on every good fetch, so the bound only
// matters while fetches keep failing the checks of pageRange.
const maxKnown = 100

// withdrawMissing publishes a withdrawal for every known post that the
// newest page should show and does not. The rule, chosen so that a bad
// fetch can never withdraw a live post:
//
//   - only the newest page counts, and only a page that was fetched
//     whole (HTTP 200 within the size cap, parsed as a preview; a 304 or
//     any error never gets here) with no unreadable block and only posts
//     of this channel;
//   - it covers the ids from its oldest to its newest post; a known id
//     strictly between the two that is not on the page was deleted, as
//     t.me lists every remaining post of that range. A known id above the
//     newest post is not judged (a page cut short or served stale shows
//     fewer recent posts), nor one below the oldest (it scrolled off).
//
// Ids below the page's oldest post leave Known, as they can no longer be
// checked.
func (c *Collector) withdrawMissing(ctx context.Context, ch Channel, st *State, page *Page, pageURL string, sent []int) error {
	known := mergeKnown(st.Known, sent)
	defer func() { st.Known = known }()
	lo, hi, ok := pageRange(page, st.Username)
	if !ok {
		return nil
	}
	on := make(map[int]bool, len(page.Posts))
	for _, p := range page.Posts {
		on[p.ID] = true
	}
	var gone []int
	for _, id := range known {
		if id > lo && id < hi && !on[id] {
			gone = append(gone, id)
		}
	}
	for _, id := range gone {
		if err := c.withdraw(ctx, ch, st, page, pageURL, id); err != nil {
			return err
		}
		known = slices.DeleteFunc(known, func(k int) bool { return k == id })
	}
	known = slices.DeleteFunc(known, func(k int) bool { return k < lo })
	return nil
}

// pageRange gives the oldest and newest post id of a page that may be
// used to judge deletions; ok is false for one that may not.
func pageRange(page *Page, username string) (lo, hi int, ok bool) {
	if page == nil || page.Malformed > 0 || len(page.Posts) < 2 {
		return 0, 0, false
	}
	for _, p := range page.Posts {
		if !strings.EqualFold(p.Channel, username) {
			return 0, 0, false
		}
		if lo == 0 || p.ID < lo {
			lo = p.ID
		}
		hi = max(hi, p.ID)
	}
	return lo, hi, true
}

// mergeKnown adds ids to known, sorted, keeping the newest maxKnown.
func mergeKnown(known, ids []int) []int {
	out := append(slices.Clone(known), ids...)
	slices.Sort(out)
	out = slices.Compact(out)
	if over := len(out) - maxKnown; over > 0 {
		out = out[over:]
	}
	return out
}

// withdraw publishes the raw item of a post gone from the page again,
// marked Deleted and without text; its Nats-Msg-Id differs from the
// post's (see ingest.RawMsg), and the normalizer turns it into a
// withdrawal of the post's entry.
func (c *Collector) withdraw(ctx context.Context, ch Channel, st *State, page *Page, pageURL string, id int) error {
	name := ch.Name
	if name == "" {
		name = page.Title
	}
	item := wire.RawItem{
		Kind:       Kind,
		Source:     ch.ID,
		NativeID:   NativeID(st.Username, id),
		SourceCode: ch.Code,
		SourceName: name,
		URL:        PostURL(st.Username, id),
		ObservedAt: c.cfg.Now().UTC(),
		Fetch:      &wire.Fetch{URL: pageURL, Status: http.StatusOK},
		Deleted:    true,
	}
	if _, err := c.pub.Publish(ctx, item); err != nil {
		return fmt.Errorf("tgweb: %s: withdraw %d: %w", ch.ID, id, err)
	}
	st.Withdrawn++
	c.stat(ch.ID, func(s *ChannelStats) { s.Withdrawn++ })
	c.log.Info("post gone from the preview; withdrawal published", zap.String("source", ch.ID), zap.Int("id", id))
	return nil
}
