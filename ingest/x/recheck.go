package x

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"go.uber.org/zap"

	"github.com/newswire/newswire/wire"
)

// lookupBatch is the most ids GET /2/tweets takes in one request.
const lookupBatch = 100

// maxWithdrawnIDs bounds State.WithdrawnIDs; the oldest are forgotten
// first, long after they left the re-checked window.
const maxWithdrawnIDs = 1000

// recent is a published post that a re-check may look up again: its id,
// and its author's username for the withdrawal's URL.
type recent struct {
	ID   string `json:"id"`
	User string `json:"user,omitempty"`
}

// lookupAnswer is the answer of GET /2/tweets?ids=…: the posts that exist
// in data, one errors entry for each that does not (or cannot be seen).
type lookupAnswer struct {
	Data *[]struct {
		ID string `json:"id"`
	} `json:"data"`
	Errors *[]problem `json:"errors"`
}

// remember keeps a published post among the newest n a re-check looks up.
// A post withdrawn before is not taken back: it stays withdrawn.
func (st *State) remember(id, username string, n int) {
	if n <= 0 || slices.Contains(st.WithdrawnIDs, id) || slices.ContainsFunc(st.Recent, func(r recent) bool { return r.ID == id }) {
		return
	}
	st.Recent = append(st.Recent, recent{ID: id, User: username})
	if over := len(st.Recent) - n; over > 0 {
		st.Recent = slices.Delete(st.Recent, 0, over)
	}
}

// notFound reports whether a lookup's errors entry says the post does not
// exist (deleted by its author, or removed). Posts that exist but cannot be
// seen — a protected account, "not-authorized-for-resource", or a
// suspended author, "Forbidden" — are not deletions and stay published.
func (p problem) notFound() bool {
	return p.ResourceType == "tweet" && p.Title != "Forbidden" &&
		(strings.HasSuffix(p.Type, "/problems/resource-not-found") || p.Title == "Not Found Error")
}

func (p problem) id() string {
	if p.ResourceID != "" {
		return p.ResourceID
	}
	return p.Value
}

// recheck looks the source's newest published posts up again, at most
// every RecheckInterval, in requests of up to 100 ids (GET /2/tweets),
// and withdraws each that X reports not found. Every post returned is a
// paid read, which is why it is off unless the source sets recheck. The
// first call only starts the clock: the posts were read just now.
func (c *Collector) recheck(ctx context.Context, src Source, st *State) error {
	if src.Recheck <= 0 || len(st.Recent) == 0 {
		return nil
	}
	now := c.cfg.Now().UTC()
	if st.LastRecheck.IsZero() {
		st.LastRecheck = now
		return nil
	}
	if now.Sub(st.LastRecheck) < src.RecheckInterval {
		return nil
	}
	c.stat(src.ID, func(s *SourceStats) { s.Rechecks++ })
	// A lowered recheck takes effect at once, not only as new posts come.
	newest := slices.Clone(st.Recent[max(0, len(st.Recent)-src.Recheck):])
	for batch := range slices.Chunk(newest, lookupBatch) {
		if err := c.lookup(ctx, src, st, batch); err != nil {
			return err
		}
	}
	st.LastRecheck = now
	return nil
}

// lookup asks X for one batch of published posts and withdraws those it
// reports not found.
func (c *Collector) lookup(ctx context.Context, src Source, st *State, batch []recent) error {
	ids := make([]string, len(batch))
	byID := make(map[string]recent, len(batch))
	for i, r := range batch {
		ids[i] = r.ID
		byID[r.ID] = r
	}
	var ans lookupAnswer
	c.stat(src.ID, func(s *SourceStats) { s.Requests++ })
	if _, err := c.api.get(ctx, "tweets", "/2/tweets", url.Values{"ids": {strings.Join(ids, ",")}}, &ans); err != nil {
		return fmt.Errorf("x: %s: re-check: %w", src.ID, err)
	}
	// X answers every lookup with data, errors or both; neither is not the
	// documented answer, and nothing could be concluded from it.
	if ans.Data == nil && ans.Errors == nil {
		return fmt.Errorf("%w: tweets: lookup of %d ids has neither data nor errors", ErrMalformed, len(ids))
	}
	var errs []problem
	if ans.Errors != nil {
		errs = *ans.Errors
	}
	for _, p := range errs {
		r, asked := byID[p.id()]
		if !asked || !p.notFound() {
			c.stat(src.ID, func(s *SourceStats) { s.PartialErrors++ })
			c.log.Debug("re-check: post kept", zap.String("source", src.ID), zap.String("id", p.id()),
				zap.String("title", p.Title), zap.String("detail", p.Detail))
			continue
		}
		if err := c.withdraw(ctx, src, st, r); err != nil {
			return err
		}
	}
	return nil
}

// withdraw publishes a post's raw item again, marked deleted and without
// text, and remembers its id, so that it is withdrawn once: it leaves the
// re-checked posts and is never taken back among them.
func (c *Collector) withdraw(ctx context.Context, src Source, st *State, r recent) error {
	forget := func() { st.Recent = slices.DeleteFunc(st.Recent, func(x recent) bool { return x.ID == r.ID }) }
	if slices.Contains(st.WithdrawnIDs, r.ID) {
		forget()
		return nil
	}
	item := wire.RawItem{
		Kind:       Kind,
		Source:     src.ID,
		NativeID:   r.ID,
		SourceCode: src.Code,
		SourceName: src.Name,
		URL:        PostURL(r.User, r.ID),
		ObservedAt: c.cfg.Now().UTC(),
		Deleted:    true,
	}
	if _, err := c.pub.Publish(ctx, item); err != nil {
		return fmt.Errorf("x: %s: withdraw %s: %w", src.ID, r.ID, err)
	}
	forget()
	st.WithdrawnIDs = append(st.WithdrawnIDs, r.ID)
	if over := len(st.WithdrawnIDs) - maxWithdrawnIDs; over > 0 {
		st.WithdrawnIDs = slices.Delete(st.WithdrawnIDs, 0, over)
	}
	st.Withdrawn++
	c.stat(src.ID, func(s *SourceStats) { s.Withdrawn++ })
	c.log.Info("post deleted; withdrawal published", zap.String("source", src.ID), zap.String("id", r.ID))
	return nil
}
