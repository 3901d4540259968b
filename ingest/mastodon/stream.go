package mastodon

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"go.uber.org/zap"
)

// ErrStreamEnded: the server closed the stream (or it went idle); the
// source reconnects.
var ErrStreamEnded = errors.New("mastodon: stream ended")

// streamLoop keeps a hashtag or list stream open, reconnecting with our
// own backoff. Every connection first opens the stream, then catches up
// over REST from the last published id, then reads events: what was
// posted while disconnected comes from the catch-up, and a status both
// carry is published once.
func (c *Collector) streamLoop(ctx context.Context, src Source) {
	failures := 0
	for attempt := 0; ; attempt++ {
		err := c.streamOnce(ctx, src, attempt > 0)
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, ErrCredential) {
			c.log.Error("the instance rejected the access token; stream stopped and source marked failing", zap.String("source", src.ID), zap.Error(err))
			return
		}
		var wait time.Duration
		if errors.Is(err, errHadEvents) {
			// A stream that worked and then ended is reconnected at once
			// (after a second, so a server closing at once cannot spin us).
			failures = 0
			wait = time.Second
		} else {
			wait = c.schedule(src, err, &failures, time.Second)
		}
		c.stat(src.ID, func(s *SourceStats) { s.Reconnects++ })
		c.log.Info("stream reconnecting", zap.String("source", src.ID), zap.Duration("in", wait), zap.Error(err))
		if c.cfg.Sleep(ctx, wait) != nil {
			return
		}
	}
}

// errHadEvents wraps the end of a stream that delivered data.
var errHadEvents = errors.New("mastodon: stream delivered data")

// streamOnce runs one connection of a stream source to its end.
func (c *Collector) streamOnce(ctx context.Context, src Source, reconnect bool) (err error) {
	st, err := c.loadFor(ctx, src)
	if err != nil {
		return err
	}
	st.Polls++
	st.LastPoll = c.cfg.Now().UTC()
	defer func() {
		if err != nil && !errors.Is(err, errHadEvents) {
			c.record(ctx, src, &st, err)
			if serr := c.save(ctx, src.ID, &st); serr != nil {
				c.log.Error("state not saved", zap.String("source", src.ID), zap.Error(serr))
			}
		}
	}()
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	body, err := c.openStream(sctx, src)
	if err != nil {
		return err
	}
	defer body.Close()
	if reconnect {
		st.Reconnects++
	}
	if err := c.catchUp(ctx, src, &st, timelinePath(src), url.Values{"limit": {"40"}}); err != nil {
		return err
	}
	c.record(ctx, src, &st, nil)
	if err := c.save(ctx, src.ID, &st); err != nil {
		return err
	}
	// The idle timer ends a stream that stopped sending even heartbeats.
	idle := time.AfterFunc(c.cfg.StreamIdle, cancel)
	defer idle.Stop()
	events := 0
	rerr := readEvents(body, func() { idle.Reset(c.cfg.StreamIdle) }, func(event, data string) error {
		events++
		c.stat(src.ID, func(s *SourceStats) { s.Events++ })
		return c.handleEvent(ctx, src, &st, event, data)
	})
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if errors.Is(rerr, errPublish) {
		return rerr // the bus is in trouble: back off
	}
	end := fmt.Errorf("%w: %s after %d events", ErrStreamEnded, streamURL(src), events)
	switch {
	case sctx.Err() != nil:
		end = fmt.Errorf("%w: no data for %s", ErrStreamEnded, c.cfg.StreamIdle)
	case rerr != nil && !errors.Is(rerr, io.EOF):
		end = fmt.Errorf("%w: %w", end, rerr)
	}
	if events > 0 {
		return fmt.Errorf("%w: %w", errHadEvents, end)
	}
	return end
}

// errPublish marks an event that could not be put on the bus.
var errPublish = errors.New("mastodon: publish failed")

// openStream connects to the streaming API and checks the answer.
func (c *Collector) openStream(ctx context.Context, src Source) (io.ReadCloser, error) {
	u := streamURL(src)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("mastodon: request %s: %w", u, err)
	}
	c.api.headers(req, src.Token, "text/event-stream")
	c.stat(src.ID, func(s *SourceStats) { s.Requests++ })
	resp, err := c.stream.Do(req)
	if err != nil {
		return nil, fmt.Errorf("mastodon: stream %s: %w", u, err)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		return nil, c.api.status(limitKey(src.Instance, src.Token), src.Instance, u, resp, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		resp.Body.Close()
		return nil, fmt.Errorf("%w: %s answered %q, not text/event-stream", ErrMalformed, u, ct)
	}
	return resp.Body, nil
}

// handleEvent acts on one stream event: update publishes, delete
// withdraws a published status, status.update is counted (an edit is not
// published again); anything else is ignored.
func (c *Collector) handleEvent(ctx context.Context, src Source, st *State, event, data string) error {
	switch event {
	case "update":
		var s status
		if err := json.Unmarshal([]byte(data), &s); err != nil || !s.valid() {
			c.malformed(src, "update event", err, []byte(data))
			return nil
		}
		before := st.Published
		if err := c.publish(ctx, src, st, s, streamURL(src)); err != nil {
			return fmt.Errorf("%w: %w", errPublish, err)
		}
		st.Observe(c.cfg.Now(), int(st.Published-before)) // a streamed post is news as much as a polled one
	case "delete":
		id := strings.TrimSpace(data)
		if !validID(id) {
			c.malformed(src, "delete event", nil, []byte(data))
			return nil
		}
		k, ok := st.isKnown(id)
		if !ok {
			return nil
		}
		if err := c.withdraw(ctx, src, st, k, "delete event"); err != nil {
			return fmt.Errorf("%w: %w", errPublish, err)
		}
	case "status.update":
		c.stat(src.ID, func(s *SourceStats) { s.Edits++ })
		return nil
	default:
		return nil
	}
	st.LastSuccess = c.cfg.Now().UTC()
	if err := c.save(ctx, src.ID, st); err != nil {
		// The next event or reconnect saves again; the bus drops copies.
		c.log.Error("state not saved", zap.String("source", src.ID), zap.Error(err))
	}
	return nil
}

// readEvents reads server-sent events from r until it ends or handle
// fails: "event:" names the event, "data:" lines are joined with "\n",
// a blank line dispatches, lines starting with ":" are comments (Mastodon's
// heartbeats). alive is called for every line.
func readEvents(r io.Reader, alive func(), handle func(event, data string) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	var event string
	var data []string
	for sc.Scan() {
		alive()
		line := strings.TrimSuffix(sc.Text(), "\r")
		switch {
		case line == "":
			if len(data) > 0 {
				if event == "" {
					event = "message"
				}
				if err := handle(event, strings.Join(data, "\n")); err != nil {
					return err
				}
			}
			event, data = "", nil
		case strings.HasPrefix(line, ":"):
		default:
			field, value, _ := strings.Cut(line, ":")
			value = strings.TrimPrefix(value, " ")
			switch field {
			case "event":
				event = value
			case "data":
				data = append(data, value)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return io.EOF
}
