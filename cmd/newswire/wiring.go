package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/oklog/run"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/newswire/newswire/bus"
	"github.com/newswire/newswire/config"
	"github.com/newswire/newswire/deploy"
	"github.com/newswire/newswire/ingest"
	"github.com/newswire/newswire/metrics"
	"github.com/newswire/newswire/normalize"
	"github.com/newswire/newswire/provenance"
	"github.com/newswire/newswire/redact"
	"github.com/newswire/newswire/service"
	"github.com/newswire/newswire/synth"
	"github.com/newswire/newswire/web"
)

// loadConfig reads, validates and checks the configuration the way every
// command and `config check` do: the file's own validation, then the
// components' checks of the settings built from it (componentChecks), so
// that a file `config check` passes is one every command accepts.
func loadConfig(path string) (*config.Config, error) {
	if path == "" {
		return config.Parse(deploy.DefaultConfig, componentChecks)
	}
	return config.Load(path, componentChecks)
}

// componentChecks builds each component's settings from the file, as the
// commands do, and reports what the components would refuse at start-up
// under the key of the file it comes from.
func componentChecks(cfg *config.Config) config.Problems {
	var ps config.Problems
	add := func(section string, err error) {
		for _, e := range flattenErrors(err) {
			var ne *normalize.ConfigError
			var se *synth.ConfigError
			switch {
			case errors.As(e, &ne):
				ps = append(ps, config.Problem{Path: section + "." + ne.Key, Msg: ne.Msg})
			case errors.As(e, &se):
				ps = append(ps, config.Problem{Path: section + "." + se.Key, Msg: se.Msg})
			default:
				ps = append(ps, config.Problem{Path: section, Msg: e.Error()})
			}
		}
	}
	add("normalize", normalizeConfig(cfg).Validate())
	if sc, err := synthConfig(cfg); err != nil {
		add("synth.model", err)
	} else {
		add("synth", sc.Validate())
	}
	var rssSources []config.Source
	for _, s := range cfg.Sources {
		if s.Kind == "rss" {
			rssSources = append(rssSources, s)
		}
	}
	if len(rssSources) > 0 {
		if _, err := rssConfig(cfg, rssSources); err != nil {
			add("collector.allow_private", err)
		}
	}
	return ps
}

// flattenErrors lists the errors joined in err (nil: none).
func flattenErrors(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flattenErrors(e)...)
		}
		return out
	}
	return []error{err}
}

// newLogger builds the logger of a command. Every line it or the embedded
// nats-server writes passes a scrubber that hides the configuration's
// resolved secrets and credentials in URLs, headers and query strings.
func newLogger(cfg *config.Config) (*zap.Logger, error) {
	c := cfg.Log
	level, err := zapcore.ParseLevel(c.Level)
	if err != nil {
		return nil, fmt.Errorf("newswire: log level: %w", err)
	}
	format := c.Format
	if format == "auto" {
		format = "json"
		if fi, err := os.Stderr.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			format = "console"
		}
		if service.IsJournal(os.Stderr) {
			format = "journal"
		}
	}
	if format == "journal" {
		// Under systemd: one line per entry with its sd-daemon priority, no
		// timestamp (the journal keeps its own).
		core := zapcore.NewCore(service.NewJournalEncoder(zap.NewProductionEncoderConfig()), zapcore.Lock(os.Stderr), level)
		return zap.New(core, zap.AddCaller(), zap.ErrorOutput(zapcore.Lock(os.Stderr))), nil
	}
	var enc zapcore.Encoder
	if format == "console" {
		ec := zap.NewDevelopmentEncoderConfig()
		ec.EncodeTime = zapcore.TimeEncoderOfLayout("15:04:05.000")
		enc = zapcore.NewConsoleEncoder(ec)
	} else {
		ec := zap.NewProductionEncoderConfig()
		ec.EncodeTime = zapcore.ISO8601TimeEncoder
		enc = zapcore.NewJSONEncoder(ec)
	}
	sink := redact.NewScrubber(cfg.Secrets()...).Writer(zapcore.Lock(os.Stderr))
	core := zapcore.NewCore(enc, sink, zap.NewAtomicLevelAt(level))
	if format == "json" {
		// As zap's production preset: a flood of one message is sampled.
		core = zapcore.NewSamplerWithOptions(core, time.Second, 100, 100)
	}
	return zap.New(core, zap.ErrorOutput(sink), zap.AddCaller()), nil
}

