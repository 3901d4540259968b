// Package config reads newswire's YAML configuration file, resolves its
// secrets and reports every problem with its path (and line) in the file.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/newswire/newswire/ingest/egress"
	"github.com/newswire/newswire/redact"
)

// Config is the whole configuration file. deploy/newswire.yaml is the
// commented example and the default when no file is given.
type Config struct {
	DataDir   string          `yaml:"data_dir"`
	Log       LogConfig       `yaml:"log"`
	NATS      NATSConfig      `yaml:"nats"`
	HTTP      HTTPConfig      `yaml:"http"`
	Metrics   MetricsConfig   `yaml:"metrics"`
	Collector CollectorConfig `yaml:"collector"`
	Normalize NormalizeConfig `yaml:"normalize"`
	Synth     SynthConfig     `yaml:"synth"`
	Telegram  TelegramConfig  `yaml:"telegram"`
	X         XConfig         `yaml:"x"`
	Sources   []Source        `yaml:"sources"`
}

// LogConfig selects the log level and format.
type LogConfig struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // auto (console on a terminal, else JSON), json, console
}

// NATSConfig says whether to run the embedded server or how to reach a cluster.
type NATSConfig struct {
	// Embedded runs the in-process server for `newswire run`. The stage
	// commands (collect, normalize, synth, serve) connect to URLs instead.
	Embedded  EmbeddedConfig `yaml:"embedded"`
	URLs      []string       `yaml:"urls"`
	User      string         `yaml:"user"`
	Password  Secret         `yaml:"password"`
	Token     Secret         `yaml:"token"`
	NKeyFile  string         `yaml:"nkey_file"`
	CredsFile string         `yaml:"creds_file"`
	TLS       TLSConfig      `yaml:"tls"`
	// Storage of the streams: file (default) or memory.
	Storage  string `yaml:"storage"`
	Replicas int    `yaml:"replicas"`
}

// EmbeddedConfig configures the in-process nats-server.
type EmbeddedConfig struct {
	Host string `yaml:"host"`
	Port int    `yaml:"port"`
	// SyncInterval is "always" (fsync before every PubAck) or a duration.
	SyncInterval string `yaml:"sync_interval"`
	MaxMemory    Size   `yaml:"max_memory"`
	MaxStore     Size   `yaml:"max_store"`
	MaxPayload   Size   `yaml:"max_payload"`
}

// TLSConfig holds client TLS files.
type TLSConfig struct {
	CAFile             string `yaml:"ca_file"`
	CertFile           string `yaml:"cert_file"`
	KeyFile            string `yaml:"key_file"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify"`
}

// HTTPConfig configures the API server.
type HTTPConfig struct {
	Listen        string `yaml:"listen"`
	RecentEntries int    `yaml:"recent_entries"`
	// MaxStreams bounds the concurrent /api/stream clients; more get 503.
	MaxStreams int `yaml:"max_streams"`
	// MaxStoryBytes bounds the story snapshots the API holds in memory.
	MaxStoryBytes Size `yaml:"max_story_bytes"`
}

// MetricsConfig configures the Prometheus endpoint. `run` and `serve`
// always serve /metrics on the API address; Listen adds a dedicated
// listener, which the collect, normalize and synth stages need to be scraped.
type MetricsConfig struct {
	Listen string `yaml:"listen"`
}

// CollectorConfig holds settings shared by the collectors.
type CollectorConfig struct {
	UserAgent string   `yaml:"user_agent"`
	Timeout   Duration `yaml:"timeout"`
	MaxBody   Size     `yaml:"max_body"`
	// AllowPrivate lets the collectors reach addresses they refuse by
	// default (loopback, private, link-local, CGNAT, …): CIDRs, single
	// addresses or host names, for intranet feeds. Empty: public only.
	AllowPrivate []string `yaml:"allow_private"`

	RSSCollectorConfig `yaml:",inline"`
}

