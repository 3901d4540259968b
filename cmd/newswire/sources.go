package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/newswire/newswire/config"
	"github.com/newswire/newswire/ingest"
	"github.com/newswire/newswire/ingest/replay"
	"github.com/newswire/newswire/ingest/rss"
	"github.com/newswire/newswire/web"
)

const sourcesUsage = `usage:
  newswire sources [--config FILE] [--json]
      list the configured sources with their health from the wire_source bucket
  newswire sources import FILE.opml [--config FILE] [--into CONFIG.yaml] [--interval 5m]
      print the OPML file's feeds as YAML source entries, or add them to CONFIG.yaml`

func cmdSources(ctx context.Context, args []string) error {
	if len(args) > 0 && args[0] == "import" {
		return cmdSourcesImport(args[1:])
	}
	return listSources(ctx, args, os.Stdout)
}

// listSources prints the configured sources with their health to out.
func listSources(ctx context.Context, args []string, out io.Writer) error {
	opts, rest, err := sourceFlags(args, map[string]bool{"json": true})
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usageError{"unexpected argument " + rest[0] + "\n" + sourcesUsage}
	}
	cfg, err := loadConfig(opts["config"])
	if err != nil {
		return err
	}
	cfg.Log.Level = "error"
	log, err := newLogger(cfg)
	if err != nil {
		return err
	}
	health := map[string]sourceHealth{}
	p, err := connect(ctx, cfg, log, cfg.NATS.URLs, "newswire-sources")
	if err != nil {
		// A table of "unknown" would read as an answer; it is not one.
		return fmt.Errorf("sources: health of the %d configured sources is unknown: %w", len(cfg.Sources), err)
	}
	{
		defer p.nc.Close()
		kv, err := p.sourceBucket(ctx, "sources")
		if err != nil {
			return err
		}
		for _, s := range cfg.Sources {
			h, err := readHealth(ctx, kv, s)
			if err != nil {
				fmt.Fprintf(os.Stderr, "newswire: %s: %v\n", s.ID, err)
				continue
			}
			health[s.ID] = h
		}
	}
	if opts["json"] != "" {
		list := make([]map[string]any, 0, len(cfg.Sources))
		for _, s := range cfg.Sources {
			m := map[string]any{"id": s.ID, "kind": s.Kind, "code": s.Code, "name": s.Name, "url": s.URL, "tags": s.Tags}
			if h, ok := health[s.ID]; ok {
				m["health"] = h
				m["quiet"] = h.Quiet(time.Now())
			}
			list = append(list, m)
		}
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(list)
	}
	printHealth(out, cfg.Sources, health, time.Now())
	return nil
}

// sourceHealth is what the listing shows of a source's stored state.
type sourceHealth struct {
	Polled bool `json:"polled"`
	ingest.Health
	// The rss collector's state also tells where a feed moved, the last
	// HTTP status and its WebSub lease.
	URL        string `json:"url,omitempty"`
	LastStatus int    `json:"last_status,omitempty"`
	WebSub     string `json:"websub,omitempty"`
	// A replay's position: the last line handed to the bus, and when a
	// run last read the file to its end.
	Line     int       `json:"line,omitempty"`
	Finished time.Time `json:"finished,omitzero"`
}

// readHealth reads a source's state. The rss collector's layout is known;
// other collectors are read for the same common field names.
func readHealth(ctx context.Context, kv jetstream.KeyValue, s config.Source) (sourceHealth, error) {
	if s.Kind == rss.Kind {
		st, err := rss.LoadState(ctx, kv, s.ID)
		if errors.Is(err, rss.ErrNoState) {
			return sourceHealth{}, nil
		}
		if err != nil {
			return sourceHealth{}, err
		}
		h := sourceHealth{Polled: true, LastStatus: st.LastStatus, Health: ingest.Health{Errors: int64(st.Errors), LastError: st.LastError,
			LastPoll: st.LastPoll, LastSuccess: st.LastSuccess, NextPoll: st.NextPoll, Published: st.Published,
			CharsetGuessed: st.CharsetGuessed, Freshness: st.Freshness}}
		if st.URL != st.ConfiguredURL {
			h.URL = st.URL
		}
		if ws := st.WebSub; ws != nil {
			h.WebSub = "requested"
			if ws.Verified {
				h.WebSub = "until " + ws.LeaseUntil.Format(time.RFC3339)
			}
			if ws.Error != "" {
				h.WebSub = "request failed: " + ws.Error
			}
		}
		return h, nil
	}
	e, err := kv.Get(ctx, ingest.HealthKey(s.Kind, s.ID))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return sourceHealth{}, nil
	}
	if err != nil {
		return sourceHealth{}, err
	}
	if s.Kind == replay.Kind {
		var st replay.State
		if err := json.Unmarshal(e.Value(), &st); err != nil {
			return sourceHealth{}, fmt.Errorf("replay state: %w", err)
		}
		return sourceHealth{Polled: true, Health: st.Health, Line: st.Line, Finished: st.Finished}, nil
	}
	c, err := ingest.ReadHealth(e.Value())
	if err != nil {
		return sourceHealth{}, err
	}
	return sourceHealth{Polled: true, Health: c}, nil
}

