package config

import "net/url"

func init() {
	kinds["rss"] = func(s *Source, add func(sub, format string, args ...any)) {
		if u, err := url.Parse(s.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			add(".url", "must be an http(s) URL, not %q", s.URL)
		}
		if s.Interval != 0 && s.Interval < Duration(10e9) {
			add(".interval", "must be at least 10s")
		}
	}
}