// NormalizeConfig configures the normalizer.
type NormalizeConfig struct {
	HeadlineRunes  int      `yaml:"headline_runes"`
	FutureSkew     Duration `yaml:"future_skew"`
	FingerprintTTL Duration `yaml:"fingerprint_ttl"`
	// NearDuplicateSimilarity is the estimated Jaccard similarity of word
	// 1- and 2-grams at which an entry becomes duplicate_of an earlier one.
	NearDuplicateSimilarity float64  `yaml:"near_duplicate_similarity"`
	NearDuplicateWindow     Duration `yaml:"near_duplicate_window"`
	NearDuplicateMaxEntries int      `yaml:"near_duplicate_max_entries"`
	// Languages are the ISO 639-1 candidates of language detection; an
	// empty list leaves only the script rules.
	Languages   []string `yaml:"languages"`
	MaxInFlight int      `yaml:"max_in_flight"`
	// RedeliveryBackoff paces redeliveries of a raw item whose ack never
	// came (a crashed replica); the first step is the ack wait.
	RedeliveryBackoff []Duration `yaml:"redelivery_backoff"`
}

// SynthConfig configures the synthesizer.
type SynthConfig struct {
	Threshold        float64  `yaml:"threshold"`
	Window           Duration `yaml:"window"`
	StaleAfter       Duration `yaml:"stale_after"`
	DFHalfLife       Duration `yaml:"df_half_life"`
	SnapshotInterval Duration `yaml:"snapshot_interval"`
	MaxProvenance    int      `yaml:"max_provenance"`
	MergeThreshold   float64  `yaml:"merge_threshold"`
	TimeHalfLife     Duration `yaml:"time_half_life"`
	ProperWeight     float64  `yaml:"proper_weight"`
	// SlugWeight weighs the words of a link's slug ("/2014/03/mt-gox-files-for-bankruptcy");
	// 0 leaves links out.
	SlugWeight    float64 `yaml:"slug_weight"`
	RecentMembers int     `yaml:"recent_members"`
	// The merge pass: every merge_pass_interval of stream time, stories of
	// at most merge_pass_max_size members that changed merge with their
	// nearest story when most of their members would join it at
	// merge_threshold (see synth/README.md).
	MergePassInterval Duration `yaml:"merge_pass_interval"`
	MergePassMaxSize  int      `yaml:"merge_pass_max_size"`
	// A story of 10 or more reports whose members' mean pairwise cosine
	// is below min_coherence is loose (a topic, not an event); the join
	// model weighs that. 0 turns the mark off.
	MinCoherence float64 `yaml:"min_coherence"`
	// A story of full articles whose reports fall into two groups whose
	// mean cosine across is under split_ratio times the mean cosine
	// within the looser group splits in two (see synth/README.md). 0
	// turns the split off.
	SplitRatio float64 `yaml:"split_ratio"`
	// Model is a join model written by `newswire train`; empty means the
	// one shipped in the binary.
	Model string `yaml:"model"`
	// RedeliveryBackoff paces redeliveries of an entry whose ack never
	// came (a crashed synthesizer); the first step is the ack wait.
	RedeliveryBackoff []Duration `yaml:"redelivery_backoff"`
}

// Source is one configured source. Options of one kind live in that
// kind's struct, inlined so the file stays flat (source_<kind>.go).
type Source struct {
	ID       string   `yaml:"id"`
	Kind     string   `yaml:"kind"`
	Code     string   `yaml:"code"`
	Name     string   `yaml:"name"`
	URL      string   `yaml:"url"`
	Interval Duration `yaml:"interval"`
	Tags     []string `yaml:"tags"`

	ReplayOptions   `yaml:",inline"`
	TelegramOptions `yaml:",inline"`
	TgwebOptions    `yaml:",inline"`
	RSSOptions      `yaml:",inline"`
	XOptions        `yaml:",inline"`
	MastodonOptions `yaml:",inline"`
	BlueskyOptions  `yaml:",inline"`
}

// kindCheck validates the options of one source kind. add records a
// problem at a path below the source (e.g. ".url").
type kindCheck func(s *Source, add func(sub, format string, args ...any))

// kinds maps every accepted source kind to its check (in source_<kind>.go).
func kinds() map[string]kindCheck {
	return map[string]kindCheck{
		"bluesky":  checkBluesky,
		"replay":   checkReplay,
		"rss":      checkRSS,
		"telegram": checkTelegram,
		"tgweb":    checkTgweb,
		"x":        checkX,
		"mastodon": checkMastodon,
	}
}

