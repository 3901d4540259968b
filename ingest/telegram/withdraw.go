package telegram

import (
	"context"
	"fmt"
	"slices"

	"github.com/gotd/td/tg"
	"go.uber.org/zap"

	"github.com/newswire/newswire/wire"
)

// recheck asks channels.getMessages for the recently published ids in
// st.Recent, at most once per RecheckInterval, and withdraws every post
// Telegram answers with messageEmpty: that is its answer for a message
// id that existed and was deleted. An id missing from the answer, or
// answered with anything else, is left alone; an error withdraws nothing.
//
// The collector runs without updates (NoUpdates), so it cannot hear
// updateDeleteChannelMessages; asking again is the only way to learn of
// a deletion, and the interval keeps its cost to one call per 100 ids.
func (c *Collector) recheck(ctx context.Context, api *tg.Client, ch Channel, st *State) error {
	now := c.cfg.Now()
	if ch.Recheck < 0 || len(st.Recent) == 0 || st.ChannelID == 0 {
		return nil
	}
	if !st.Rechecked.IsZero() && now.Sub(st.Rechecked) < ch.RecheckInterval {
		return nil
	}
	var gone []int
	err := c.messagesByID(ctx, api, ch, st, slices.Clone(st.Recent), "re-check published ids", func(batch []int, page tg.ModifiedMessagesMessages) {
		for _, mc := range page.GetMessages() {
			if e, ok := mc.(*tg.MessageEmpty); ok && slices.Contains(batch, e.ID) && !slices.Contains(gone, e.ID) {
				gone = append(gone, e.ID)
			}
		}
	})
	if err != nil {
		return err
	}
	c.stat(ch.ID, func(s *ChannelStats) { s.Rechecks++ })
	slices.Sort(gone)
	for _, id := range gone {
		if err := c.withdraw(ctx, ch, st, id); err != nil {
			return err
		}
	}
	// Recorded only once every withdrawal is on the bus, so that one that
	// failed is found again on the next poll.
	st.Rechecked = now.UTC()
	return nil
}

// withdraw publishes the raw item of a deleted post again, marked
// Deleted and without text; its Nats-Msg-Id differs from the post's (see
// ingest.RawMsg), and the normalizer turns it into a withdrawal of the
// post's entry. The id leaves st.Recent so that it is never withdrawn
// again once the state is saved.
func (c *Collector) withdraw(ctx context.Context, ch Channel, st *State, id int) error {
	name := ch.Name
	if name == "" {
		name = st.Title
	}
	item := wire.RawItem{
		Kind:       Kind,
		Source:     ch.ID,
		NativeID:   NativeID(st.Username, id),
		SourceCode: ch.Code,
		SourceName: name,
		URL:        PostURL(st.Username, id),
		Author:     st.Title,
		ObservedAt: c.cfg.Now().UTC(),
		Fetch:      &wire.Fetch{URL: fmt.Sprintf("tg://privatepost?channel=%d&post=%d", st.ChannelID, id)},
		Deleted:    true,
	}
	if _, err := c.pub.Publish(ctx, item); err != nil {
		return fmt.Errorf("telegram: %s: withdraw %d: %w", ch.ID, id, err)
	}
	st.forget(id)
	st.Withdrawn++
	c.stat(ch.ID, func(s *ChannelStats) { s.Withdrawn++ })
	c.log.Info("post deleted at the source; withdrawal published", zap.String("source", ch.ID), zap.Int("id", id))
	return nil
}
