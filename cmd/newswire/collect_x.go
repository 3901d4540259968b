package main

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/newswire/newswire/config"
	"github.com/newswire/newswire/ingest"
	"github.com/newswire/newswire/ingest/x"
)

// buildX builds the collector of the x sources.
func buildX(p *parts, pub ingest.Publisher, sources []config.Source) ([]namedCollector, error) {
	kv, err := p.sourceBucket(context.Background(), "x")
	if err != nil {
		return nil, err
	}
	srcs := make([]x.Source, 0, len(sources))
	for _, s := range sources {
		srcs = append(srcs, x.Source{ID: s.ID, Code: s.Code, Name: s.Name, Username: s.User, UserID: s.UserID,
			ListID: s.ListID, Query: s.Query, ExcludeReplies: s.ExcludeReplies, ExcludeRetweets: s.ExcludeRetweets,
			Interval: time.Duration(s.Interval), MaxPages: s.MaxPages,
			Recheck: s.Recheck, RecheckInterval: time.Duration(s.RecheckInterval)})
	}
	cc, xc := p.cfg.Collector, p.cfg.X
	c, err := x.New(x.Config{
		Sources: srcs, BearerToken: xc.BearerToken.Value(), BaseURL: xc.BaseURL, MaxResults: xc.MaxResults,
		UserAgent: cc.UserAgent, Timeout: time.Duration(cc.Timeout), MaxBody: int64(cc.MaxBody),
	}, pub, kv, &http.Client{Timeout: time.Duration(cc.Timeout)}, p.log)
	if err != nil {
		return nil, err
	}
	return []namedCollector{{"x", credentialBound{c}}}, nil
}

// credentialBound keeps the rest of the pipeline running when X rejects
// the token: the collector has marked its sources failing and logged the
// one clear error, and only a new token can help.
type credentialBound struct{ c *x.Collector }

func (b credentialBound) Run(ctx context.Context) error {
	if err := b.c.Run(ctx); err != nil && !errors.Is(err, x.ErrCredential) {
		return err
	}
	return nil
}

// Stats exposes the collector's counters on /metrics.
func (b credentialBound) Stats() map[string]x.SourceStats { return b.c.Stats() }
