// Package rss polls RSS, Atom and JSON feeds and publishes their items as
// raw items.
package rss

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/mmcdole/gofeed"
	"go.uber.org/zap"

	"github.com/newswire/newswire/ingest"
	"github.com/newswire/newswire/wire"
)

// Feed is one configured feed.
type Feed struct {
	ID       string
	Code     string
	Name     string
	URL      string
	Interval time.Duration
}

// Config configures the collector.
type Config struct {
	Feeds     []Feed
	UserAgent string
	// Timeout bounds one poll; MaxBody caps a feed body.
	Timeout time.Duration
	MaxBody int64
}

// Collector polls feeds.
type Collector struct {
	cfg    Config
	pub    ingest.Publisher
	client *http.Client
	log    *zap.Logger
	now    func() time.Time
}

// New returns a collector.
func New(cfg Config, pub ingest.Publisher, client *http.Client, log *zap.Logger) (*Collector, error) {
	if len(cfg.Feeds) == 0 {
		return nil, errors.New("rss: no feeds configured")
	}
	for _, f := range cfg.Feeds {
		if f.ID == "" || f.URL == "" {
			return nil, errors.New("rss: every feed needs an id and a url")
		}
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.MaxBody == 0 {
		cfg.MaxBody = 10 << 20
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "newswire/1 (+https://github.com/newswire/newswire)"
	}
	if client == nil {
		client = &http.Client{Timeout: cfg.Timeout}
	}
	if log == nil {
		log = zap.NewNop()
	}
	return &Collector{cfg: cfg, pub: pub, client: client, log: log.Named("rss"), now: time.Now}, nil
}

// Run polls every feed on its interval until ctx ends.
func (c *Collector) Run(ctx context.Context) error {
	done := make(chan struct{}, len(c.cfg.Feeds))
	for _, f := range c.cfg.Feeds {
		go func() {
			defer func() { done <- struct{}{} }()
			c.loop(ctx, f)
		}()
	}
	for range c.cfg.Feeds {
		<-done
	}
	return nil
}

func (c *Collector) loop(ctx context.Context, f Feed) {
	interval := f.Interval
	if interval <= 0 {
		interval = 5 * time.Minute
	}
	failures := 0
	for {
		n, err := c.Poll(ctx, f)
		wait := interval
		if err != nil {
			failures++
			wait = min(interval<<min(failures, 6), 6*time.Hour)
			c.log.Warn("poll failed", zap.String("feed", f.ID), zap.String("url", f.URL), zap.Int("failures", failures), zap.Duration("retry_in", wait), zap.Error(err))
		} else {
			failures = 0
			c.log.Debug("polled", zap.String("feed", f.ID), zap.Int("published", n))
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// Poll fetches a feed once and publishes its items; it returns how many
// were new to the bus.
func (c *Collector) Poll(ctx context.Context, f Feed) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.URL, nil)
	if err != nil {
		return 0, fmt.Errorf("rss: request %s: %w", f.URL, err)
	}
	req.Header.Set("User-Agent", c.cfg.UserAgent)
	req.Header.Set("Accept", "application/rss+xml, application/atom+xml, application/feed+json, application/xml;q=0.9, */*;q=0.8")
	resp, err := c.client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("rss: fetch %s: %w", f.URL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return 0, fmt.Errorf("rss: fetch %s: HTTP %d", f.URL, resp.StatusCode)
	}
	body := io.LimitReader(resp.Body, c.cfg.MaxBody+1)
	data, err := io.ReadAll(body)
	if err != nil {
		return 0, fmt.Errorf("rss: read %s: %w", f.URL, err)
	}
	if int64(len(data)) > c.cfg.MaxBody {
		return 0, fmt.Errorf("rss: %s: body over %d bytes", f.URL, c.cfg.MaxBody)
	}
	feed, err := gofeed.NewParser().ParseString(string(data))
	if err != nil {
		return 0, fmt.Errorf("rss: parse %s: %w", f.URL, err)
	}
	observed := c.now().UTC()
	n := 0
	for _, it := range feed.Items {
		raw := Item(f, feed, it, observed)
		raw.Fetch = &wire.Fetch{URL: f.URL, Status: resp.StatusCode, ETag: resp.Header.Get("ETag")}
		ack, err := c.pub.Publish(ctx, raw)
		if err != nil {
			return n, err
		}
		if !ack.Duplicate {
			n++
		}
	}
	return n, nil
}

// Item maps a feed item to a raw item.
func Item(f Feed, feed *gofeed.Feed, it *gofeed.Item, observed time.Time) wire.RawItem {
	raw := wire.RawItem{
		Kind:       "rss",
		Source:     f.ID,
		SourceCode: f.Code,
		SourceName: f.Name,
		NativeID:   ItemID(it),
		URL:        it.Link,
		Title:      it.Title,
		Body:       it.Content,
		BodyFormat: wire.FormatHTML,
		Published:  it.Published,
		Updated:    it.Updated,
		ObservedAt: observed,
		Lang:       feed.Language,
		Categories: it.Categories,
	}
	if raw.Body == "" {
		raw.Body = it.Description
	}
	if raw.SourceName == "" {
		raw.SourceName = feed.Title
	}
	if len(it.Authors) > 0 && it.Authors[0] != nil {
		raw.Author = it.Authors[0].Name
	}
	for _, e := range it.Enclosures {
		if e != nil && e.URL != "" {
			raw.Enclosures = append(raw.Enclosures, e.URL)
		}
	}
	return raw
}

// ItemID is an item's identity: its GUID, else its link, else a hash of
// title and content.
func ItemID(it *gofeed.Item) string {
	if it.GUID != "" {
		return it.GUID
	}
	if it.Link != "" {
		return it.Link
	}
	sum := sha256.Sum256([]byte(it.Title + "\x00" + it.Content + "\x00" + it.Description))
	return "sha256:" + hex.EncodeToString(sum[:16])
}
