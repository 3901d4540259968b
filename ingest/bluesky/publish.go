package bluesky

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/newswire/newswire/wire"
)

// publishPost publishes one of the account's own posts, from Jetstream or
// the AppView; a record version already published is skipped.
func (c *Collector) publishPost(ctx context.Context, a *account, uri URI, cid string, rec []byte, update bool, fetchURL string) error {
	key := recordKey("p", uri.RKey, cid)
	if a.known(key) {
		c.stat(func(s *Stats) { s.Duplicates++ })
		return nil
	}
	item, p, bad, err := postItem(rec, uri, author{DID: a.st.DID, Handle: a.st.Handle}, c.names)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	c.badFacets(a, uri, bad)
	switch {
	case p.Reply != nil && a.SkipReplies:
		c.skipped(a, uri, "reply")
		return nil
	case strings.TrimSpace(item.Body) == "":
		c.skipped(a, uri, "no text")
		return nil
	}
	c.fill(a, &item, fetchURL, http.StatusOK)
	if update {
		item.Updated = item.ObservedAt.Format(time.RFC3339)
		if item.Meta == nil {
			item.Meta = &wire.PostStats{}
		}
		item.Meta.EditedAt = item.Updated
	}
	return c.send(ctx, a, item, key)
}

// publishRepost publishes the account's repost of view, named by the
// repost record's URI (nativeID). The item carries the reposted post's
// text, author, link and time, and forward_of names that post.
func (c *Collector) publishRepost(ctx context.Context, a *account, nativeID, key string, view postView, fetchURL string, status int) error {
	orig, err := ParseURI(view.URI)
	if err != nil || orig.Collection != CollectionPost {
		return fmt.Errorf("%w: reposted post %q", ErrMalformed, clip(view.URI, 200))
	}
	by := author{DID: orig.DID, Handle: view.Author.Handle}
	if o, ok := c.byDID[orig.DID]; ok {
		by.Handle = o.st.Handle
	}
	item, _, bad, err := postItem(view.Record, orig, by, c.names)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	c.badFacets(a, orig, bad)
	if strings.TrimSpace(item.Body) == "" {
		c.skipped(a, orig, "repost of a post without text")
		return nil
	}
	source, _ := c.names(orig.DID)
	if source == orig.DID && by.Handle != "" {
		source = by.Handle
	}
	item.ForwardOf = &wire.Ref{Kind: Kind, Source: source, NativeID: orig.String(), URL: item.URL}
	item.NativeID = nativeID
	c.fill(a, &item, fetchURL, status)
	return c.send(ctx, a, item, key)
}

// fill sets what every item of the account carries.
func (c *Collector) fill(a *account, item *wire.RawItem, fetchURL string, status int) {
	item.Source, item.SourceCode, item.SourceName = a.ID, a.Code, a.Name
	if item.SourceName == "" {
		item.SourceName = "@" + a.st.Handle
	}
	item.ObservedAt = c.cfg.Now().UTC()
	item.Fetch = &wire.Fetch{URL: fetchURL, Status: status}
}

func (c *Collector) send(ctx context.Context, a *account, item wire.RawItem, key string) error {
	ack, err := c.pub.Publish(ctx, item)
	if err != nil {
		return fmt.Errorf("bluesky: %s: %w", a.ID, err)
	}
	a.remember(key)
	if ack.Duplicate {
		c.stat(func(s *Stats) { s.Duplicates++ })
	} else {
		a.st.Published++
		a.st.Observe(c.cfg.Now(), 1) // a pushed post is news as much as a polled one
		c.stat(func(s *Stats) { s.Published++ })
	}
	c.save(ctx, a)
	return nil
}

func (c *Collector) skipped(a *account, uri URI, why string) {
	a.st.Skipped++
	c.stat(func(s *Stats) { s.Skipped++ })
	c.log.Debug("post skipped", zap.String("source", a.ID), zap.String("uri", uri.String()), zap.String("why", why))
}

func (c *Collector) badFacets(a *account, uri URI, n int) {
	if n == 0 {
		return
	}
	c.stat(func(s *Stats) { s.BadFacets += int64(n) })
	c.log.Warn("link facets left out (offsets outside the text, overlapping, inside a character, or not http(s))",
		zap.String("source", a.ID), zap.String("uri", uri.String()), zap.Int("count", n))
}

// withdraw publishes the withdrawal of a deleted record the collector
// published: its raw item again, marked Deleted, without text. A record
// it never published (older than Known, or skipped) has nothing to
// withdraw and is only counted.
func (c *Collector) withdraw(ctx context.Context, a *account, letter string, uri URI) error {
	prefix := letter + "/" + uri.RKey + "@"
	if !slices.ContainsFunc(a.st.Known, func(k string) bool { return strings.HasPrefix(k, prefix) }) {
		c.stat(func(s *Stats) { s.UnknownDeletes++ })
		c.log.Debug("deleted record was never published; nothing to withdraw", zap.String("source", a.ID), zap.String("uri", uri.String()))
		return nil
	}
	item := wire.RawItem{Kind: Kind, NativeID: uri.String(), Deleted: true}
	if letter == "p" {
		item.URL = PostURL(a.st.Handle, uri.RKey)
	}
	c.fill(a, &item, c.cfg.JetstreamURL, 0)
	item.Fetch = nil
	if _, err := c.pub.Publish(ctx, item); err != nil {
		return fmt.Errorf("bluesky: %s: withdraw %s: %w", a.ID, uri, err)
	}
	a.forget(prefix)
	a.st.Withdrawn++
	c.stat(func(s *Stats) { s.Withdrawn++ })
	c.log.Info("record deleted at the source; withdrawal published", zap.String("source", a.ID), zap.String("uri", uri.String()))
	c.save(ctx, a)
	return nil
}