// Kinds lists the accepted source kinds.
func Kinds() []string {
	ks := make([]string, 0, len(kinds()))
	for k := range kinds() {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// Problem is one error in a configuration file.
type Problem struct {
	Path string
	Line int
	Msg  string
}

func (p Problem) String() string {
	var b strings.Builder
	if p.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", p.Line)
	}
	if p.Path != "" {
		b.WriteString(p.Path + ": ")
	}
	// A value quoted back may be a URL with a password in it.
	return redact.String(b.String() + p.Msg)
}

// Problems is every error found in a file.
type Problems []Problem

func (ps Problems) Error() string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return "config: " + strings.Join(s, "\n  ")
}

// Check is a further validation of a parsed configuration, such as the
// components' own checks of the settings built from it. A problem's Path
// places it in the file.
type Check func(*Config) Problems

// Load reads and checks a configuration file; checks run after the
// file's own validation, and their problems get line numbers too.
func Load(path string, checks ...Check) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(data, checks...)
}

var (
	yamlLine     = regexp.MustCompile(`^line (\d+): (.*)$`)
	unknownField = regexp.MustCompile(`^field (\S+) not found in type \S+$`)
)

// Parse reads a configuration from YAML, applies defaults, resolves
// secrets and validates it, then runs checks. The error, if any, is
// Problems, each with the line of the key it is about.
func Parse(data []byte, checks ...Check) (*Config, error) {
	cfg := Default()
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, Problems{{Msg: "not valid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var problems Problems
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			return nil, Problems{{Msg: err.Error()}}
		}
		for _, m := range te.Errors {
			p := Problem{Msg: m}
			if sm := yamlLine.FindStringSubmatch(m); sm != nil {
				p.Line, _ = strconv.Atoi(sm[1])
				p.Msg = unknownField.ReplaceAllString(sm[2], "unknown key $1 (check its spelling and indentation)")
			}
			problems = append(problems, p)
		}
	}
	seen := make(map[string]bool)
	for _, p := range cfg.Validate() {
		p.Line = lineOf(&root, p.Path)
		problems = append(problems, p)
		seen[p.Path] = true
	}
	for _, check := range checks {
		for _, p := range check(cfg) {
			// A setting the file's validation refused already is not
			// reported again in the component's words.
			if p.Path != "" && seen[p.Path] {
				continue
			}
			p.Line = lineOf(&root, p.Path)
			problems = append(problems, p)
			seen[p.Path] = true
		}
	}
	if len(problems) > 0 {
		sort.SliceStable(problems, func(i, j int) bool { return problems[i].Line < problems[j].Line })
		return nil, problems
	}
	return cfg, nil
}

