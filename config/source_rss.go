package config

import (
	"net"
	"net/url"
)

// RSSOptions are the options of an rss source (RSS 0.9x/1.0/2.0, Atom or
// JSON Feed).
//
//   - {id: bbc-world, kind: rss, code: BBC, name: BBC News World, url: "https://feeds.bbci.co.uk/news/world/rss.xml", interval: 5m, tags: [world]}
//   - {id: big-feed, kind: rss, url: "https://example.org/full.xml", max_body: 32MiB, websub: false}
type RSSOptions struct {
	// MaxBody overrides collector.max_body for this feed.
	MaxBody Size `yaml:"max_body"`
	// WebSub set to false never subscribes this feed to its hub, even when
	// collector.websub_callback is set. Unset means subscribe when offered.
	WebSub *bool `yaml:"websub"`
}

// RSSCollectorConfig holds the feed collector's settings, inlined in the
// collector section:
//
//	collector:
//	  contact: "https://example.org/newswire-bot"   # put in the User-Agent
//	  workers: 32            # polls in flight at once
//	  per_host: 2            # polls in flight per host
//	  connect_timeout: 10s
//	  header_timeout: 20s    # from request sent to response headers
//	  max_redirects: 5
//	  rss_interval: 5m       # poll interval of a source that sets none
//	  backoff_max: 6h        # failing feeds are still tried at least this often
//	  jitter: 0.1            # ± fraction of every wait
//	  websub_callback: ""    # public base URL of the WebSub callback, e.g. https://wire.example.org/websub
//	  websub_listen: ""      # where the callback server listens, e.g. :8090
//	  websub_lease: 240h
type RSSCollectorConfig struct {
	Contact        string   `yaml:"contact"`
	Workers        int      `yaml:"workers"`
	PerHost        int      `yaml:"per_host"`
	ConnectTimeout Duration `yaml:"connect_timeout"`
	HeaderTimeout  Duration `yaml:"header_timeout"`
	MaxRedirects   int      `yaml:"max_redirects"`
	RSSInterval    Duration `yaml:"rss_interval"`
	BackoffMax     Duration `yaml:"backoff_max"`
	Jitter         float64  `yaml:"jitter"`
	WebSubCallback string   `yaml:"websub_callback"`
	WebSubListen   string   `yaml:"websub_listen"`
	WebSubLease    Duration `yaml:"websub_lease"`
}

func defaultRSSCollector() RSSCollectorConfig {
	return RSSCollectorConfig{
		Workers: 32, PerHost: 2,
		ConnectTimeout: Duration(10e9), HeaderTimeout: Duration(20e9),
		MaxRedirects: 5, RSSInterval: Duration(5 * 60e9), BackoffMax: Duration(6 * 3600e9),
		Jitter: 0.1, WebSubLease: Duration(240 * 3600e9),
	}
}

func (c RSSCollectorConfig) check(add func(path, format string, args ...any)) {
	if c.Contact != "" {
		if u, err := url.Parse(c.Contact); err != nil || (u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "mailto") {
			add("collector.contact", "must be an http(s) or mailto: URL, not %q", c.Contact)
		}
	}
	if c.Workers < 1 || c.Workers > 4096 {
		add("collector.workers", "must be within 1..4096")
	}
	if c.PerHost < 1 || c.PerHost > 64 {
		add("collector.per_host", "must be within 1..64")
	}
	if c.MaxRedirects < 0 || c.MaxRedirects > 20 {
		add("collector.max_redirects", "must be within 0..20")
	}
	if c.RSSInterval < Duration(10e9) {
		add("collector.rss_interval", "must be at least 10s")
	}
	if c.BackoffMax < c.RSSInterval {
		add("collector.backoff_max", "must be at least collector.rss_interval")
	}
	if c.Jitter < 0 || c.Jitter > 0.5 {
		add("collector.jitter", "must be within 0..0.5")
	}
	if c.WebSubCallback != "" {
		if u, err := url.Parse(c.WebSubCallback); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			add("collector.websub_callback", "must be a public http(s) URL, not %q", c.WebSubCallback)
		}
		if _, _, err := net.SplitHostPort(c.WebSubListen); err != nil {
			add("collector.websub_listen", "must be host:port (e.g. :8090) when websub_callback is set")
		}
		if c.WebSubLease < Duration(3600e9) {
			add("collector.websub_lease", "must be at least 1h")
		}
	}
}

// checkRSS validates the options of a rss source.
func checkRSS(s *Source, add func(sub, format string, args ...any)) {
	if u, err := url.Parse(s.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		add(".url", "must be an http(s) URL, not %q", s.URL)
	}
	if s.Interval != 0 && s.Interval < Duration(10e9) {
		add(".interval", "must be at least 10s")
	}
	if s.MaxBody < 0 || s.MaxBody > 1<<30 {
		add(".max_body", "must be within 0..1GiB")
	}
}
