package config

import (
	"fmt"
	"regexp"
	"strings"
)

// TelegramOptions are the options of a telegram (MTProto) or tgweb
// (public t.me/s preview) source. Both kinds name the channel the same way,
// so one struct serves both.
//
//   - {id: reuters, kind: telegram, channel: "@reuters", interval: 2m, recheck: 50, recheck_interval: 10m}
//   - {id: nikkeiasia, kind: tgweb, channel: "https://t.me/NikkeiAsia", interval: 5m}
//
// Give a source the channel's username as its id when other channels
// forward its posts: forwards name their origin by username, and the
// normalizer marks them as reposts of that source's entries.
type TelegramOptions struct {
	// Channel is the public username, as "@name", "name" or a t.me link.
	Channel string `yaml:"channel"`
	// Backfill is how many of the latest posts to take the first time a
	// channel is read; later polls take everything after the last seen post.
	Backfill int `yaml:"backfill"`
	// Recheck (kinds telegram, mastodon and x) is how many of the latest
	// published posts are asked for again to notice deletions and withdraw
	// them (telegram: default 50, mastodon: 10, -1 turns it off; x: default
	// 0, off, because every read is paid); RecheckInterval is the least time
	// between two such checks (default 10m; x: 1h), which spares the rate
	// limit.
	Recheck         int      `yaml:"recheck"`
	RecheckInterval Duration `yaml:"recheck_interval"`
}

// TelegramConfig is the top-level `telegram:` section: the account the
// MTProto collector reads with.
//
//	telegram:
//	  api_id: 123456
//	  api_hash: env:NEWSWIRE_TG_API_HASH
//	  session_file: /var/lib/newswire/telegram.session   # default <data_dir>/telegram.session
//	  rate: 1          # requests per second, all channels together
//	  max_flood_wait: 5m
type TelegramConfig struct {
	APIID        int      `yaml:"api_id"`
	APIHash      Secret   `yaml:"api_hash"`
	SessionFile  string   `yaml:"session_file"`
	Rate         float64  `yaml:"rate"`
	MaxFloodWait Duration `yaml:"max_flood_wait"`
}

var telegramUsername = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{3,31}$`)

// TelegramChannel returns the bare username a channel option names: "@x",
// "x", "t.me/x", "https://t.me/x" and "https://t.me/s/x" all give "x".
func TelegramChannel(s string) (string, error) {
	s = strings.TrimSpace(s)
	for _, p := range []string{"https://", "http://"} {
		s = strings.TrimPrefix(s, p)
	}
	for _, p := range []string{"www.t.me/", "t.me/", "telegram.me/"} {
		s = strings.TrimPrefix(s, p)
	}
	s = strings.TrimPrefix(s, "s/")
	s = strings.TrimPrefix(s, "@")
	s = strings.TrimSuffix(s, "/")
	if !telegramUsername.MatchString(s) {
		return "", fmt.Errorf("%q is not a Telegram username (5-32 letters, digits and _, starting with a letter)", s)
	}
	return s, nil
}

func checkTelegramSource(s *Source, add func(sub, format string, args ...any)) {
	if s.Channel == "" {
		add(".channel", "is required (the channel's @username)")
	} else if _, err := TelegramChannel(s.Channel); err != nil {
		add(".channel", "%v", err)
	}
	if s.Backfill < 0 || s.Backfill > 1000 {
		add(".backfill", "must be within 0..1000")
	}
	if s.Interval != 0 && s.Interval < Duration(30e9) {
		add(".interval", "must be at least 30s")
	}
}

func checkTelegramRecheck(s *Source, add func(sub, format string, args ...any)) {
	if s.Recheck < -1 || s.Recheck > 500 {
		add(".recheck", "must be within 0..500 (-1 turns re-checking off)")
	}
	if s.RecheckInterval != 0 && s.RecheckInterval < Duration(60e9) {
		add(".recheck_interval", "must be at least 1m")
	}
}

// checkTelegram validates the options of a telegram source.
func checkTelegram(s *Source, add func(sub, format string, args ...any)) {
	checkTelegramSource(s, add)
	checkTelegramRecheck(s, add)
}

// validateTelegram checks the telegram section when a telegram source
// needs it, and resolves the API hash.
func (c *Config) validateTelegram(add func(path, format string, args ...any)) {
	need := false
	for _, s := range c.Sources {
		need = need || s.Kind == "telegram"
	}
	t := &c.Telegram
	if err := t.APIHash.Resolve(); err != nil {
		add("telegram.api_hash", "%v", err)
	}
	if t.Rate < 0 || t.Rate > 30 {
		add("telegram.rate", "must be within 0..30 requests per second")
	}
	if t.MaxFloodWait < 0 {
		add("telegram.max_flood_wait", "must not be negative")
	}
	if !need {
		return
	}
	if t.APIID <= 0 {
		add("telegram.api_id", "is required for telegram sources (see ingest/telegram/README.md: my.telegram.org → API development tools)")
	}
	if t.APIHash.Ref == "" {
		add("telegram.api_hash", "is required for telegram sources; write env:NAME or file:/path")
	}
}
