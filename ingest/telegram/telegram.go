// Package telegram reads public Telegram channels with a user account over
// MTProto (github.com/gotd/td) and publishes their posts as raw items of
// kind "telegram". See README.md for setup, options and failure modes.
package telegram

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	gotd "github.com/gotd/td/telegram"
	"github.com/gotd/td/telegram/auth"
	"github.com/gotd/td/tg"
	"github.com/gotd/td/tgerr"
	"go.uber.org/zap"

	"github.com/newswire/newswire/ingest"
	"github.com/newswire/newswire/wire"
)

// Kind is the raw item kind both Telegram collectors publish.
const Kind = "telegram"

// Errors that stop the collector or mark one source as failing.
var (
	// ErrNotLoggedIn: there is no session, or Telegram does not accept it.
	ErrNotLoggedIn = errors.New("telegram: not logged in; run `newswire telegram login`")
	// ErrSessionInvalid: Telegram revoked or refused the session (another
	// client uses the same key, or the account logged the session out). The
	// collector stops instead of reconnecting, which would only repeat it.
	ErrSessionInvalid = errors.New("telegram: session is no longer valid; run `newswire telegram login` again")
	// ErrChannelUnavailable: the channel is private, or the username is free or invalid.
	ErrChannelUnavailable = errors.New("telegram: channel unavailable")
	// ErrNotChannel: the username belongs to a user, bot or group, not a channel.
	ErrNotChannel = errors.New("telegram: username is not a broadcast channel")
)

// sessionErrors end the collector: no retry can succeed with this session.
var sessionErrors = []string{"AUTH_KEY_DUPLICATED", "AUTH_KEY_UNREGISTERED", "SESSION_REVOKED", "SESSION_EXPIRED", "USER_DEACTIVATED", "USER_DEACTIVATED_BAN", "AUTH_KEY_PERM_EMPTY"}

// channelErrors mark one source as failing; the other sources go on.
var channelErrors = []string{"CHANNEL_PRIVATE", "USERNAME_NOT_OCCUPIED", "USERNAME_INVALID", "CHANNEL_PUBLIC_GROUP_NA"}

// Channel is one configured source.
type Channel struct {
	// ID is the source id; Username the channel's public username.
	ID       string
	Username string
	Code     string
	Name     string
	// Interval between polls (default 2m); Backfill is how many of the
	// latest posts the first poll takes (default 50).
	Interval time.Duration
	Backfill int
	// Recheck is how many of the most recently published message ids are
	// asked for again to notice deletions (default 50, negative: never);
	// RecheckInterval is the least time between two such checks (default
	// 10m), so that the check costs one call in several polls.
	Recheck         int
	RecheckInterval time.Duration
}

// Config configures the collector.
type Config struct {
	AppID       int
	AppHash     string
	SessionFile string
	Channels    []Channel
	// Rate is the client-side limit in calls per second over all channels
	// (default 1); MaxFloodWait the longest FLOOD_WAIT sat out inside a call
	// (default 5m).
	Rate         float64
	MaxFloodWait time.Duration
	// PageSize is the getHistory limit (default 100, Telegram's maximum);
	// MaxPerPoll bounds the posts one poll takes from one channel (default
	// 1000); older ones beyond it are counted as a gap.
	PageSize   int
	MaxPerPoll int
	// FailingRetry is how long a failing source waits before it is tried
	// again (default 6h): a channel may become public again.
	FailingRetry time.Duration
	// Client holds transport settings for gotd (DC list, resolver, public
	// keys); the zero value reaches Telegram's production servers. Session
	// storage, middlewares and logger are set by the collector.
	Client gotd.Options
	// Now is the clock for observed times (default time.Now).
	Now func() time.Time
}

// ChannelStats are a source's counters since start.
type ChannelStats struct {
	Published  int64
	Duplicates int64
	// Skipped counts posts with nothing to publish (service messages,
	// media without caption); they advance the cursor on purpose.
	Skipped   int64
	Gaps      int64
	Recovered int64
	Errors    int64
	// Rechecks counts re-checks of published ids; Withdrawn the
	// withdrawals published for posts found deleted.
	Rechecks  int64
	Withdrawn int64
	Failing   bool
	LastID    int
}

