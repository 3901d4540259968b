package config

// ReplayOptions are the options of a replay source.
//
//   - {id: demo, kind: replay, path: testdata/replay/uci-news-2014-03.jsonl, speed: 600}
type ReplayOptions struct {
	// Path of a replay-format file, plain or gzipped.
	Path string `yaml:"path"`
	// Speed paces the items by their published times, this many times
	// faster than real time; 0 publishes as fast as the bus takes them.
	Speed float64 `yaml:"speed"`
}

// checkReplay validates the options of a replay source.
func checkReplay(s *Source, add func(sub, format string, args ...any)) {
	if s.Path == "" {
		add(".path", "is required for a replay source")
	}
	if s.Speed < 0 {
		add(".speed", "must not be negative")
	}
}