func embeddedConfig(cfg *config.Config) (bus.EmbeddedConfig, error) {
	e := cfg.NATS.Embedded
	ec := bus.EmbeddedConfig{
		StoreDir:   filepath.Join(cfg.DataDir, "jetstream"),
		Host:       e.Host,
		Port:       e.Port,
		MaxMemory:  int64(e.MaxMemory),
		MaxStore:   int64(e.MaxStore),
		MaxPayload: int32(e.MaxPayload),
	}
	tok, err := config.LoadOrCreateKey(embeddedTokenPath(cfg))
	if err != nil {
		return ec, fmt.Errorf("embedded nats-server token: %w", err)
	}
	ec.Token = tok
	if e.SyncInterval == "always" {
		ec.SyncAlways = true
	} else {
		d, err := config.ParseDuration(e.SyncInterval)
		if err != nil {
			return ec, err
		}
		ec.SyncInterval = d
	}
	return ec, nil
}

// embeddedTokenPath is where `newswire run` keeps the token its embedded
// server requires (mode 0600).
func embeddedTokenPath(cfg *config.Config) string { return filepath.Join(cfg.DataDir, "nats.token") }

// websubKeyPath is where the rss collector keeps the key its WebSub
// secrets are derived from (mode 0600).
func websubKeyPath(cfg *config.Config) string { return filepath.Join(cfg.DataDir, "websub.key") }

// connConfig says how to reach urls. Without credentials in the file, a
// token left by `newswire run` in the data directory is used, so that
// tail, sources, replay and the stages reach its embedded server.
func connConfig(cfg *config.Config, urls []string, name string) (bus.ConnConfig, error) {
	n := cfg.NATS
	c := bus.ConnConfig{
		URLs: urls, Name: name, User: n.User, Password: n.Password.Value(), Token: n.Token.Value(),
		NKeyFile: n.NKeyFile, CredsFile: n.CredsFile,
		TLS: bus.TLSConfig{CAFile: n.TLS.CAFile, CertFile: n.TLS.CertFile, KeyFile: n.TLS.KeyFile, InsecureSkipVerify: n.TLS.InsecureSkipVerify},
	}
	if c.User == "" && c.Token == "" && c.NKeyFile == "" && c.CredsFile == "" {
		path := embeddedTokenPath(cfg)
		if _, err := os.Stat(path); err == nil {
			tok, err := config.LoadOrCreateKey(path)
			if err != nil {
				return c, err
			}
			c.Token = tok
		}
	}
	return c, nil
}

func topology(cfg *config.Config) bus.Topology {
	t := bus.DefaultTopology()
	if cfg.NATS.Storage == "memory" {
		t.Storage = jetstream.MemoryStorage
	}
	t.Replicas = cfg.NATS.Replicas
	return t
}

func normalizeConfig(cfg *config.Config) normalize.Config {
	c := normalize.DefaultConfig()
	n := cfg.Normalize
	c.HeadlineRunes = n.HeadlineRunes
	c.FutureSkew = time.Duration(n.FutureSkew)
	c.FingerprintTTL = time.Duration(n.FingerprintTTL)
	c.NearDupSimilarity = n.NearDuplicateSimilarity
	c.NearDupWindow = time.Duration(n.NearDuplicateWindow)
	c.NearDupMaxEntries = n.NearDuplicateMaxEntries
	c.Languages = n.Languages
	c.MaxInFlight = n.MaxInFlight
	c.RedeliveryBackoff = durations(n.RedeliveryBackoff)
	c.Sources = make(map[string]provenance.Source)
	for _, s := range cfg.Sources {
		c.Sources[s.ID] = provenance.Source{ID: s.ID, Kind: s.Kind, Code: s.Code, Name: s.Name}
	}
	return c
}

func synthConfig(cfg *config.Config) (synth.Config, error) {
	c := synth.DefaultConfig()
	s := cfg.Synth
	if s.Model != "" {
		m, err := synth.LoadModel(s.Model)
		if err != nil {
			return c, err
		}
		c.Model = &m
	}
	c.Threshold = s.Threshold
	c.Window = time.Duration(s.Window)
	c.StaleAfter = time.Duration(s.StaleAfter)
	c.DFHalfLife = time.Duration(s.DFHalfLife)
	c.SnapshotInterval = time.Duration(s.SnapshotInterval)
	c.MaxProvenance = s.MaxProvenance
	c.MergeThreshold = s.MergeThreshold
	c.TimeHalfLife = time.Duration(s.TimeHalfLife)
	c.ProperWeight = s.ProperWeight
	c.SlugWeight = s.SlugWeight
	c.RecentMembers = s.RecentMembers
	c.MergePassInterval = time.Duration(s.MergePassInterval)
	c.MergePassMaxSize = s.MergePassMaxSize
	c.MinCoherence = s.MinCoherence
	c.SplitRatio = s.SplitRatio
	c.RedeliveryBackoff = durations(s.RedeliveryBackoff)
	return c, nil
}

