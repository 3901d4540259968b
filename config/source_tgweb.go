package config

import "net/url"

// TgwebOptions are the options of a tgweb source beyond TelegramOptions.
//
//   - {id: nikkeiasia, kind: tgweb, channel: "@NikkeiAsia", max_pages: 5}
//   - {id: mirror, kind: tgweb, channel: "@reuters", base_url: "https://tg.example.org"}
type TgwebOptions struct {
	// MaxPages bounds how many preview pages (about 20 posts each) one
	// poll reads back towards the last seen post.
	MaxPages int `yaml:"max_pages"`
	// BaseURL is where the channel previews are read, <base_url>/s/<channel>
	// (default https://t.me): a mirror, a proxy, or a test server.
	BaseURL string `yaml:"base_url"`
}

// checkTgweb validates the options of a tgweb source.
func checkTgweb(s *Source, add func(sub, format string, args ...any)) {
	checkTelegramSource(s, add)
	if s.MaxPages < 0 || s.MaxPages > 100 {
		add(".max_pages", "must be within 0..100")
	}
	if s.BaseURL != "" {
		u, err := url.Parse(s.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			add(".base_url", "must be an http(s) URL without query, fragment or user info, not %q", s.BaseURL)
		}
	}
	// The preview is checked for deleted posts on every fetch anyway.
	if s.Recheck != 0 {
		add(".recheck", "applies to kind telegram only")
	}
	if s.RecheckInterval != 0 {
		add(".recheck_interval", "applies to kind telegram only")
	}
}
