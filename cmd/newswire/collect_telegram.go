package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/newswire/newswire/config"
	"github.com/newswire/newswire/ingest"
	"github.com/newswire/newswire/ingest/telegram"
)

// buildTelegram builds the collectors of the telegram sources.
func buildTelegram(p *parts, pub ingest.Publisher, sources []config.Source) ([]namedCollector, error) {
	kv, err := p.sourceBucket(context.Background(), "telegram")
	if err != nil {
		return nil, err
	}
	chans := make([]telegram.Channel, 0, len(sources))
	for _, s := range sources {
		username, err := config.TelegramChannel(s.Channel)
		if err != nil {
			return nil, fmt.Errorf("sources %s: %w", s.ID, err)
		}
		chans = append(chans, telegram.Channel{ID: s.ID, Username: username, Code: s.Code, Name: s.Name,
			Interval: time.Duration(s.Interval), Backfill: s.Backfill,
			Recheck: s.Recheck, RecheckInterval: time.Duration(s.RecheckInterval)})
	}
	tc := p.cfg.Telegram
	c, err := telegram.New(telegram.Config{
		AppID: tc.APIID, AppHash: tc.APIHash.Value(), SessionFile: telegramSessionFile(p.cfg),
		Channels: chans, Rate: tc.Rate, MaxFloodWait: time.Duration(tc.MaxFloodWait),
	}, pub, kv, p.log)
	if err != nil {
		return nil, err
	}
	return []namedCollector{{"telegram", sessionBound{c}}}, nil
}

func telegramSessionFile(cfg *config.Config) string {
	if cfg.Telegram.SessionFile != "" {
		return cfg.Telegram.SessionFile
	}
	return filepath.Join(cfg.DataDir, "telegram.session")
}

// sessionBound keeps the rest of the pipeline running when the Telegram
// account cannot read: the collector has logged the one clear error, and
// only a new login can help, so restarting it in a loop would not.
type sessionBound struct{ c *telegram.Collector }

func (s sessionBound) Run(ctx context.Context) error {
	err := s.c.Run(ctx)
	if errors.Is(err, telegram.ErrSessionInvalid) || errors.Is(err, telegram.ErrNotLoggedIn) {
		return nil
	}
	return err
}