// Collector polls channels' histories.
type Collector struct {
	cfg   Config
	pub   ingest.Publisher
	kv    StateStore
	log   *zap.Logger
	flood *FloodControl

	mu    sync.Mutex
	stats map[string]*ChannelStats
}

// New checks cfg and returns a collector.
func New(cfg Config, pub ingest.Publisher, kv StateStore, log *zap.Logger) (*Collector, error) {
	if log == nil {
		log = zap.NewNop()
	}
	if cfg.AppID <= 0 || cfg.AppHash == "" {
		return nil, errors.New("telegram: api_id and api_hash are required (my.telegram.org → API development tools)")
	}
	if cfg.SessionFile == "" {
		return nil, errors.New("telegram: session_file is required")
	}
	if len(cfg.Channels) == 0 {
		return nil, errors.New("telegram: no channels configured")
	}
	if pub == nil || kv == nil {
		return nil, errors.New("telegram: a publisher and the wire_source bucket are required")
	}
	for i, ch := range cfg.Channels {
		if ch.ID == "" || ch.Username == "" {
			return nil, fmt.Errorf("telegram: channel %d needs an id and a username", i)
		}
		if ch.Interval <= 0 {
			cfg.Channels[i].Interval = 2 * time.Minute
		}
		if ch.Backfill <= 0 {
			cfg.Channels[i].Backfill = 50
		}
		if ch.Recheck == 0 {
			cfg.Channels[i].Recheck = 50
		}
		if ch.RecheckInterval <= 0 {
			cfg.Channels[i].RecheckInterval = 10 * time.Minute
		}
	}
	if cfg.PageSize <= 0 || cfg.PageSize > 100 {
		cfg.PageSize = 100
	}
	if cfg.MaxPerPoll <= 0 {
		cfg.MaxPerPoll = 1000
	}
	if cfg.FailingRetry <= 0 {
		cfg.FailingRetry = 6 * time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	c := &Collector{cfg: cfg, pub: pub, kv: kv, log: log.Named("telegram"), stats: make(map[string]*ChannelStats)}
	c.flood = NewFloodControl(cfg.Rate, cfg.MaxFloodWait, c.log)
	for _, ch := range cfg.Channels {
		c.stats[ch.ID] = &ChannelStats{}
	}
	return c, nil
}

// Stats returns a copy of every source's counters.
func (c *Collector) Stats() map[string]ChannelStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]ChannelStats, len(c.stats))
	for id, s := range c.stats {
		out[id] = *s
	}
	return out
}

// FloodWaits reports the FLOOD_WAIT answers waited out so far.
func (c *Collector) FloodWaits() (int64, time.Duration) { return c.flood.FloodWaits() }

func (c *Collector) stat(id string, f func(s *ChannelStats)) {
	c.mu.Lock()
	f(c.stats[id])
	c.mu.Unlock()
}

// clientOptions completes the transport options with the collector's
// session storage, flood control and logger.
func clientOptions(base gotd.Options, sessionFile string, log *zap.Logger, mw ...gotd.Middleware) gotd.Options {
	opts := base
	opts.SessionStorage = &FileSession{Path: sessionFile}
	opts.Middlewares = append(slices.Clone(base.Middlewares), mw...)
	// gotd logs every connection step at info level, key ids included;
	// only its warnings belong in newswire's log.
	opts.Logger = log.Named("mtproto").WithOptions(zap.IncreaseLevel(zap.WarnLevel))
	opts.NoUpdates = true
	opts.UpdateHandler = nil
	return opts
}

// Run polls every channel until ctx ends. It returns nil on cancellation
// and ErrNotLoggedIn or ErrSessionInvalid when the account cannot read;
// those are logged once, here, with what to do about them.
func (c *Collector) Run(ctx context.Context) error {
	err := c.run(ctx)
	if errors.Is(err, ErrSessionInvalid) || errors.Is(err, ErrNotLoggedIn) {
		c.log.Error("telegram collector stopped; no channel is read until the account logs in again", zap.Error(err))
	}
	return err
}

