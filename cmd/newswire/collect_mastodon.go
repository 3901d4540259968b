package main

import (
	"context"
	"net/http"
	"time"

	"github.com/newswire/newswire/config"
	"github.com/newswire/newswire/ingest"
	"github.com/newswire/newswire/ingest/mastodon"
)

// buildMastodon builds the collector of the mastodon sources.
func buildMastodon(p *parts, pub ingest.Publisher, sources []config.Source) ([]namedCollector, error) {
	kv, err := p.sourceBucket(context.Background(), "mastodon")
	if err != nil {
		return nil, err
	}
	srcs := make([]mastodon.Source, 0, len(sources))
	for _, s := range sources {
		srcs = append(srcs, mastodon.Source{ID: s.ID, Code: s.Code, Name: s.Name, Instance: s.Instance,
			Token: s.AccessToken.Value(), Account: s.Account, Hashtag: s.Hashtag, List: s.List,
			ExcludeReplies: s.ExcludeReplies, Interval: time.Duration(s.Interval), MaxPages: s.MaxPages,
			Recheck: s.Recheck, RecheckInterval: time.Duration(s.RecheckInterval)})
	}
	cc := p.cfg.Collector
	c, err := mastodon.New(mastodon.Config{
		Sources: srcs, UserAgent: cc.UserAgent, Timeout: time.Duration(cc.Timeout), MaxBody: int64(cc.MaxBody),
	}, pub, kv, &http.Client{}, p.log)
	if err != nil {
		return nil, err
	}
	return []namedCollector{{"mastodon", c}}, nil
}
