package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/oklog/run"
	"go.uber.org/zap"

	"github.com/newswire/newswire/bus"
	"github.com/newswire/newswire/config"
	"github.com/newswire/newswire/eval"
	"github.com/newswire/newswire/ingest"
	"github.com/newswire/newswire/ingest/replay"
	"github.com/newswire/newswire/synth"
	"github.com/newswire/newswire/wire"
)

// errHelp ends a command whose --help was printed; the command exits 0.
var errHelp = errors.New("help printed")

// commandExamples are shown under each command's --help.
var commandExamples = map[string]string{
	"run":       "newswire run --config deploy/demo.yaml",
	"collect":   "newswire collect --config /etc/newswire/newswire.yaml",
	"normalize": "newswire normalize --config /etc/newswire/newswire.yaml",
	"synth":     "newswire synth --config /etc/newswire/newswire.yaml",
	"serve":     "newswire serve --config /etc/newswire/newswire.yaml",
	"replay":    "newswire replay testdata/replay/uci-news-2014-03.jsonl --speed 600 --config deploy/demo.yaml",
	"eval":      "newswire eval testdata/replay/uci-news-2014-03.jsonl --orders",
	"train":     "newswire train --out synth/model.json testdata/replay/uci-news-2014-03.jsonl",
	"tail":      "newswire tail --config deploy/demo.yaml --kind telegram --last 50",
	"stories":   "newswire stories --config deploy/demo.yaml --active --limit 10",
	"story":     "newswire story s4be1ed003281d5c38a2c --config deploy/demo.yaml --format md",
	"sources":   "newswire sources --config deploy/demo.yaml --json",
}

func parseFlags(fs *flag.FlagSet, args []string) error {
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printFlagHelp(os.Stdout, fs)
			return errHelp
		}
		return usageError{fmt.Sprintf("%s: %v (newswire %s --help lists its flags)", fs.Name(), err, fs.Name())}
	}
	return nil
}

// printFlagHelp lists every flag of a command, with an example.
func printFlagHelp(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintf(w, "newswire %s flags:\n", fs.Name())
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
	if ex, ok := commandExamples[fs.Name()]; ok {
		fmt.Fprintf(w, "\nexample:\n  %s\n", ex)
	}
}

// setup loads the configuration and builds the logger.
func setup(path string) (*config.Config, *zap.Logger, error) {
	cfg, err := loadConfig(path)
	if err != nil {
		return nil, nil, err
	}
	log, err := newLogger(cfg)
	if err != nil {
		return nil, nil, err
	}
	return cfg, log, nil
}