func (c *Collector) run(ctx context.Context) error {
	if _, err := os.Stat(c.cfg.SessionFile); err != nil {
		return fmt.Errorf("%w (session file %s: %w)", ErrNotLoggedIn, c.cfg.SessionFile, err)
	}
	client := gotd.NewClient(c.cfg.AppID, c.cfg.AppHash, clientOptions(c.cfg.Client, c.cfg.SessionFile, c.log, c.flood))
	err := client.Run(ctx, func(ctx context.Context) error {
		status, err := client.Auth().Status(ctx)
		if err != nil {
			if fatal := sessionError(err); fatal != nil {
				return fatal
			}
			return fmt.Errorf("telegram: check authorization: %w", err)
		}
		if !status.Authorized {
			return ErrNotLoggedIn
		}
		c.log.Info("reading channels", zap.Int("channels", len(c.cfg.Channels)))
		return c.readAll(ctx, client.API())
	})
	switch {
	case err == nil || ctx.Err() != nil && !errors.Is(err, ErrSessionInvalid):
		return nil
	case errors.Is(err, ErrNotLoggedIn):
		return ErrNotLoggedIn
	}
	return unwrapCallback(err)
}

// unwrapCallback keeps our own error as the message: gotd prefixes the
// callback's error with "callback: ".
func unwrapCallback(err error) error {
	var own *sessionErr
	if errors.As(err, &own) {
		return own
	}
	return fmt.Errorf("telegram: %w", err)
}

type sessionErr struct{ cause error }

func (e *sessionErr) Error() string { return ErrSessionInvalid.Error() + ": " + e.cause.Error() }
func (e *sessionErr) Unwrap() []error {
	return []error{ErrSessionInvalid, e.cause}
}

// sessionError turns an RPC error that invalidates the session into ErrSessionInvalid.
func sessionError(err error) error {
	if tgerr.Is(err, sessionErrors...) {
		return &sessionErr{cause: err}
	}
	return nil
}