// Validate checks values and resolves secrets; it returns every problem.
func (c *Config) Validate() Problems {
	var ps Problems
	add := func(path, format string, args ...any) {
		ps = append(ps, Problem{Path: path, Msg: fmt.Sprintf(format, args...)})
	}
	if c.DataDir == "" {
		add("data_dir", "is required")
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		add("log.level", "must be debug, info, warn or error, not %q", c.Log.Level)
	}
	switch c.Log.Format {
	case "auto", "json", "console", "journal":
	default:
		add("log.format", "must be auto, json, console or journal, not %q", c.Log.Format)
	}
	e := c.NATS.Embedded
	if e.SyncInterval != "always" {
		if _, err := ParseDuration(e.SyncInterval); err != nil {
			add("nats.embedded.sync_interval", "must be \"always\" or a duration: %v", err)
		}
	}
	if e.Port < -1 || e.Port > 65535 {
		add("nats.embedded.port", "must be a port number, or -1 for a random port")
	}
	if e.MaxPayload > 64<<20 {
		add("nats.embedded.max_payload", "must be at most 64MiB")
	}
	for i, u := range c.NATS.URLs {
		pu, err := url.Parse(u)
		if err != nil || pu.Host == "" || (pu.Scheme != "nats" && pu.Scheme != "tls" && pu.Scheme != "ws" && pu.Scheme != "wss") {
			add(fmt.Sprintf("nats.urls[%d]", i), "must be a nats://, tls://, ws:// or wss:// URL, not %q", u)
		}
	}
	if c.NATS.Storage != "file" && c.NATS.Storage != "memory" {
		add("nats.storage", "must be file or memory")
	}
	if c.NATS.Replicas < 1 || c.NATS.Replicas > 5 {
		add("nats.replicas", "must be within 1..5")
	}
	if err := c.NATS.Password.Resolve(); err != nil {
		add("nats.password", "%v", err)
	}
	if err := c.NATS.Token.Resolve(); err != nil {
		add("nats.token", "%v", err)
	}
	for _, f := range []struct {
		path string
		file *string
	}{
		{"nats.nkey_file", &c.NATS.NKeyFile}, {"nats.creds_file", &c.NATS.CredsFile},
		{"nats.tls.ca_file", &c.NATS.TLS.CAFile}, {"nats.tls.cert_file", &c.NATS.TLS.CertFile}, {"nats.tls.key_file", &c.NATS.TLS.KeyFile},
	} {
		if *f.file != "" {
			p, err := CredentialPath(*f.file) // cred:NAME is a systemd credential
			if err != nil {
				add(f.path, "%v", err)
				continue
			}
			*f.file = p
			if _, err := os.Stat(p); err != nil {
				add(f.path, "cannot read %s: %v", p, errors.Unwrap(err))
			}
		}
	}
	if c.HTTP.Listen == "" {
		add("http.listen", "is required")
	}
	if c.HTTP.MaxStreams < 1 || c.HTTP.MaxStreams > 100000 {
		add("http.max_streams", "must be within 1..100000")
	}
	if c.HTTP.MaxStoryBytes < 1<<20 {
		add("http.max_story_bytes", "must be at least 1MiB")
	}
	if c.Normalize.HeadlineRunes < 20 {
		add("normalize.headline_runes", "must be at least 20")
	}
	if c.Normalize.NearDuplicateSimilarity <= 0 || c.Normalize.NearDuplicateSimilarity > 1 {
		add("normalize.near_duplicate_similarity", "must be within (0, 1]")
	}
	if c.Normalize.NearDuplicateMaxEntries < 1 {
		add("normalize.near_duplicate_max_entries", "must be at least 1")
	}
	if len(c.Normalize.Languages) == 1 {
		add("normalize.languages", "must name none or at least two languages")
	}
	if c.Normalize.MaxInFlight < 1 || c.Normalize.MaxInFlight > 4000 {
		add("normalize.max_in_flight", "must be within 1..4000")
	}
	if c.Synth.Threshold < 0 || c.Synth.Threshold >= 1 {
		add("synth.threshold", "must be within [0, 1) (0: the model's)")
	}
	if c.Synth.MaxProvenance < 10 {
		add("synth.max_provenance", "must be at least 10")
	}
	if c.Synth.MergeThreshold < 0 || c.Synth.MergeThreshold > 1 {
		add("synth.merge_threshold", "must be within [0, 1] (0: the model's)")
	}
	if c.Synth.TimeHalfLife <= 0 || c.Synth.ProperWeight <= 0 || c.Synth.RecentMembers < 1 {
		add("synth", "time_half_life and proper_weight must be positive, recent_members at least 1")
	}
	if c.Synth.MergePassInterval < 0 || c.Synth.MergePassMaxSize < 0 {
		add("synth", "merge_pass_interval and merge_pass_max_size must not be negative")
	}
	if c.Synth.SlugWeight < 0 || c.Synth.SlugWeight > 10 {
		add("synth.slug_weight", "must be within [0, 10]")
	}
	if c.Synth.MinCoherence < 0 || c.Synth.MinCoherence >= 1 {
		add("synth.min_coherence", "must be within [0, 1)")
	}
	if c.Synth.SplitRatio < 0 || c.Synth.SplitRatio > 1 {
		add("synth.split_ratio", "must be within [0, 1]")
	}
	for i, a := range c.Collector.AllowPrivate {
		if _, err := egress.New([]string{a}); err != nil {
			add(fmt.Sprintf("collector.allow_private[%d]", i), "must be a CIDR (10.0.0.0/8), an address or a host name, not %q", a)
		}
	}
	c.Collector.RSSCollectorConfig.check(add)
	c.validateTelegram(add)
	c.validateX(add)
	seen := make(map[string]int)
	for i := range c.Sources {
		s := &c.Sources[i]
		p := fmt.Sprintf("sources[%d]", i)
		if s.ID == "" {
			add(p+".id", "is required")
		} else if j, dup := seen[s.ID]; dup {
			add(p+".id", "%q is already used by sources[%d]", s.ID, j)
		} else {
			seen[s.ID] = i
		}
		check, ok := kinds()[s.Kind]
		if !ok {
			add(p+".kind", "must be one of %s, not %q", strings.Join(Kinds(), ", "), s.Kind)
			continue
		}
		check(&c.Sources[i], func(sub, format string, args ...any) { add(p+sub, format, args...) })
	}
	return ps
}