// durations converts a configured list of durations.
func durations(ds []config.Duration) []time.Duration {
	out := make([]time.Duration, len(ds))
	for i, d := range ds {
		out[i] = time.Duration(d)
	}
	return out
}

// parts holds a connection and the things built on it.
type parts struct {
	cfg *config.Config
	log *zap.Logger
	nc  *nats.Conn
	js  jetstream.JetStream
	reg *prometheus.Registry
	// notify speaks to systemd; health is what its watchdog requires.
	notify *service.Notifier
	health []*service.Health
	// started is set once the process has told systemd it is ready.
	started atomic.Bool
	// storeLimit is the embedded server's max_store (0 on a cluster, whose
	// accounts carry their own limit).
	storeLimit int64
}

// connect dials NATS, and creates or updates the topology.
func connect(ctx context.Context, cfg *config.Config, log *zap.Logger, urls []string, name string) (*parts, error) {
	cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	cc, err := connConfig(cfg, urls, name)
	if err != nil {
		return nil, err
	}
	nc, err := bus.Connect(cctx, cc, log)
	if errors.Is(err, bus.ErrUnreachable) {
		return nil, fmt.Errorf("%w\n  is newswire running? if it runs with another configuration (make demo uses deploy/demo.yaml), pass it: --config FILE", err)
	}
	if err != nil {
		return nil, err
	}
	// Async publishes (entries, snapshots) fail instead of waiting forever
	// for a PubAck lost in a leader change; the workers retry them.
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncTimeout(30*time.Second))
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("newswire: jetstream: %w", err)
	}
	// On a cluster that just lost a node, a stream may answer only once
	// its replicas have elected a leader: the check waits for that longer
	// than for the connection (the units allow 120 s to start).
	tctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := bus.EnsureTopology(tctx, js, topology(cfg)); err != nil {
		nc.Close()
		return nil, err
	}
	return &parts{cfg: cfg, log: log, nc: nc, js: js, reg: metrics.NewRegistry(), notify: service.NewNotifier(log)}, nil
}

// collectorBuilder builds the collectors of one source kind from all the
// configured sources of that kind; collect_<kind>.go files hold them.
type collectorBuilder func(p *parts, pub ingest.Publisher, sources []config.Source) ([]namedCollector, error)

type namedCollector struct {
	name string
	c    ingest.Collector
}

// collectorBuilders maps each source kind to the builder of its collectors.
func collectorBuilders() map[string]collectorBuilder {
	return map[string]collectorBuilder{
		"bluesky":  buildBluesky,
		"replay":   buildReplay,
		"rss":      buildRSS,
		"telegram": buildTelegram,
		"tgweb":    buildTgweb,
		"x":        buildX,
		"mastodon": buildMastodon,
	}
}

// addCollectors adds one actor per collector the configured sources need.
func (p *parts) addCollectors(g *run.Group) error {
	pub := ingest.NewJetStreamPublisher(p.js)
	builders := collectorBuilders()
	byKind := make(map[string][]config.Source)
	var order []string
	for _, s := range p.cfg.Sources {
		if _, ok := byKind[s.Kind]; !ok {
			order = append(order, s.Kind)
		}
		byKind[s.Kind] = append(byKind[s.Kind], s)
	}
	for _, kind := range order {
		build, ok := builders[kind]
		if !ok {
			return fmt.Errorf("sources: no collector for kind %q", kind)
		}
		cs, err := build(p, pub, byKind[kind])
		if err != nil {
			return err
		}
		for _, c := range cs {
			addActor(g, p.log, c.name, c.c.Run, true)
			if st, ok := metrics.StatsOf(bus.Token(kind), prometheus.Labels{"collector": c.name}, c.c); ok {
				p.reg.MustRegister(st)
			}
		}
	}
	return nil
}

func (p *parts) addNormalizer(ctx context.Context, g *run.Group) error {
	w, err := normalize.NewWorker(ctx, normalizeConfig(p.cfg), p.js, p.log)
	if err != nil {
		return err
	}
	addActor(g, p.log, "normalize", w.Run, false)
	p.watch(bus.StreamRaw, normalize.ConsumerName).Consuming = w.Consuming
	p.reg.MustRegister(metrics.NewStats("normalize", nil, func() any { return w.Stats() }))
	return nil
}

