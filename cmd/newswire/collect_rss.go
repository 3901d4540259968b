package main

import (
	"net/http"
	"time"

	"github.com/newswire/newswire/config"
	"github.com/newswire/newswire/ingest"
	"github.com/newswire/newswire/ingest/rss"
)

func init() {
	collectorBuilders["rss"] = func(p *parts, pub ingest.Publisher, sources []config.Source) ([]namedCollector, error) {
		feeds := make([]rss.Feed, 0, len(sources))
		for _, s := range sources {
			feeds = append(feeds, rss.Feed{ID: s.ID, Code: s.Code, Name: s.Name, URL: s.URL, Interval: time.Duration(s.Interval)})
		}
		cc := p.cfg.Collector
		c, err := rss.New(rss.Config{Feeds: feeds, UserAgent: cc.UserAgent, Timeout: time.Duration(cc.Timeout), MaxBody: int64(cc.MaxBody)},
			pub, &http.Client{Timeout: time.Duration(cc.Timeout)}, p.log)
		if err != nil {
			return nil, err
		}
		return []namedCollector{{"rss", c}}, nil
	}
}