func cmdRun(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	cfgPath := configFlag(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, log, err := setup(*cfgPath)
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()
	// One process per data directory: a second one would fight the first
	// for the store and the port, and fail with a buried cause.
	lock, err := bus.LockDir(cfg.DataDir)
	if err != nil {
		return err
	}
	defer func() { _ = lock.Unlock() }()
	ec, err := embeddedConfig(cfg)
	if err != nil {
		return err
	}
	emb, err := bus.StartEmbedded(ec, log)
	if err != nil {
		return err
	}
	defer func() {
		emb.Shutdown()
		log.Info("embedded nats-server stopped")
	}()
	log.Info("embedded nats-server ready", zap.String("url", emb.ClientURL()), zap.String("store", ec.StoreDir), zap.Bool("sync_always", ec.SyncAlways))
	// The in-process clients use the embedded server's token, not the
	// credentials of a cluster the file may also name.
	local := *cfg
	local.NATS.User, local.NATS.Password, local.NATS.Token = "", config.Secret{}, config.Secret{}
	local.NATS.NKeyFile, local.NATS.CredsFile = "", ""
	p, err := connect(ctx, &local, log, []string{emb.ClientURL()}, "newswire-run")
	if err != nil {
		return err
	}
	p.storeLimit = ec.MaxStore
	defer drain(p.nc, log)
	var g run.Group
	addSignals(ctx, &g, log, p.notify)
	if err := p.addCollectors(&g); err != nil {
		return err
	}
	if err := p.addNormalizer(ctx, &g); err != nil {
		return err
	}
	if err := p.addSynth(ctx, &g); err != nil {
		return err
	}
	p.addServer(&g)
	if err := p.addMetrics(ctx, &g); err != nil {
		return err
	}
	p.addWatchdog(&g, bus.StreamRaw)
	log.Info("newswire running", zap.Int("sources", len(cfg.Sources)), zap.String("api", "http://"+cfg.HTTP.Listen+"/api/stories"))
	return g.Run()
}

func cmdStage(ctx context.Context, stage string, args []string) error {
	fs := flag.NewFlagSet(stage, flag.ContinueOnError)
	cfgPath := configFlag(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, log, err := setup(*cfgPath)
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()
	p, err := connect(ctx, cfg, log, cfg.NATS.URLs, "newswire-"+stage)
	if err != nil {
		return err
	}
	defer drain(p.nc, log)
	var g run.Group
	addSignals(ctx, &g, log, p.notify)
	switch stage {
	case "collect":
		if len(cfg.Sources) == 0 {
			return errNoSources
		}
		err = p.addCollectors(&g)
	case "normalize":
		err = p.addNormalizer(ctx, &g)
	case "synth":
		err = p.addSynth(ctx, &g)
	case "serve":
		p.addServer(&g)
	}
	if err != nil {
		return err
	}
	if err := p.addMetrics(ctx, &g); err != nil {
		return err
	}
	p.addWatchdog(&g, stageStream(stage))
	return g.Run()
}

// stageStream is the stream whose info a stage without a consumer of its
// own checks for its health: the one it writes or reads.
func stageStream(stage string) string {
	switch stage {
	case "synth":
		return bus.StreamEntry
	case "serve":
		return bus.StreamStory
	}
	return bus.StreamRaw
}

func cmdReplay(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	cfgPath := configFlag(fs)
	speed := fs.Float64("speed", 0, "pace by the items' published times, this many times faster (0 = as fast as possible)")
	limit := fs.Int("limit", 0, "stop after this many items")
	file, rest := splitPositional(fs, args)
	if err := parseFlags(fs, rest); err != nil {
		return err
	}
	if file == "" {
		return usageError{"replay needs a FILE"}
	}
	cfg, log, err := setup(*cfgPath)
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()
	p, err := connect(ctx, cfg, log, cfg.NATS.URLs, "newswire-replay")
	if err != nil {
		return err
	}
	defer drain(p.nc, log)
	// The one-shot command publishes the file from its start each time; a
	// replay source of `run` or `collect` keeps its position instead.
	c, err := replay.New(replay.Config{Path: file, Speed: *speed, Limit: *limit}, ingest.NewJetStreamPublisher(p.js), nil, log)
	if err != nil {
		return err
	}
	if err := c.Run(ctx); err != nil {
		return err
	}
	st := c.Stats()
	fmt.Printf("published %d raw items (%d already on the bus, %d bad lines skipped)\n", st.Published, st.Duplicates, st.BadLines)
	return nil
}

func cmdEval(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("eval", flag.ContinueOnError)
	cfgPath := configFlag(fs)
	out := fs.String("assignments", "", "write one {\"id\":…,\"story\":…} line per item to this file")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	orders := fs.Bool("orders", false, "also run the three interleaved orders and print each, the mean and the worst")
	explain := fs.String("explain", "", "write one JSON line per clustering decision (each candidate's probability and log-odds terms) to this file")
	file, rest := splitPositional(fs, args)
	if err := parseFlags(fs, rest); err != nil {
		return err
	}
	if file == "" {
		return usageError{"eval needs a labelled FILE"}
	}
	if *explain != "" && *orders {
		return usageError{"--explain writes the decisions of one run: use it without --orders"}
	}
	if *out != "" && *orders {
		return usageError{"--assignments writes the stories of one run: use it without --orders"}
	}
	cfg, log, sc, err := labelledSetup(*cfgPath)
	if err != nil {
		return err
	}
	sc.MaxProvenance = 1 << 20 // eval reads every assignment from the snapshots
	opts := eval.Options{Normalize: normalizeConfig(cfg), Synth: sc, Log: log}
	if *orders {
		return evalOrders(ctx, os.Stdout, file, opts, *asJSON)
	}
	var explained *bufio.Writer
	var explainFile *os.File
	if *explain != "" {
		if explainFile, err = os.Create(*explain); err != nil {
			return fmt.Errorf("explain: %w", err)
		}
		defer explainFile.Close()
		explained = bufio.NewWriter(explainFile)
		opts.Synth.Explain = explained
	}
	res, err := eval.Run(ctx, file, opts)
	if err != nil {
		return err
	}
	if explained != nil {
		if err := explained.Flush(); err != nil {
			return fmt.Errorf("explain: %w", err)
		}
		if err := explainFile.Close(); err != nil {
			return fmt.Errorf("explain: %w", err)
		}
	}
	if *out != "" {
		if err := writeAssignments(*out, res.Assignments); err != nil {
			return err
		}
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	fmt.Printf("items %d  gold stories %d  predicted stories %d  (folded by exact dedupe %d, unassigned %d)\n",
		res.Items, res.Gold, res.Predicted, res.Folded, res.Unassigned)
	fmt.Printf("BCubed    P %.4f  R %.4f  F1 %.4f\n", res.BCubedPrecision, res.BCubedRecall, res.BCubedF1)
	fmt.Printf("pairwise  P %.4f  R %.4f  F1 %.4f\n", res.PairwisePrecision, res.PairwiseRecall, res.PairwiseF1)
	fmt.Printf("NMI       %.4f\n", res.NMI)
	fmt.Printf("throughput %.0f items/s (%.2fs through the embedded bus)\n", res.ItemsPerSec, res.Seconds)
	return nil
}

func writeAssignments(path string, as []eval.Assignment) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("assignments: %w", err)
	}
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	for _, a := range as {
		if err := enc.Encode(a); err != nil {
			f.Close()
			return fmt.Errorf("assignments: %w", err)
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("assignments: %w", err)
	}
	return f.Close()
}

func cmdTail(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("tail", flag.ContinueOnError)
	cfgPath := configFlag(fs)
	last := fs.Int("last", 20, "print this many recent entries first")
	kind := fs.String("kind", "", "only entries of this source kind (rss, telegram, …)")
	source := fs.String("source", "", "only entries of this source id")
	asJSON := fs.Bool("json", false, "print each entry as one line of JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *last < 0 {
		return usageError{"tail: --last must not be negative"}
	}
	cfg, log, err := setup(*cfgPath)
	if err != nil {
		return err
	}
	p, err := connect(ctx, cfg, log, cfg.NATS.URLs, "newswire-tail")
	if err != nil {
		return err
	}
	defer p.nc.Close()
	// The subject names kind and source, so the server filters.
	subject := bus.SubjectEntryAll
	if *kind != "" || *source != "" {
		k, s := "*", "*"
		if *kind != "" {
			k = bus.Token(*kind)
		}
		if *source != "" {
			s = bus.Token(*source)
		}
		subject = "wire.entry." + k + "." + s
	}
	stream, err := p.js.Stream(ctx, bus.StreamEntry)
	if err != nil {
		return fmt.Errorf("tail: %w", err)
	}
	cfgc := jetstream.OrderedConsumerConfig{FilterSubjects: []string{subject}, DeliverPolicy: jetstream.DeliverNewPolicy}
	var skip uint64 // filtered entries before the last N
	switch {
	case *last > 0 && subject == bus.SubjectEntryAll:
		cfgc.DeliverPolicy, cfgc.OptStartSeq = jetstream.DeliverByStartSequencePolicy, 1
		if ls := stream.CachedInfo().State.LastSeq; ls > uint64(*last) {
			cfgc.OptStartSeq = ls - uint64(*last) + 1
		}
	case *last > 0:
		// The last N of the filtered subjects: count back from the end.
		info, err := stream.Info(ctx, jetstream.WithSubjectFilter(subject))
		if err != nil {
			return fmt.Errorf("tail: %w", err)
		}
		var total uint64
		for _, n := range info.State.Subjects {
			total += n
		}
		cfgc.DeliverPolicy = jetstream.DeliverAllPolicy
		if total > uint64(*last) {
			skip = total - uint64(*last)
		}
	}
	oc, err := p.js.OrderedConsumer(ctx, bus.StreamEntry, cfgc)
	if err != nil {
		return fmt.Errorf("tail: %w", err)
	}
	out := bufio.NewWriter(os.Stdout)
	colour := isTerminal(os.Stdout) && !*asJSON
	var seen uint64
	cc, err := oc.Consume(func(m jetstream.Msg) {
		if seen++; seen <= skip {
			return
		}
		if *asJSON {
			out.Write(m.Data())
			out.WriteByte('\n')
			_ = out.Flush()
			return
		}
		var e wire.Entry
		if err := json.Unmarshal(m.Data(), &e); err != nil {
			return
		}
		line := e.Ticker()
		if colour {
			// time dim, code bold: "15:04Z CODE headline"
			if parts := strings.SplitN(line, " ", 3); len(parts) == 3 {
				line = "\x1b[2m" + parts[0] + "\x1b[0m \x1b[1;36m" + parts[1] + "\x1b[0m " + parts[2]
			}
		}
		fmt.Fprintln(out, line)
		_ = out.Flush()
	})
	if err != nil {
		return fmt.Errorf("tail: %w", err)
	}
	<-ctx.Done()
	cc.Stop()
	return nil
}

// isTerminal reports whether f is a character device (a terminal).
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// cmdTopology creates or updates the topology on nats.urls. The stages do
// the same at start-up, but on a cluster with least-privileged users
// (deploy/nats/accounts.conf) only the admin user may: run this as admin at
// install and after an upgrade.
func cmdTopology(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("topology", flag.ContinueOnError)
	cfgPath := configFlag(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, log, err := setup(*cfgPath)
	if err != nil {
		return err
	}
	p, err := connect(ctx, cfg, log, cfg.NATS.URLs, "newswire-topology")
	if err != nil {
		return err
	}
	defer p.nc.Close()
	t := topology(cfg)
	for _, s := range t.Streams() {
		fmt.Printf("stream %-10s %s storage, %d replica(s)\n", s.Name, s.Storage, s.Replicas)
	}
	for _, b := range t.Buckets() {
		fmt.Printf("bucket %-10s %s storage, %d replica(s)\n", b.Bucket, b.Storage, b.Replicas)
	}
	return nil
}

func cmdConfigCheck(args []string) error {
	path := "deploy/newswire.yaml"
	if len(args) > 0 {
		path = args[0]
	}
	cfg, err := loadConfig(path)
	if err != nil {
		var ps config.Problems
		if errors.As(err, &ps) {
			fmt.Fprintf(os.Stderr, "%s: %d problem(s)\n", path, len(ps))
			for _, p := range ps {
				fmt.Fprintf(os.Stderr, "  %s\n", p)
			}
			return fmt.Errorf("config check failed")
		}
		return err
	}
	fmt.Printf("%s: ok (%d sources)\n", path, len(cfg.Sources))
	return nil
}

// splitPositional takes the first argument that is not a flag as the
// positional one, so flags may come before or after it. An argument after
// a flag of fs that takes a value (any but a bool flag) is that value.
func splitPositional(fs *flag.FlagSet, args []string) (string, []string) {
	for i, a := range args {
		if !strings.HasPrefix(a, "-") {
			if i > 0 && !strings.Contains(args[i-1], "=") && flagTakesValue(fs, args[i-1]) {
				continue
			}
			rest := append(append([]string{}, args[:i]...), args[i+1:]...)
			return a, rest
		}
	}
	return "", args
}

func flagTakesValue(fs *flag.FlagSet, arg string) bool {
	fl := fs.Lookup(strings.TrimLeft(arg, "-"))
	if fl == nil {
		return false // parseFlags reports it
	}
	b, ok := fl.Value.(interface{ IsBoolFlag() bool })
	return !ok || !b.IsBoolFlag()
}

// ordersResult is what `eval --orders --json` prints: each order's
// scores, and the mean and the worst order's F1s.
type ordersResult struct {
	Orders []orderScores `json:"orders"`
	Mean   f1s           `json:"mean"`
	Worst  f1s           `json:"worst"`
}

type orderScores struct {
	Order string `json:"order"`
	eval.Scores
}

type f1s struct {
	BCubedF1   float64 `json:"bcubed_f1"`
	PairwiseF1 float64 `json:"pairwise_f1"`
}

// evalOrders runs a labelled file through the bus in its own order and
// the three interleaved orders, and prints each with the mean and worst,
// as a table or (asJSON) as one ordersResult.
func evalOrders(ctx context.Context, w io.Writer, file string, opts eval.Options, asJSON bool) error {
	items, err := replay.ReadFile(file)
	if err != nil {
		return err
	}
	r := ordersResult{Worst: f1s{1, 1}}
	if !asJSON {
		fmt.Fprintf(w, "%-6s %8s %8s %8s %8s %8s %8s %6s %6s\n", "order", "BCubedP", "BCubedR", "BCubedF1", "pairP", "pairR", "pairF1", "NMI", "pred")
	}
	vs := eval.Orders(items)
	for _, v := range vs {
		res, err := eval.RunItems(ctx, v.Items, opts)
		if err != nil {
			return fmt.Errorf("eval: %s, %s order: %w", file, v.Name, err)
		}
		s := res.Scores
		if !asJSON {
			fmt.Fprintf(w, "%-6s %8.4f %8.4f %8.4f %8.4f %8.4f %8.4f %6.3f %6d\n", v.Name, s.BCubedPrecision, s.BCubedRecall, s.BCubedF1,
				s.PairwisePrecision, s.PairwiseRecall, s.PairwiseF1, s.NMI, s.Predicted)
		}
		r.Orders = append(r.Orders, orderScores{v.Name, s})
		r.Mean.BCubedF1 += s.BCubedF1
		r.Mean.PairwiseF1 += s.PairwiseF1
		r.Worst = f1s{min(r.Worst.BCubedF1, s.BCubedF1), min(r.Worst.PairwiseF1, s.PairwiseF1)}
	}
	r.Mean.BCubedF1 /= float64(len(vs))
	r.Mean.PairwiseF1 /= float64(len(vs))
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	_, err = fmt.Fprintf(w, "mean   BCubed F1 %.4f  pairwise F1 %.4f\nworst  BCubed F1 %.4f  pairwise F1 %.4f\n",
		r.Mean.BCubedF1, r.Mean.PairwiseF1, r.Worst.BCubedF1, r.Worst.PairwiseF1)
	return err
}

func cmdTrain(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("train", flag.ContinueOnError)
	cfgPath := configFlag(fs)
	out := fs.String("out", "synth/model.json", "where to write the model")
	l2 := fs.Float64("l2", 1e-3, "ridge penalty on the standardised weights")
	rounds := fs.Int("rounds", 1, "rounds of training on the model's own decisions")
	bo := synth.DefaultBoost()
	fs.IntVar(&bo.Trees, "trees", bo.Trees, "boosted trees for each kind of text on top of the logistic model (0: none)")
	fs.IntVar(&bo.Depth, "depth", bo.Depth, "the deepest a tree may grow")
	fs.Float64Var(&bo.Rate, "rate", bo.Rate, "the learning rate that shrinks each tree")
	fs.IntVar(&bo.MinLeaf, "min-leaf", bo.MinLeaf, "the fewest examples a tree's leaf may hold")
	var files []string
	rest := args
	for len(rest) > 0 {
		var file string
		file, rest = splitPositional(fs, rest)
		if file == "" {
			break
		}
		files = append(files, file)
	}
	if err := parseFlags(fs, rest); err != nil {
		return err
	}
	files = append(files, fs.Args()...)
	if len(files) == 0 {
		return usageError{"train needs one or more labelled FILEs"}
	}
	if *rounds < 0 {
		return usageError{"train --rounds must be 0 or more"}
	}
	if err := bo.Check(); err != nil {
		return usageError{"train: " + err.Error()}
	}
	cfg, log, sc, err := labelledSetup(*cfgPath)
	if err != nil {
		return err
	}
	m, err := eval.Train(ctx, files, eval.TrainOptions{
		Normalize: normalizeConfig(cfg), Synth: sc, Fit: synth.FitOptions{L2: *l2, Boost: bo}, Rounds: *rounds,
		Log: func(msg string, kv ...any) { fmt.Fprintln(os.Stderr, append([]any{"train:", msg}, kv...)...) },
	})
	if err != nil {
		return err
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(*out, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	_ = log.Sync()
	fmt.Printf("wrote %s: %d examples from %s; join thresholds %.2f (short) %.2f (long), merge %.2f / %.2f\n",
		*out, m.Examples, strings.Join(m.TrainedOn, ", "), m.Join[0], m.Join[1], m.Merge[0], m.Merge[1])
	return nil
}

// labelledSetup loads what eval and train share: the config, a logger
// quiet below warnings, and the synthesizer's config with its model.
func labelledSetup(path string) (*config.Config, *zap.Logger, synth.Config, error) {
	cfg, err := loadConfig(path)
	if err != nil {
		return nil, nil, synth.Config{}, err
	}
	cfg.Log.Level = "warn"
	log, err := newLogger(cfg)
	if err != nil {
		return nil, nil, synth.Config{}, err
	}
	sc, err := synthConfig(cfg)
	if err != nil {
		return nil, nil, synth.Config{}, err
	}
	return cfg, log, sc, nil
}
