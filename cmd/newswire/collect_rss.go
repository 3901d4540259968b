package main

import (
	"context"
	"fmt"
	"time"

	"github.com/newswire/newswire/config"
	"github.com/newswire/newswire/ingest"
	"github.com/newswire/newswire/ingest/egress"
	"github.com/newswire/newswire/ingest/rss"
)

// buildRSS builds the collectors of the rss sources.
func buildRSS(p *parts, pub ingest.Publisher, sources []config.Source) ([]namedCollector, error) {
	kv, err := p.sourceBucket(context.Background(), "rss")
	if err != nil {
		return nil, err
	}
	rc, err := rssConfig(p.cfg, sources)
	if err != nil {
		return nil, err
	}
	if rc.WebSub.CallbackURL != "" {
		key, err := config.LoadOrCreateKey(websubKeyPath(p.cfg))
		if err != nil {
			return nil, fmt.Errorf("websub key: %w", err)
		}
		rc.WebSub.SecretKey = []byte(key)
	}
	c, err := rss.New(rc, pub, kv, p.log)
	if err != nil {
		return nil, err
	}
	return []namedCollector{{"rss", c}}, nil
}

// rssConfig maps the configuration file onto the collector's settings.
func rssConfig(cfg *config.Config, sources []config.Source) (rss.Config, error) {
	cc := cfg.Collector
	feeds := make([]rss.Feed, 0, len(sources))
	for _, s := range sources {
		feeds = append(feeds, rss.Feed{
			ID: s.ID, Code: s.Code, Name: s.Name, URL: s.URL,
			Interval: time.Duration(s.Interval), MaxBody: int64(s.MaxBody),
			NoWebSub: s.WebSub != nil && !*s.WebSub,
		})
	}
	redirects := cc.MaxRedirects
	if redirects == 0 {
		redirects = -1 // the file's 0 means "follow none"
	}
	jitter := cc.Jitter
	if jitter == 0 {
		jitter = -1 // the file's 0 means "no jitter"
	}
	pol, err := egress.New(cc.AllowPrivate)
	if err != nil {
		return rss.Config{}, fmt.Errorf("collector.allow_private: %w", err)
	}
	return rss.Config{
		Egress:         pol,
		Feeds:          feeds,
		UserAgent:      cc.UserAgent,
		Contact:        cc.Contact,
		ConnectTimeout: time.Duration(cc.ConnectTimeout),
		HeaderTimeout:  time.Duration(cc.HeaderTimeout),
		Timeout:        time.Duration(cc.Timeout),
		MaxBody:        int64(cc.MaxBody),
		MaxRedirects:   redirects,
		Interval:       time.Duration(cc.RSSInterval),
		BackoffMax:     time.Duration(cc.BackoffMax),
		Jitter:         jitter,
		Workers:        cc.Workers,
		PerHost:        cc.PerHost,
		WebSub: rss.WebSubConfig{
			CallbackURL: cc.WebSubCallback,
			Listen:      cc.WebSubListen,
			Lease:       time.Duration(cc.WebSubLease),
		},
	}, nil
}