// lastErrorWidth is the width of the table's LAST ERROR column: the
// cause (the innermost part of the error chain) fits there; the whole
// error follows the table on its own lines.
const lastErrorWidth = 60

func printHealth(w io.Writer, sources []config.Source, health map[string]sourceHealth, now time.Time) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tKIND\tCODE\tSTATUS\tLAST POLL\tNEXT POLL\tPUBLISHED\tLAST ERROR")
	failing, quiet := 0, 0
	var errs []string
	for _, s := range sources {
		h, ok := health[s.ID]
		status, last, next, pub, lastErr := "unknown", "-", "-", "-", ""
		if ok {
			switch {
			case !h.Polled:
				status = "never polled"
			case h.Errors > 0:
				status = fmt.Sprintf("FAILING x%d", h.Errors)
				failing++
				if !h.LastSuccess.IsZero() {
					status += ", ok " + ago(now, h.LastSuccess)
				}
			default:
				status = "ok"
				if h.LastStatus != 0 {
					status += fmt.Sprintf(" (%d)", h.LastStatus)
				}
			}
			if s.Kind == replay.Kind && h.Polled {
				if !h.Finished.IsZero() {
					status += fmt.Sprintf(", finished %s (line %d)", ago(now, h.Finished), h.Line)
				} else {
					status += fmt.Sprintf(", at line %d", h.Line)
				}
			}
			if h.URL != "" {
				status += ", moved to " + h.URL
			}
			if h.WebSub != "" {
				status += ", websub " + h.WebSub
			}
			if h.CharsetGuessed != "" {
				status += ", charset guessed " + h.CharsetGuessed
			}
			if q := h.Describe(now); q != "" {
				status += ", " + q
				quiet++
			}
			if !h.LastPoll.IsZero() {
				last = ago(now, h.LastPoll)
			}
			if !h.NextPoll.IsZero() {
				next = ago(now, h.NextPoll)
			}
			if h.Polled {
				pub = fmt.Sprint(h.Published)
			}
			if lastErr = clean(h.LastError); lastErr != "" {
				errs = append(errs, wrap(clean(s.ID)+": "+lastErr, 100, "    "))
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", clean(s.ID), s.Kind, clean(s.Code), clean(status), last, next, pub, cause(lastErr, lastErrorWidth))
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "%d sources, %d failing, %d quiet\n", len(sources), failing, quiet)
	if len(errs) > 0 {
		fmt.Fprintf(w, "\nlast errors, whole (--json gives them too):\n%s\n", strings.Join(errs, "\n"))
	}
}

// cause is the inner end of an error chain, as many of its parts as fit
// in width ("rss: fetch …: Get …: dial tcp: lookup x: no such host" →
// "dial tcp: lookup x: no such host"): what went wrong. The outer parts
// say where; the whole error is printed below the table.
func cause(msg string, width int) string {
	parts := strings.Split(msg, ": ")
	c := parts[len(parts)-1]
	for i := len(parts) - 2; i >= 0; i-- {
		longer := parts[i] + ": " + c
		if len([]rune(longer)) > width {
			break
		}
		c = longer
	}
	return trimTo(c, width)
}

// wrap breaks s into lines of at most width runes at spaces (a longer
// word, such as a URL, gets a line of its own), the lines after the
// first indented.
func wrap(s string, width int, indent string) string {
	var b strings.Builder
	line := 0
	for i, word := range strings.Fields(s) {
		n := len([]rune(word))
		switch {
		case i == 0:
		case line+1+n > width:
			b.WriteString("\n" + indent)
			line = len(indent)
		default:
			b.WriteByte(' ')
			line++
		}
		b.WriteString(word)
		line += n
	}
	return b.String()
}

// ago renders t relative to now: "3m ago" or "in 4m".
func ago(now, t time.Time) string {
	d := now.Sub(t).Round(time.Second)
	if d < 0 {
		return "in " + (-d).String()
	}
	return d.String() + " ago"
}

func trimTo(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// clean drops control characters, so text a source put into an error
// cannot drive the terminal.
func clean(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return ' '
		}
		return r
	}, s)
}