// pendingItem is a feed item waiting to be published, with the page it
// came from.
type pendingItem struct {
	fv  feedViewPost
	url string
}

// backfill reads the account's AppView feed, newest first, back to
// FillFrom (less Rewind) — or its Backfill latest items on a first start —
// and publishes what it found oldest first. Items already published are
// recognised, so overlapping Jetstream is harmless.
func (c *Collector) backfill(ctx context.Context, a *account) error {
	var since time.Time
	if a.st.FillFrom > 0 {
		since = time.UnixMicro(a.st.FillFrom).Add(-c.cfg.Rewind)
	}
	c.stat(func(s *Stats) { s.Backfills++ })
	var items []pendingItem
	cursor, pages, done, taken := "", 0, false, 0
	for !done {
		if pages >= c.cfg.MaxBackfillPages {
			c.stat(func(s *Stats) { s.BackfillTruncated++ })
			c.log.Warn("AppView read stopped at max pages; older posts of the gap are not read", zap.String("source", a.ID),
				zap.Int("pages", pages), zap.Time("back_to", since))
			break
		}
		page, u, err := c.authorFeedPage(ctx, a.st.DID, cursor, c.cfg.BackfillPageSize)
		if err != nil {
			return fmt.Errorf("bluesky: %s: read feed: %w", a.ID, err)
		}
		pages++
		c.stat(func(s *Stats) { s.BackfillPages++ })
		for _, fv := range page.Feed {
			if since.IsZero() && taken >= a.Backfill {
				done = true
				break
			}
			if t, ok := fv.sortTime(); ok && !since.IsZero() && t.Before(since) {
				done = true
				break
			}
			items = append(items, pendingItem{fv, u})
			if fv.Reason == nil || a.Reposts {
				taken++ // what Backfill counts: items the account publishes
			}
		}
		if page.Cursor == "" || len(page.Feed) == 0 || page.Cursor == cursor {
			break
		}
		cursor = page.Cursor
	}
	for i := len(items) - 1; i >= 0; i-- {
		if err := c.publishFeedItem(ctx, a, items[i]); err != nil {
			return err
		}
	}
	now := c.cfg.Now().UTC()
	a.st.LastPoll, a.st.LastSuccess = now, now
	c.log.Info("AppView feed read", zap.String("source", a.ID), zap.Int("items", len(items)), zap.Int("pages", pages))
	return nil
}

// sortTime is when the AppView placed the item in the feed: the repost's
// time for a repost, the post's indexing time otherwise.
func (fv feedViewPost) sortTime() (time.Time, bool) {
	s := fv.Post.IndexedAt
	if fv.Reason != nil && fv.Reason.IndexedAt != "" {
		s = fv.Reason.IndexedAt
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	return t, err == nil
}

// publishFeedItem publishes one getAuthorFeed item: the account's own
// post, or its repost when the account follows reposts. Unreadable items
// are counted and skipped, like malformed Jetstream events.
func (c *Collector) publishFeedItem(ctx context.Context, a *account, p pendingItem) error {
	fv := p.fv
	var err error
	switch {
	case fv.Reason != nil && fv.Reason.Type == "app.bsky.feed.defs#reasonRepost":
		if !a.Reposts {
			c.stat(func(s *Stats) { s.Ignored++ })
			return nil
		}
		nativeID, key := repostIdentity(fv)
		if a.known(key) {
			c.stat(func(s *Stats) { s.Duplicates++ })
			return nil
		}
		err = c.publishRepost(ctx, a, nativeID, key, fv.Post, p.url, http.StatusOK)
	case fv.Reason != nil:
		c.stat(func(s *Stats) { s.Ignored++ }) // pinned posts and future reasons
		return nil
	default:
		uri, perr := ParseURI(fv.Post.URI)
		switch {
		case perr != nil || uri.Collection != CollectionPost:
			err = fmt.Errorf("%w: feed item %q is not a post", ErrMalformed, clip(fv.Post.URI, 200))
		case uri.DID != a.st.DID:
			c.stat(func(s *Stats) { s.Ignored++ })
			c.log.Debug("feed item by another author without a repost reason", zap.String("source", a.ID), zap.String("uri", fv.Post.URI))
			return nil
		default:
			err = c.publishPost(ctx, a, uri, fv.Post.CID, fv.Post.Record, false, p.url)
		}
	}
	if err != nil && isMalformed(err) {
		c.stat(func(s *Stats) { s.Malformed++ })
		c.log.Warn("AppView feed item skipped", zap.String("source", a.ID), zap.Error(err))
		return nil
	}
	return err
}

// repostIdentity names a repost seen on the AppView: by its record's URI
// (reason.uri) when the AppView gives it, as Jetstream does; older
// AppView answers do not, and then the repost is named by the reposted
// post and the reposter, an identity Jetstream cannot match.
func repostIdentity(fv feedViewPost) (nativeID, key string) {
	if u, err := ParseURI(fv.Reason.URI); err == nil && u.Collection == CollectionRepost {
		return u.String(), recordKey("r", u.RKey, fv.Reason.CID)
	}
	id := fv.Post.URI + "#repost-by-" + fv.Reason.By.DID
	return id, recordKey("r", id, "")
}