func (p *parts) addSynth(ctx context.Context, g *run.Group) error {
	sc, err := synthConfig(p.cfg)
	if err != nil {
		return err
	}
	w, err := synth.NewWorker(ctx, sc, p.nc, p.js, p.log)
	if err != nil {
		return err
	}
	addActor(g, p.log, "synth", w.Run, false)
	p.watch(bus.StreamEntry, synth.ConsumerName)
	p.reg.MustRegister(metrics.NewStats("synth", nil, func() any { return w.Stats() }))
	p.reg.MustRegister(w.Collectors()...)
	return nil
}

func (p *parts) addServer(g *run.Group) {
	h := p.cfg.HTTP
	store := web.NewBoundedStore(h.RecentEntries, int64(h.MaxStoryBytes))
	srv := web.NewServer(web.Config{Listen: h.Listen, RecentEntries: h.RecentEntries, MaxStreams: h.MaxStreams, Metrics: metrics.Handler(p.reg),
		Sources: sourceLister{p}, Ready: p.ready}, store, p.log)
	p.reg.MustRegister(metrics.NewStats("web", nil, func() any { return srv.Stats() }))
	p.reg.MustRegister(metrics.NewStats("web_store", nil, func() any { return store.Stats() }))
	addActor(g, p.log, "web store", func(ctx context.Context) error { return store.Follow(ctx, p.js, p.log) }, false)
	addActor(g, p.log, "web", srv.Run, false)
}

// sourceBucket opens wire_source, where collectors keep each source's
// state and health; who names the caller in the error.
func (p *parts) sourceBucket(ctx context.Context, who string) (jetstream.KeyValue, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	kv, err := p.js.KeyValue(ctx, bus.BucketSource)
	if err != nil {
		return nil, fmt.Errorf("%s: open %s bucket: %w", who, bus.BucketSource, err)
	}
	return kv, nil
}

// addMetrics mirrors every source's health from wire_source into the
// registry and, when metrics.listen is set, serves /metrics there.
func (p *parts) addMetrics(ctx context.Context, g *run.Group) error {
	kv, err := p.sourceBucket(ctx, "metrics")
	if err != nil {
		return err
	}
	src := metrics.NewSources()
	p.reg.MustRegister(src)
	var consumers []metrics.ConsumerRef
	for _, h := range p.health {
		if h.Consumer != "" {
			consumers = append(consumers, metrics.ConsumerRef{Stream: h.Stream, Name: h.Consumer})
		}
	}
	p.reg.MustRegister(metrics.NewJetStream(p.js, []string{bus.StreamRaw, bus.StreamEntry, bus.StreamStory, bus.StreamDLQ}, consumers, p.storeLimit, p.log))
	addActor(g, p.log, "source health", func(ctx context.Context) error { return src.Watch(ctx, kv, p.log) }, false)
	if p.cfg.Metrics.Listen != "" {
		ms := web.NewMetricsServer(p.cfg.Metrics.Listen, metrics.Handler(p.reg), p.ready, p.log)
		addActor(g, p.log, "metrics", ms.Run, false)
	}
	return nil
}

// addActor runs fn until the group is interrupted. A collector that
// finishes (a replay at its end) stays idle rather than stopping the group.
func addActor(g *run.Group, log *zap.Logger, name string, fn func(context.Context) error, idleWhenDone bool) {
	ctx, cancel := context.WithCancel(context.Background())
	g.Add(func() error {
		err := fn(ctx)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if idleWhenDone {
			<-ctx.Done()
		}
		return nil
	}, func(error) { cancel() })
}

// addSignals stops the group when ctx (SIGINT/SIGTERM) ends, and tells
// systemd the process is stopping.
func addSignals(ctx context.Context, g *run.Group, log *zap.Logger, notify *service.Notifier) {
	sctx, cancel := context.WithCancel(ctx)
	g.Add(func() error {
		<-sctx.Done()
		if ctx.Err() != nil {
			notify.Stopping()
			log.Info("shutting down: draining consumers and finishing in-flight work")
		}
		return nil
	}, func(error) { cancel() })
}

var errNoSources = errors.New("no sources configured")

func configFlag(fs *flag.FlagSet) *string {
	return fs.String("config", "", "configuration file (default: built-in deploy/newswire.yaml)")
}

// drain flushes what the connection still holds (the last acks among it)
// and waits until it is closed, so that a server shut down next does not
// drop them.
func drain(nc *nats.Conn, log *zap.Logger) {
	if err := nc.Drain(); err != nil {
		log.Warn("draining the NATS connection failed", zap.Error(err))
		nc.Close()
		return
	}
	deadline := time.Now().Add(10 * time.Second)
	for !nc.IsClosed() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if !nc.IsClosed() {
		log.Warn("NATS connection did not drain in 10s; closing it")
		nc.Close()
	}
}