func cmdSourcesImport(args []string) error {
	opts, rest, err := sourceFlags(args, nil)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return usageError{"sources import needs one OPML FILE\n" + sourcesUsage}
	}
	interval := opts["interval"]
	if interval != "" {
		if _, err := config.ParseDuration(interval); err != nil {
			return usageError{"--interval: " + err.Error()}
		}
	}
	f, err := os.Open(rest[0])
	if err != nil {
		return fmt.Errorf("sources import: %w", err)
	}
	found, problems, err := rss.ParseOPML(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("sources import %s: %w", rest[0], err)
	}
	for _, p := range problems {
		fmt.Fprintf(os.Stderr, "skipped %q (%s): %s\n", p.Title, p.URL, p.Reason)
	}
	feeds := make([]config.Feed, len(found))
	for i, fd := range found {
		feeds[i] = config.Feed{Title: fd.Title, URL: fd.URL, Tags: fd.Tags}
	}
	into := opts["into"]
	var data []byte
	var configured []config.Source
	if into != "" {
		if data, err = os.ReadFile(into); err != nil {
			return fmt.Errorf("sources import: %w", err)
		}
		cfg, err := config.Parse(data)
		if err != nil {
			return fmt.Errorf("sources import: %s must be a valid configuration first: %w", into, err)
		}
		configured = cfg.Sources
	} else if p := opts["config"]; p != "" {
		if cfg, err := config.Load(p); err == nil {
			configured = cfg.Sources
		}
	}
	entries, known := config.NewSources(feeds, configured, interval)
	fmt.Fprintf(os.Stderr, "%d feeds in %s: %d new, %d already configured, %d skipped\n", len(feeds)+len(problems), rest[0], len(entries), known, len(problems))
	if into == "" {
		block, err := config.SourcesBlock(entries)
		if err != nil {
			return fmt.Errorf("sources import: %w", err)
		}
		_, err = os.Stdout.Write(block)
		return err
	}
	if len(entries) == 0 {
		return nil
	}
	out, err := config.AppendSources(data, entries)
	if err != nil {
		return fmt.Errorf("sources import: %s left as it was: %w", into, err)
	}
	if err := config.ReplaceFile(into, out); err != nil {
		return fmt.Errorf("sources import: %w", err)
	}
	fmt.Fprintf(os.Stderr, "added %d sources to %s (previous version in %s.bak)\n", len(entries), into, into)
	return nil
}

// sourceFlags reads --config, --into, --interval and the boolean flags
// named in bools, in any position; the other arguments are returned.
func sourceFlags(args []string, bools map[string]bool) (map[string]string, []string, error) {
	opts := map[string]string{}
	var rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") {
			rest = append(rest, a)
			continue
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		switch {
		case bools[name]:
			opts[name] = "true"
		case name == "config" || name == "into" || name == "interval":
			if !hasVal {
				if i+1 >= len(args) {
					return nil, nil, usageError{"--" + name + " needs a value\n" + sourcesUsage}
				}
				i++
				val = args[i]
			}
			opts[name] = val
		default:
			return nil, nil, usageError{"unknown flag " + a + "\n" + sourcesUsage}
		}
	}
	return opts, rest, nil
}

// sourceLister reports the configured sources' health to the web server
// (/api/v1/sources and the pages' notices of failing and quiet sources).
type sourceLister struct{ p *parts }

func (l sourceLister) Sources(ctx context.Context) ([]web.SourceStatus, error) {
	kv, err := l.p.sourceBucket(ctx, "web")
	if err != nil {
		return nil, err
	}
	out := make([]web.SourceStatus, 0, len(l.p.cfg.Sources))
	now := time.Now()
	for _, s := range l.p.cfg.Sources {
		h, err := readHealth(ctx, kv, s)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.ID, err)
		}
		out = append(out, webStatus(s, h, now))
	}
	return out, nil
}

// webStatus is a source's health as the web server shows it, quiet or
// not at now.
func webStatus(s config.Source, h sourceHealth, now time.Time) web.SourceStatus {
	st := web.SourceStatus{ID: s.ID, Kind: s.Kind, Code: s.Code, Name: s.Name, URL: s.URL, Status: "never polled",
		Errors: h.Errors, LastError: h.LastError, LastPoll: h.LastPoll, LastSuccess: h.LastSuccess, NextPoll: h.NextPoll, Published: h.Published}
	switch {
	case h.Polled && h.Errors > 0:
		st.Status = "failing"
	case h.Polled || h.Published > 0:
		st.Status = "ok"
	}
	st.Quiet, st.LastNew, st.CadenceSeconds = h.Quiet(now), h.LastNew, h.Cadence().Seconds()
	return st
}
