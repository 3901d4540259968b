package config

import (
	"net/url"
	"regexp"
	"strings"
)

// XOptions are the options of an x source: exactly one of user, list_id
// and query says what it reads. max_pages (TgwebOptions) bounds one poll;
// recheck and recheck_interval (TelegramOptions) look the newest published
// posts up again to withdraw deleted ones — off (0) by default for x,
// because every post looked up is a paid read (1h between re-checks when on).
//
//   - {id: reuters-x, kind: x, code: REUTERS, user: "@Reuters", interval: 15m, recheck: 20, recheck_interval: 6h}
//   - {id: newsroom, kind: x, list_id: "1234567890", interval: 30m}
//   - {id: quake-x, kind: x, query: "earthquake -is:retweet lang:en", interval: 1h}
type XOptions struct {
	// User is the account whose timeline is read ("@name" or "name");
	// UserID, when given, spares the one lookup of its numeric id.
	User   string `yaml:"user"`
	UserID string `yaml:"user_id"`
	// ListID reads a list's timeline; Query reads recent search.
	ListID string `yaml:"list_id"`
	Query  string `yaml:"query"`
	// ExcludeReplies leaves replies out (x user timelines, mastodon
	// accounts); ExcludeRetweets leaves retweets out (x user timelines).
	ExcludeReplies  bool `yaml:"exclude_replies"`
	ExcludeRetweets bool `yaml:"exclude_retweets"`
}

// XConfig is the top-level `x:` section: the app-only bearer token every
// x source reads with, and where the API lives.
//
//	x:
//	  bearer_token: env:NEWSWIRE_X_BEARER_TOKEN   # or file:/path
//	  base_url: https://api.x.com
//	  max_results: 100
type XConfig struct {
	BearerToken Secret `yaml:"bearer_token"`
	BaseURL     string `yaml:"base_url"`
	MaxResults  int    `yaml:"max_results"`
}

var (
	xUsername = regexp.MustCompile(`^@?[A-Za-z0-9_]{1,15}$`)
	numericID = regexp.MustCompile(`^[0-9]{1,20}$`)
)

// checkX validates the options of an x source.
func checkX(s *Source, add func(sub, format string, args ...any)) {
	n := 0
	for _, v := range []string{s.User, s.ListID, s.Query} {
		if strings.TrimSpace(v) != "" {
			n++
		}
	}
	if n != 1 {
		add("", "an x source reads exactly one of user, list_id and query")
	}
	if s.User != "" && !xUsername.MatchString(s.User) {
		add(".user", "%q is not an X username (1-15 letters, digits and _)", s.User)
	}
	if s.UserID != "" && (!numericID.MatchString(s.UserID) || s.User == "") {
		add(".user_id", "must be the numeric id of the user named in user")
	}
	if s.ListID != "" && !numericID.MatchString(s.ListID) {
		add(".list_id", "must be a numeric list id, not %q", s.ListID)
	}
	if len(s.Query) > 512 {
		add(".query", "must be at most 512 characters (the limit of recent search)")
	}
	if s.ExcludeRetweets && s.User == "" {
		add(".exclude_retweets", "applies to user timelines only")
	}
	if s.ExcludeReplies && s.User == "" {
		add(".exclude_replies", "applies to user timelines only")
	}
	if s.Interval != 0 && s.Interval < Duration(60e9) {
		add(".interval", "must be at least 1m (every request costs)")
	}
	if s.MaxPages < 0 || s.MaxPages > 50 {
		add(".max_pages", "must be within 0..50")
	}
	checkTelegramRecheck(s, add)
}

// validateX checks the x section, resolving the token, and requires the
// token when an x source is configured.
func (c *Config) validateX(add func(path, format string, args ...any)) {
	if err := c.X.BearerToken.Resolve(); err != nil {
		add("x.bearer_token", "%v", err)
	}
	if c.X.BaseURL != "" {
		u, err := url.Parse(c.X.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.User != nil {
			add("x.base_url", "must be an http(s) URL without query or user info, not %q", c.X.BaseURL)
		}
	}
	if c.X.MaxResults != 0 && (c.X.MaxResults < 10 || c.X.MaxResults > 100) {
		add("x.max_results", "must be within 10..100")
	}
	for _, s := range c.Sources {
		if s.Kind == "x" && c.X.BearerToken.Ref == "" {
			add("x.bearer_token", "is required for x sources; write env:NAME or file:/path (see ingest/x/README.md)")
			return
		}
	}
}
