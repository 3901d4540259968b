package main

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/newswire/newswire/config"
	"github.com/newswire/newswire/ingest"
	"github.com/newswire/newswire/ingest/bluesky"
)

// buildBluesky builds the collectors of the bluesky sources: one per
// distinct Jetstream URL, AppView URL and compression, so that accounts
// read alike share one WebSocket connection.
func buildBluesky(p *parts, pub ingest.Publisher, sources []config.Source) ([]namedCollector, error) {
	kv, err := p.sourceBucket(context.Background(), "bluesky")
	if err != nil {
		return nil, err
	}
	type group struct{ jetstream, appview, compression string }
	var order []group
	byGroup := map[group][]bluesky.Account{}
	for _, s := range sources {
		g := group{s.JetstreamURL, s.AppViewURL, s.Compression}
		if g.jetstream == "" {
			g.jetstream = bluesky.DefaultJetstreamURL
		}
		if g.compression == "" {
			g.compression = bluesky.CompressionZstd
		}
		if g.appview == "" {
			g.appview = bluesky.DefaultAppViewURL
		}
		if _, ok := byGroup[g]; !ok {
			order = append(order, g)
		}
		a := bluesky.Account{ID: s.ID, Code: s.Code, Name: s.Name, Handle: config.BlueskyHandle(s.Handle), DID: s.DID,
			Reposts: s.Reposts, SkipReplies: s.Replies != nil && !*s.Replies, Backfill: s.Backfill}
		byGroup[g] = append(byGroup[g], a)
	}
	cc := p.cfg.Collector
	var out []namedCollector
	for _, g := range order {
		c, err := bluesky.New(bluesky.Config{
			Accounts: byGroup[g], JetstreamURL: g.jetstream, AppViewURL: g.appview, Compression: g.compression,
			UserAgent: cc.UserAgent, Timeout: time.Duration(cc.Timeout), MaxBody: int64(cc.MaxBody),
		}, pub, kv, &http.Client{Timeout: time.Duration(cc.Timeout)}, p.log)
		if err != nil {
			return nil, err
		}
		name := "bluesky"
		if len(order) > 1 {
			if u, err := url.Parse(g.jetstream); err == nil {
				name += " " + u.Host
			}
		}
		out = append(out, namedCollector{name, c})
	}
	return out, nil
}
