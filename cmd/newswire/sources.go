package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.yaml.in/yaml/v3"

	"github.com/newswire/newswire/bus"
	"github.com/newswire/newswire/config"
	"github.com/newswire/newswire/ingest"
	"github.com/newswire/newswire/ingest/rss"
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
	log, err := newLogger(cfg.Log)
	if err != nil {
		return err
	}
	health := map[string]sourceHealth{}
	p, err := connect(ctx, cfg, log, cfg.NATS.URLs, "newswire-sources")
	if err != nil {
		fmt.Fprintf(os.Stderr, "newswire: health unknown, NATS not reachable: %v\n", err)
	} else {
		defer p.nc.Close()
		kv, err := p.js.KeyValue(ctx, bus.BucketSource)
		if err != nil {
			return fmt.Errorf("sources: %w", err)
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
		out := make([]map[string]any, 0, len(cfg.Sources))
		for _, s := range cfg.Sources {
			m := map[string]any{"id": s.ID, "kind": s.Kind, "code": s.Code, "name": s.Name, "url": s.URL, "tags": s.Tags}
			if h, ok := health[s.ID]; ok {
				m["health"] = h
			}
			out = append(out, m)
		}
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	printHealth(os.Stdout, cfg.Sources, health, time.Now())
	return nil
}

// sourceHealth is what the listing shows of a source's stored state.
type sourceHealth struct {
	Polled      bool      `json:"polled"`
	URL         string    `json:"url,omitempty"`
	Errors      int       `json:"errors"`
	LastError   string    `json:"last_error,omitempty"`
	LastPoll    time.Time `json:"last_poll,omitzero"`
	LastSuccess time.Time `json:"last_success,omitzero"`
	NextPoll    time.Time `json:"next_poll,omitzero"`
	LastStatus  int       `json:"last_status,omitempty"`
	Published   int64     `json:"published,omitempty"`
	WebSub      string    `json:"websub,omitempty"`
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
		h := sourceHealth{Polled: true, Errors: st.Errors, LastError: st.LastError, LastPoll: st.LastPoll,
			LastSuccess: st.LastSuccess, NextPoll: st.NextPoll, LastStatus: st.LastStatus, Published: st.Published}
		if st.URL != st.ConfiguredURL {
			h.URL = st.URL
		}
		if ws := st.WebSub; ws != nil {
			h.WebSub = "requested"
			if ws.Verified {
				h.WebSub = "until " + ws.LeaseUntil.Format(time.RFC3339)
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
	c, err := ingest.ReadHealth(e.Value())
	if err != nil {
		return sourceHealth{}, err
	}
	return sourceHealth{Polled: true, Errors: int(c.Errors), LastError: c.LastError, LastPoll: c.LastPoll,
		LastSuccess: c.LastSuccess, NextPoll: c.NextPoll, Published: c.Published}, nil
}

func printHealth(w io.Writer, sources []config.Source, health map[string]sourceHealth, now time.Time) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tKIND\tCODE\tSTATUS\tLAST POLL\tNEXT POLL\tPUBLISHED\tLAST ERROR")
	failing := 0
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
			if h.URL != "" {
				status += ", moved to " + h.URL
			}
			if h.WebSub != "" {
				status += ", websub " + h.WebSub
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
			lastErr = h.LastError
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", clean(s.ID), s.Kind, clean(s.Code), clean(status), last, next, pub, clean(trimTo(lastErr, 120)))
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "%d sources, %d failing\n", len(sources), failing)
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
	feeds, problems, err := rss.ParseOPML(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("sources import %s: %w", rest[0], err)
	}
	for _, p := range problems {
		fmt.Fprintf(os.Stderr, "skipped %q (%s): %s\n", p.Title, p.URL, p.Reason)
	}
	into := opts["into"]
	var root yaml.Node
	ids, urls := map[string]bool{}, map[string]bool{}
	if into != "" {
		data, err := os.ReadFile(into)
		if err != nil {
			return fmt.Errorf("sources import: %w", err)
		}
		if err := yaml.Unmarshal(data, &root); err != nil {
			return fmt.Errorf("sources import: %s: %w", into, err)
		}
		cfg, err := config.Parse(data)
		if err != nil {
			return fmt.Errorf("sources import: %s must be a valid configuration first: %w", into, err)
		}
		for _, s := range cfg.Sources {
			ids[s.ID], urls[s.URL] = true, true
		}
	} else if p := opts["config"]; p != "" {
		if cfg, err := config.Load(p); err == nil {
			for _, s := range cfg.Sources {
				ids[s.ID], urls[s.URL] = true, true
			}
		}
	}
	seq := &yaml.Node{Kind: yaml.SequenceNode}
	added, known := 0, 0
	for _, fd := range feeds {
		if urls[fd.URL] {
			known++
			continue
		}
		id := uniqueID(sourceSlug(fd.Title, fd.URL), ids)
		ids[id], urls[fd.URL] = true, true
		seq.Content = append(seq.Content, sourceNode(id, fd, interval))
		added++
	}
	fmt.Fprintf(os.Stderr, "%d feeds in %s: %d new, %d already configured, %d skipped\n", len(feeds)+len(problems), rest[0], added, known, len(problems))
	if into == "" {
		var b bytes.Buffer
		b.WriteString("sources:\n")
		enc := yaml.NewEncoder(&b)
		enc.SetIndent(2)
		if len(seq.Content) > 0 {
			if err := enc.Encode(seq); err != nil {
				return fmt.Errorf("sources import: %w", err)
			}
		}
		_ = enc.Close()
		_, err := os.Stdout.Write(indentBlock(b.Bytes()))
		return err
	}
	if added == 0 {
		return nil
	}
	return addToConfig(into, &root, seq.Content)
}

// addToConfig appends source entries to the file's sources list, checks
// that the result is a valid configuration, keeps the original as
// FILE.bak and replaces the file atomically.
func addToConfig(path string, root *yaml.Node, entries []*yaml.Node) error {
	doc := root
	if doc.Kind == yaml.DocumentNode && len(doc.Content) > 0 {
		doc = doc.Content[0]
	}
	if doc.Kind != yaml.MappingNode {
		return fmt.Errorf("sources import: %s is not a YAML mapping", path)
	}
	var list *yaml.Node
	for i := 0; i+1 < len(doc.Content); i += 2 {
		if doc.Content[i].Value == "sources" {
			list = doc.Content[i+1]
		}
	}
	if list == nil || (list.Kind == yaml.ScalarNode && list.Tag == "!!null") {
		if list == nil {
			list = &yaml.Node{Kind: yaml.SequenceNode}
			doc.Content = append(doc.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: "sources"}, list)
		} else {
			*list = yaml.Node{Kind: yaml.SequenceNode}
		}
	}
	if list.Kind != yaml.SequenceNode {
		return fmt.Errorf("sources import: %s: sources is not a list", path)
	}
	list.Style = 0
	list.Content = append(list.Content, entries...)
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(root); err != nil {
		return fmt.Errorf("sources import: %w", err)
	}
	_ = enc.Close()
	if _, err := config.Parse(b.Bytes()); err != nil {
		return fmt.Errorf("sources import: the result would not be a valid configuration, %s left as it was: %w", path, err)
	}
	old, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("sources import: %w", err)
	}
	if err := os.WriteFile(path+".bak", old, 0o600); err != nil {
		return fmt.Errorf("sources import: backup: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".newswire-import-*")
	if err != nil {
		return fmt.Errorf("sources import: %w", err)
	}
	if _, err := tmp.Write(b.Bytes()); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("sources import: %w", err)
	}
	// The rewritten file keeps the old one's mode: the service user must
	// still be able to read its configuration.
	if fi, err := os.Stat(path); err == nil {
		if err := tmp.Chmod(fi.Mode().Perm()); err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
			return fmt.Errorf("sources import: %w", err)
		}
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("sources import: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("sources import: %w", err)
	}
	fmt.Fprintf(os.Stderr, "added %d sources to %s (previous version in %s.bak)\n", len(entries), path, path)
	return nil
}

func sourceNode(id string, fd rss.OPMLFeed, interval string) *yaml.Node {
	m := &yaml.Node{Kind: yaml.MappingNode, Style: yaml.FlowStyle}
	add := func(k string, v *yaml.Node) {
		m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: k}, v)
	}
	str := func(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Value: s} }
	add("id", str(id))
	add("kind", str(rss.Kind))
	add("code", str(sourceCode(id)))
	add("name", &yaml.Node{Kind: yaml.ScalarNode, Value: fd.Title, Style: yaml.DoubleQuotedStyle})
	add("url", &yaml.Node{Kind: yaml.ScalarNode, Value: fd.URL, Style: yaml.DoubleQuotedStyle})
	if interval != "" {
		add("interval", str(interval))
	}
	if len(fd.Tags) > 0 {
		tags := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
		for _, t := range fd.Tags {
			tags.Content = append(tags.Content, str(t))
		}
		add("tags", tags)
	}
	return m
}

// sourceSlug makes an id from a feed's title, or its host without one.
func sourceSlug(title, rawURL string) string {
	s := title
	if s == "" {
		s = rawURL
		if i := strings.Index(s, "://"); i >= 0 {
			s = s[i+3:]
		}
	}
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
		if b.Len() >= 40 {
			break
		}
	}
	out := strings.Trim(b.String(), "-")
	if out == "" {
		out = "feed"
	}
	return out
}

func uniqueID(base string, used map[string]bool) string {
	id := base
	for n := 2; used[id]; n++ {
		id = fmt.Sprintf("%s-%d", base, n)
	}
	return id
}

// sourceCode is the display code derived from an id: "bbc-news-world" → "BBC-NEWS-WORLD", at most 16 characters.
func sourceCode(id string) string {
	c := strings.ToUpper(id)
	if len(c) > 16 {
		c = strings.TrimRight(c[:16], "-")
	}
	return c
}

// indentBlock indents the list under "sources:" as the example config does.
func indentBlock(b []byte) []byte {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	for i := 1; i < len(lines); i++ {
		lines[i] = "  " + lines[i]
	}
	return []byte(strings.Join(lines, "\n") + "\n")
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
