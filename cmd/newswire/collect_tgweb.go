package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/newswire/newswire/config"
	"github.com/newswire/newswire/ingest"
	"github.com/newswire/newswire/ingest/egress"
	"github.com/newswire/newswire/ingest/tgweb"
)

// buildTgweb builds the collectors of the tgweb sources.
func buildTgweb(p *parts, pub ingest.Publisher, sources []config.Source) ([]namedCollector, error) {
	kv, err := p.sourceBucket(context.Background(), "tgweb")
	if err != nil {
		return nil, err
	}
	chans := make([]tgweb.Channel, 0, len(sources))
	for _, s := range sources {
		username, err := config.TelegramChannel(s.Channel)
		if err != nil {
			return nil, fmt.Errorf("sources %s: %w", s.ID, err)
		}
		chans = append(chans, tgweb.Channel{ID: s.ID, Username: username, Code: s.Code, Name: s.Name,
			Interval: time.Duration(s.Interval), MaxPages: s.MaxPages, BaseURL: s.BaseURL})
	}
	cc := p.cfg.Collector
	// t.me pages are fetched under the same egress policy as feeds: a
	// redirect must not lead the collector into the local network.
	pol, err := egress.New(cc.AllowPrivate)
	if err != nil {
		return nil, fmt.Errorf("collector.allow_private: %w", err)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = pol.DialContext(&net.Dialer{Timeout: time.Duration(cc.ConnectTimeout), KeepAlive: 30 * time.Second})
	c, err := tgweb.New(tgweb.Config{
		Channels: chans, UserAgent: cc.UserAgent, Timeout: time.Duration(cc.Timeout), MaxBody: int64(cc.MaxBody),
	}, pub, kv, &http.Client{Timeout: time.Duration(cc.Timeout), Transport: tr}, p.log)
	if err != nil {
		return nil, err
	}
	return []namedCollector{{"tgweb", c}}, nil
}