// readAll runs one loop per channel; the first session error ends them all.
func (c *Collector) readAll(ctx context.Context, api *tg.Client) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	for _, ch := range c.cfg.Channels {
		wg.Go(func() {
			if err := c.loop(ctx, api, ch); err != nil {
				cancel(err)
			}
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

func (c *Collector) loop(ctx context.Context, api *tg.Client, ch Channel) error {
	log := c.log.With(zap.String("source", ch.ID), zap.String("channel", ch.Username))
	failures := 0
	for {
		err := c.Poll(ctx, api, ch)
		wait := ch.Interval
		switch {
		case ctx.Err() != nil:
			return nil
		case err == nil:
			failures = 0
		case errors.Is(err, ErrSessionInvalid):
			return err
		case errors.Is(err, ErrChannelUnavailable), errors.Is(err, ErrNotChannel):
			wait = c.cfg.FailingRetry
			log.Error("source failing; other channels go on", zap.Duration("retry_in", wait), zap.Error(err))
		default:
			failures++
			wait = min(ch.Interval<<min(failures, 6), time.Hour)
			log.Warn("poll failed", zap.Int("failures", failures), zap.Duration("retry_in", wait), zap.Error(err))
		}
		c.noteNextPoll(ctx, ch, wait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

func (c *Collector) noteNextPoll(ctx context.Context, ch Channel, wait time.Duration) {
	st, err := loadState(ctx, c.kv, ch.ID)
	if err != nil {
		return
	}
	st.NextPoll = c.cfg.Now().Add(wait).UTC()
	if err := saveState(ctx, c.kv, ch.ID, st); err != nil && ctx.Err() == nil {
		c.log.Warn("cannot record next poll", zap.String("source", ch.ID), zap.Error(err))
	}
}

// Poll reads one channel once: it resolves the username if the state has
// no peer yet, takes every post after the last seen id (the first time,
// the latest Backfill posts), fetches ids missing in between one by one,
// publishes in id order and records the new cursor.
func (c *Collector) Poll(ctx context.Context, api *tg.Client, ch Channel) error {
	st, err := loadState(ctx, c.kv, ch.ID)
	if err != nil {
		return err
	}
	before := st.Published
	pollErr := c.poll(ctx, api, ch, &st)
	st.Polls++
	st.LastPoll = c.cfg.Now().UTC()
	switch {
	case pollErr == nil:
		st.Failing, st.LastError, st.LastSuccess = false, "", st.LastPoll
		st.Observe(st.LastPoll, int(st.Published-before))
	case errors.Is(pollErr, ErrChannelUnavailable), errors.Is(pollErr, ErrNotChannel):
		st.Failing, st.LastError = true, pollErr.Error()
		st.Errors++
	case ctx.Err() == nil:
		st.LastError = pollErr.Error()
		st.Errors++
	}
	c.stat(ch.ID, func(s *ChannelStats) {
		s.Failing, s.LastID, s.Gaps, s.Recovered = st.Failing, st.LastID, st.Gaps, st.Recovered
		if pollErr != nil && ctx.Err() == nil {
			s.Errors++
		}
	})
	// The state is saved even when the context has ended, so that posts
	// already on the bus are not asked for again after a restart.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := saveState(sctx, c.kv, ch.ID, st); err != nil {
		return errors.Join(pollErr, err)
	}
	return pollErr
}

func (c *Collector) poll(ctx context.Context, api *tg.Client, ch Channel, st *State) error {
	username := strings.ToLower(ch.Username)
	if st.Username != username {
		// A different channel under the same source id starts over.
		*st = State{Username: username, Gaps: st.Gaps, Recovered: st.Recovered, Health: ingest.Health{Errors: st.Errors}, Withdrawn: st.Withdrawn}
	}
	chats := map[int64]*tg.Channel{}
	if st.ChannelID == 0 {
		if err := c.resolve(ctx, api, ch, st, chats); err != nil {
			return err
		}
	}
	if err := c.recheck(ctx, api, ch, st); err != nil {
		// Only a dead session stops here: any other failure of the
		// re-check must not hold back new posts, and the check is
		// repeated on the next poll because its time was not recorded.
		if errors.Is(err, ErrSessionInvalid) || ctx.Err() != nil {
			return err
		}
		c.stat(ch.ID, func(s *ChannelStats) { s.Errors++ })
		c.log.Warn("re-check of published posts failed; no withdrawal from it", zap.String("source", ch.ID), zap.Error(err))
	}
	peer := &tg.InputPeerChannel{ChannelID: st.ChannelID, AccessHash: st.AccessHash}
	msgs, seen, truncated, err := c.history(ctx, api, ch, st, peer, chats)
	if tgerr.Is(err, "CHANNEL_INVALID") {
		// A stale access hash: resolve again on the next poll.
		st.ChannelID, st.AccessHash = 0, 0
		return fmt.Errorf("telegram: %s: access hash refused, resolving again: %w", ch.Username, err)
	}
	if err != nil {
		return err
	}
	if len(seen) == 0 {
		return nil
	}
	lo := st.LastID
	if lo == 0 || truncated {
		if truncated && st.LastID > 0 {
			skipped := int64(seen[0] - st.LastID - 1)
			st.Gaps += skipped
			c.log.Warn("more new posts than max_per_poll; the oldest are skipped and counted as a gap",
				zap.String("source", ch.ID), zap.Int("from", st.LastID+1), zap.Int("to", seen[0]-1))
		}
		lo = seen[0] - 1
	}
	missing := missingIDs(lo, seen)
	if len(missing) > 0 {
		got, err := c.fetchMissing(ctx, api, ch, st, missing, chats)
		if err != nil {
			return err
		}
		msgs = append(msgs, got...)
		slices.SortFunc(msgs, func(a, b *tg.Message) int { return a.ID - b.ID })
	}
	last := seen[len(seen)-1]
	for _, m := range msgs {
		if err := c.publish(ctx, ch, st, m, chats); err != nil {
			st.LastID = max(st.LastID, m.ID-1)
			return err
		}
		st.LastID = max(st.LastID, m.ID)
	}
	st.LastID = max(st.LastID, last)
	return nil
}

func (c *Collector) resolve(ctx context.Context, api *tg.Client, ch Channel, st *State, chats map[int64]*tg.Channel) error {
	res, err := api.ContactsResolveUsername(ctx, ch.Username)
	if err != nil {
		if fatal := sessionError(err); fatal != nil {
			return fatal
		}
		if tgerr.Is(err, channelErrors...) {
			return fmt.Errorf("%w: @%s: %w", ErrChannelUnavailable, ch.Username, err)
		}
		return fmt.Errorf("telegram: resolve @%s: %w", ch.Username, err)
	}
	pc, ok := res.Peer.(*tg.PeerChannel)
	if !ok {
		return fmt.Errorf("%w: @%s is a %T", ErrNotChannel, ch.Username, res.Peer)
	}
	collectChats(res.Chats, chats)
	found, ok := chats[pc.ChannelID]
	if !ok {
		return fmt.Errorf("telegram: resolve @%s: answer lacks channel %d", ch.Username, pc.ChannelID)
	}
	if found.Megagroup {
		return fmt.Errorf("%w: @%s is a group", ErrNotChannel, ch.Username)
	}
	st.ChannelID, st.AccessHash, st.Title = found.ID, found.AccessHash, found.Title
	c.log.Info("resolved channel", zap.String("source", ch.ID), zap.String("channel", ch.Username), zap.Int64("channel_id", found.ID))
	// Resolving is the call Telegram limits hardest: keep the answer at once.
	return saveState(ctx, c.kv, ch.ID, *st)
}

func collectChats(list []tg.ChatClass, into map[int64]*tg.Channel) {
	for _, cc := range list {
		if chn, ok := cc.(*tg.Channel); ok {
			into[chn.ID] = chn
		}
	}
}

// history pages messages.getHistory newest first down to min_id. It
// returns the messages to publish and the sorted ids of everything seen
// (service messages included), and whether MaxPerPoll cut it short.
func (c *Collector) history(ctx context.Context, api *tg.Client, ch Channel, st *State, peer tg.InputPeerClass, chats map[int64]*tg.Channel) ([]*tg.Message, []int, bool, error) {
	budget := c.cfg.MaxPerPoll
	if st.LastID == 0 {
		budget = ch.Backfill
	}
	var (
		msgs   []*tg.Message
		seen   []int
		offset int
	)
	for len(seen) < budget {
		limit := min(c.cfg.PageSize, budget-len(seen))
		res, err := api.MessagesGetHistory(ctx, &tg.MessagesGetHistoryRequest{Peer: peer, OffsetID: offset, Limit: limit, MinID: st.LastID})
		if err != nil {
			return nil, nil, false, c.rpcError(ch, "get history", err)
		}
		page, ok := res.AsModified()
		if !ok {
			return nil, nil, false, fmt.Errorf("telegram: %s: unexpected history answer %T", ch.Username, res)
		}
		collectChats(page.GetChats(), chats)
		n := 0
		for _, mc := range page.GetMessages() {
			id := mc.GetID()
			if id <= st.LastID || (offset > 0 && id >= offset) {
				continue // the server should not send these; never take them twice
			}
			n++
			seen = append(seen, id)
			if m, ok := mc.(*tg.Message); ok {
				msgs = append(msgs, m)
			}
			if offset == 0 || id < offset {
				offset = id
			}
		}
		if n == 0 || n < limit {
			break
		}
	}
	slices.Sort(seen)
	seen = slices.Compact(seen)
	slices.SortFunc(msgs, func(a, b *tg.Message) int { return a.ID - b.ID })
	msgs = slices.CompactFunc(msgs, func(a, b *tg.Message) bool { return a.ID == b.ID })
	return msgs, seen, len(seen) >= budget && st.LastID > 0, nil
}

func (c *Collector) rpcError(ch Channel, what string, err error) error {
	if fatal := sessionError(err); fatal != nil {
		return fatal
	}
	if tgerr.Is(err, channelErrors...) {
		return fmt.Errorf("%w: @%s: %w", ErrChannelUnavailable, ch.Username, err)
	}
	return fmt.Errorf("telegram: %s @%s: %w", what, ch.Username, err)
}

// missingIDs lists the ids in (lo, last seen] that the history lacked.
func missingIDs(lo int, seen []int) []int {
	var out []int
	next := lo + 1
	for _, id := range seen {
		for ; next < id; next++ {
			out = append(out, next)
		}
		next = id + 1
	}
	return out
}

// maxRefetch bounds the ids asked for one by one in a poll; a larger hole
// is counted without asking.
const maxRefetch = 200

func (c *Collector) fetchMissing(ctx context.Context, api *tg.Client, ch Channel, st *State, missing []int, chats map[int64]*tg.Channel) ([]*tg.Message, error) {
	log := c.log.With(zap.String("source", ch.ID))
	if len(missing) > maxRefetch {
		st.Gaps += int64(len(missing) - maxRefetch)
		log.Warn("large gap in message ids; counting the oldest without fetching them",
			zap.Int("missing", len(missing)), zap.Int("fetching", maxRefetch))
		missing = missing[len(missing)-maxRefetch:]
	}
	var got []*tg.Message
	err := c.messagesByID(ctx, api, ch, st, missing, "fetch missing ids", func(batch []int, page tg.ModifiedMessagesMessages) {
		collectChats(page.GetChats(), chats)
		found := map[int]bool{}
		for _, mc := range page.GetMessages() {
			switch m := mc.(type) {
			case *tg.Message:
				if slices.Contains(batch, m.ID) && !found[m.ID] {
					found[m.ID] = true
					got = append(got, m)
				}
			case *tg.MessageService:
				found[m.ID] = true
			}
		}
		recovered := int64(len(found))
		gaps := int64(len(batch)) - recovered
		st.Recovered += recovered
		st.Gaps += gaps
		if gaps > 0 {
			log.Info("message ids missing from the channel (deleted or unavailable)", zap.Int64("count", gaps), zap.Int("from", batch[0]), zap.Int("to", batch[len(batch)-1]), zap.Int64("gaps_total", st.Gaps))
		}
	})
	if err != nil {
		return nil, err
	}
	return got, nil
}

// messagesByID asks the channel for ids, at most 100 a call (the API's
// limit), and hands each batch with its answer to use.
func (c *Collector) messagesByID(ctx context.Context, api *tg.Client, ch Channel, st *State, ids []int, what string, use func(batch []int, page tg.ModifiedMessagesMessages)) error {
	channel := &tg.InputChannel{ChannelID: st.ChannelID, AccessHash: st.AccessHash}
	for start := 0; start < len(ids); start += 100 {
		batch := ids[start:min(start+100, len(ids))]
		in := make([]tg.InputMessageClass, len(batch))
		for i, id := range batch {
			in[i] = &tg.InputMessageID{ID: id}
		}
		res, err := api.ChannelsGetMessages(ctx, &tg.ChannelsGetMessagesRequest{Channel: channel, ID: in})
		if err != nil {
			return c.rpcError(ch, what, err)
		}
		page, ok := res.AsModified()
		if !ok {
			return fmt.Errorf("telegram: %s: unexpected messages answer %T", ch.Username, res)
		}
		use(batch, page)
	}
	return nil
}

func (c *Collector) publish(ctx context.Context, ch Channel, st *State, m *tg.Message, chats map[int64]*tg.Channel) error {
	item, ok := c.rawItem(ch, st, m, chats)
	if !ok {
		c.stat(ch.ID, func(s *ChannelStats) { s.Skipped++ })
		c.log.Debug("post has no text to publish", zap.String("source", ch.ID), zap.Int("id", m.ID), zap.String("media", mediaType(m.Media)))
		return nil
	}
	ack, err := c.pub.Publish(ctx, item)
	if err != nil {
		return fmt.Errorf("telegram: %s: %w", ch.ID, err)
	}
	if !ack.Duplicate {
		st.Published++
	}
	// A duplicate is on the bus as well, so its entry can be withdrawn too.
	st.remember(m.ID, ch.Recheck)
	c.stat(ch.ID, func(s *ChannelStats) {
		if ack.Duplicate {
			s.Duplicates++
		} else {
			s.Published++
		}
	})
	return nil
}

// NativeID is the native id both Telegram collectors give a post.
func NativeID(username string, id int) string {
	return strings.ToLower(username) + "/" + strconv.Itoa(id)
}

// PostURL is the canonical link both Telegram collectors give a post.
func PostURL(username string, id int) string {
	return "https://t.me/" + strings.ToLower(username) + "/" + strconv.Itoa(id)
}

func unixTime(sec int) string {
	if sec <= 0 {
		return ""
	}
	return time.Unix(int64(sec), 0).UTC().Format(time.RFC3339)
}

// rawItem maps a message; ok is false when it carries no text at all.
func (c *Collector) rawItem(ch Channel, st *State, m *tg.Message, chats map[int64]*tg.Channel) (wire.RawItem, bool) {
	body := Markdown(m.Message, m.Entities)
	if strings.TrimSpace(body) == "" {
		if p, ok := m.Media.(*tg.MessageMediaPoll); ok {
			answers := make([]string, len(p.Poll.Answers))
			for i, a := range p.Poll.Answers {
				answers[i] = a.Text
			}
			body = PollText(p.Poll.Question, answers)
		}
	}
	if strings.TrimSpace(body) == "" {
		return wire.RawItem{}, false
	}
	name := ch.Name
	if name == "" {
		name = st.Title
	}
	item := wire.RawItem{
		Kind:       Kind,
		Source:     ch.ID,
		NativeID:   NativeID(st.Username, m.ID),
		SourceCode: ch.Code,
		SourceName: name,
		URL:        PostURL(st.Username, m.ID),
		Author:     st.Title,
		Body:       body,
		BodyFormat: wire.FormatMarkdown,
		Published:  unixTime(m.Date),
		Updated:    unixTime(m.EditDate),
		ObservedAt: c.cfg.Now().UTC(),
		// tg://privatepost names the post by channel id, which stays
		// valid when the channel changes its username.
		Fetch: &wire.Fetch{URL: fmt.Sprintf("tg://privatepost?channel=%d&post=%d", st.ChannelID, m.ID)},
		Meta:  &wire.PostStats{Views: int64(m.Views), MediaType: mediaType(m.Media), EditedAt: unixTime(m.EditDate)},
	}
	if m.PostAuthor != "" {
		item.Author = m.PostAuthor
	}
	if fwd, ok := m.GetFwdFrom(); ok {
		item.ForwardOf = forwardRef(fwd, chats)
	}
	if rh, ok := m.ReplyTo.(*tg.MessageReplyHeader); ok && rh.ReplyToMsgID > 0 {
		item.ReplyTo = replyRef(ch, st, rh, chats)
	}
	if item.Meta.Views == 0 && item.Meta.MediaType == "" && item.Meta.EditedAt == "" {
		item.Meta = nil
	}
	return item, true
}

// forwardRef names a forward's origin the way its own collector would:
// Source is the origin's username (the source id newswire expects for
// it) and NativeID its "<username>/<id>". An origin without a public
// username keeps only a tg:// link; a user's forward only its name.
func forwardRef(fwd tg.MessageFwdHeader, chats map[int64]*tg.Channel) *wire.Ref {
	pc, ok := fwd.FromID.(*tg.PeerChannel)
	if !ok {
		if fwd.FromName == "" {
			return nil
		}
		return &wire.Ref{Kind: Kind, Source: fwd.FromName}
	}
	if origin, ok := chats[pc.ChannelID]; ok && origin.Username != "" && fwd.ChannelPost > 0 {
		u := strings.ToLower(origin.Username)
		return &wire.Ref{Kind: Kind, Source: u, NativeID: NativeID(u, fwd.ChannelPost), URL: PostURL(u, fwd.ChannelPost)}
	}
	ref := &wire.Ref{Kind: Kind}
	if fwd.ChannelPost > 0 {
		ref.URL = fmt.Sprintf("tg://privatepost?channel=%d&post=%d", pc.ChannelID, fwd.ChannelPost)
	}
	return ref
}

func replyRef(ch Channel, st *State, rh *tg.MessageReplyHeader, chats map[int64]*tg.Channel) *wire.Ref {
	if pc, ok := rh.ReplyToPeerID.(*tg.PeerChannel); ok && pc.ChannelID != st.ChannelID {
		if other, ok := chats[pc.ChannelID]; ok && other.Username != "" {
			u := strings.ToLower(other.Username)
			return &wire.Ref{Kind: Kind, Source: u, NativeID: NativeID(u, rh.ReplyToMsgID), URL: PostURL(u, rh.ReplyToMsgID)}
		}
		return &wire.Ref{Kind: Kind, URL: fmt.Sprintf("tg://privatepost?channel=%d&post=%d", pc.ChannelID, rh.ReplyToMsgID)}
	}
	return &wire.Ref{Kind: Kind, Source: ch.ID, NativeID: NativeID(st.Username, rh.ReplyToMsgID), URL: PostURL(st.Username, rh.ReplyToMsgID)}
}

// IsUnauthorized reports whether err means the account is not signed in.
func IsUnauthorized(err error) bool { return auth.IsUnauthorized(err) }
