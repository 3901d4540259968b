package config

import (
	"net/url"
	"regexp"
	"strings"
)

// MastodonOptions are the options of a mastodon source: an instance and
// exactly one of account (polled over REST), hashtag or list (followed
// over the streaming API). exclude_replies (XOptions), max_pages
// (TgwebOptions), recheck and recheck_interval (TelegramOptions) apply too.
//
//   - {id: gargron, kind: mastodon, instance: "https://mastodon.social", account: Gargron, interval: 5m}
//   - {id: quakes, kind: mastodon, instance: "https://mastodon.social", hashtag: earthquake}
//   - {id: desk, kind: mastodon, instance: "https://example.social", list: "42", access_token: env:NEWSWIRE_MASTODON_TOKEN}
type MastodonOptions struct {
	Instance string `yaml:"instance"`
	// Account is "name" (on the instance) or "name@other.host".
	Account string `yaml:"account"`
	Hashtag string `yaml:"hashtag"`
	List    string `yaml:"list"`
	// AccessToken is needed for lists and on instances that require
	// one for public data; write env:NAME or file:/path.
	AccessToken Secret `yaml:"access_token"`
}

var (
	mastodonAcct = regexp.MustCompile(`^@?[A-Za-z0-9_]+(@[A-Za-z0-9.-]+(:[0-9]+)?)?$`)
	mastodonTag  = regexp.MustCompile(`^#?[\p{L}\p{N}_]+$`)
)

// checkMastodon validates the options of a mastodon source.
func checkMastodon(s *Source, add func(sub, format string, args ...any)) {
	if s.Instance == "" {
		add(".instance", "is required (the server's https:// URL)")
	} else if u, err := url.Parse(s.Instance); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.User != nil || strings.Trim(u.Path, "/") != "" {
		add(".instance", "must be an http(s) URL of the server without path, query or user info, not %q", s.Instance)
	}
	n := 0
	for _, v := range []string{s.Account, s.Hashtag, s.List} {
		if v != "" {
			n++
		}
	}
	if n != 1 {
		add("", "a mastodon source reads exactly one of account, hashtag and list")
	}
	if s.Account != "" && !mastodonAcct.MatchString(s.Account) {
		add(".account", "%q is not an account name (name or name@host)", s.Account)
	}
	if s.Hashtag != "" && !mastodonTag.MatchString(s.Hashtag) {
		add(".hashtag", "%q is not a hashtag (letters, digits and _)", s.Hashtag)
	}
	if s.List != "" && !numericID.MatchString(s.List) {
		add(".list", "must be a numeric list id, not %q", s.List)
	}
	if err := s.AccessToken.Resolve(); err != nil {
		add(".access_token", "%v", err)
	}
	if s.List != "" && s.AccessToken.Ref == "" {
		add(".access_token", "is required for a list (the list's owner's token, scope read:lists)")
	}
	if s.ExcludeRetweets {
		add(".exclude_retweets", "applies to kind x only")
	}
	if s.ExcludeReplies && s.Account == "" {
		add(".exclude_replies", "applies to accounts only")
	}
	if s.Interval != 0 && s.Interval < Duration(30e9) {
		add(".interval", "must be at least 30s")
	}
	if s.MaxPages < 0 || s.MaxPages > 50 {
		add(".max_pages", "must be within 0..50")
	}
	checkTelegramRecheck(s, add)
}