// lineOf finds the line of a dotted path such as "sources[2].url" in a
// YAML document, or of its nearest existing parent.
func lineOf(root *yaml.Node, path string) int {
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line := 0
	for _, part := range strings.Split(path, ".") {
		key, idx := part, -1
		if i := strings.IndexByte(part, '['); i >= 0 && strings.HasSuffix(part, "]") {
			key = part[:i]
			idx, _ = strconv.Atoi(part[i+1 : len(part)-1])
		}
		if n.Kind != yaml.MappingNode {
			return line
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				line = n.Content[i].Line
				next = n.Content[i+1]
				break
			}
		}
		if next == nil {
			return line
		}
		n = next
		if idx >= 0 {
			if n.Kind != yaml.SequenceNode || idx >= len(n.Content) {
				return line
			}
			n = n.Content[idx]
			line = n.Line
		}
	}
	return line
}

// Default returns the built-in defaults every file starts from.
func Default() *Config {
	return &Config{
		DataDir: "data",
		Log:     LogConfig{Level: "info", Format: "auto"},
		NATS: NATSConfig{
			Embedded: EmbeddedConfig{
				Host: "127.0.0.1", Port: 4222, SyncInterval: "always",
				MaxMemory: 256 << 20, MaxStore: 10 << 30, MaxPayload: 8 << 20,
			},
			URLs:     []string{"nats://127.0.0.1:4222"},
			Storage:  "file",
			Replicas: 1,
		},
		HTTP:      HTTPConfig{Listen: "127.0.0.1:8080", RecentEntries: 1000, MaxStreams: 256, MaxStoryBytes: 256 << 20},
		Collector: CollectorConfig{UserAgent: "newswire/1 (+https://github.com/newswire/newswire)", Timeout: Duration(30e9), MaxBody: 10 << 20, RSSCollectorConfig: defaultRSSCollector()},
		Normalize: NormalizeConfig{
			HeadlineRunes: 110, FutureSkew: Duration(10 * 60e9), FingerprintTTL: Duration(7 * 24 * 3600e9),
			NearDuplicateSimilarity: 0.5, NearDuplicateWindow: Duration(48 * 3600e9),
			NearDuplicateMaxEntries: 200_000, MaxInFlight: 512,
			RedeliveryBackoff: []Duration{Duration(30e9), Duration(60e9), Duration(120e9), Duration(300e9), Duration(600e9)},
			Languages: []string{"en", "ru", "uk", "be", "bg", "sr", "kk", "fr", "de", "es", "pt", "it", "nl",
				"pl", "tr", "ar", "fa", "ur", "he", "zh", "ja", "ko", "hi", "sw", "id"},
		},
		Synth: SynthConfig{
			Window: Duration(72 * 3600e9), StaleAfter: Duration(24 * 3600e9),
			DFHalfLife: Duration(24 * 3600e9), SnapshotInterval: Duration(50e6), MaxProvenance: 2000,
			TimeHalfLife: Duration(6 * 3600e9), ProperWeight: 1.2,
			SlugWeight: 0.5, RecentMembers: 64, MergePassInterval: Duration(5 * 60e9), MergePassMaxSize: 10,
			MinCoherence:      0.08,
			SplitRatio:        0.7,
			RedeliveryBackoff: []Duration{Duration(30e9), Duration(60e9), Duration(120e9), Duration(300e9)},
		},
	}
}
