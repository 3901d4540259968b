package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/newswire/newswire/bus"
	"github.com/newswire/newswire/provenance"
	"github.com/newswire/newswire/web"
	"github.com/newswire/newswire/wire"
)

// cmdStories prints the stories ranked as on the /stories page.
func cmdStories(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("stories", flag.ContinueOnError)
	cfgPath := configFlag(fs)
	active := fs.Bool("active", false, "developing stories only")
	limit := fs.Int("limit", 30, "print at most this many stories")
	asJSON := fs.Bool("json", false, "print JSON (one object with a stories array) instead of a table")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *limit <= 0 {
		return usageError{"stories: --limit must be positive"}
	}
	cfg, log, err := setup(*cfgPath)
	if err != nil {
		return err
	}
	p, err := connect(ctx, cfg, log, cfg.NATS.URLs, "newswire-stories")
	if err != nil {
		return err
	}
	defer p.nc.Close()
	store := web.NewStore(1)
	if err := store.LoadStories(ctx, p.js); err != nil {
		return fmt.Errorf("stories: %w", err)
	}
	page, err := store.QueryStories(web.StoryFilter{Active: *active}, *limit, "")
	if err != nil {
		return fmt.Errorf("stories: %w", err)
	}
	return printStories(os.Stdout, page.Stories, *asJSON)
}

func printStories(w io.Writer, stories []web.RankedStory, asJSON bool) error {
	if asJSON {
		if stories == nil {
			stories = []web.RankedStory{}
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"stories": stories})
	}
	if len(stories) == 0 {
		fmt.Fprintln(w, "no stories on the bus yet")
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATUS\tENTRIES\tSOURCES\tINDEPENDENT\tUPDATED\tHEADLINE")
	for _, st := range stories {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%s\t%s\n", st.ID, st.Status, st.Counts.Entries, st.Counts.Sources, st.Counts.Origins,
			st.LastUpdated.UTC().Format("2006-01-02 15:04Z"), clean(trimTo(st.Headline, 100)))
	}
	return tw.Flush()
}

// cmdStory prints one story: Markdown (headline, counts, brief with
// numbered citations, first report, provenance), its snapshot as JSON, or
// the provenance block as HTML.
func cmdStory(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("story", flag.ContinueOnError)
	cfgPath := configFlag(fs)
	format := fs.String("format", "md", "md, json or html")
	id, rest := splitPositional(fs, args)
	if err := parseFlags(fs, rest); err != nil {
		return err
	}
	if id == "" && fs.NArg() > 0 {
		id = fs.Arg(0)
	}
	if id == "" {
		return usageError{"story: which story? usage: newswire story ID [--format md|json|html] (ids: newswire stories)"}
	}
	switch *format {
	case "md", "json", "html":
	default:
		return usageError{fmt.Sprintf("story: --format must be md, json or html, not %q", *format)}
	}
	cfg, log, err := setup(*cfgPath)
	if err != nil {
		return err
	}
	p, err := connect(ctx, cfg, log, cfg.NATS.URLs, "newswire-story")
	if err != nil {
		return err
	}
	defer p.nc.Close()
	stream, err := p.js.Stream(ctx, bus.StreamStory)
	if err != nil {
		return fmt.Errorf("story: %w", err)
	}
	msg, err := stream.GetLastMsgForSubject(ctx, bus.StorySubject(id))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return fmt.Errorf("story: no story %q on the bus (newswire stories lists them)", id)
	}
	if err != nil {
		return fmt.Errorf("story: %w", err)
	}
	var st wire.Story
	if err := json.Unmarshal(msg.Data, &st); err != nil {
		return fmt.Errorf("story: snapshot of %s cannot be read: %w", id, err)
	}
	return printStory(os.Stdout, st, *format)
}

func printStory(w io.Writer, st wire.Story, format string) error {
	switch format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	case "html":
		return provenance.HTML(w, st.Provenance)
	}
	number := make(map[string]int, len(st.Provenance))
	for i, r := range st.Provenance {
		number[r.EntryID] = i + 1
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\n", mdText(st.Headline))
	fmt.Fprintf(&b, "%s · %d entries from %d sources, %d independent · updated %s\n\n", st.Status, st.Counts.Entries, st.Counts.Sources,
		st.Counts.Origins, st.LastUpdated.UTC().Format("2006-01-02 15:04Z"))
	for _, s := range st.Brief {
		var cites []string
		for _, c := range s.Cites {
			if n := number[c]; n > 0 {
				cites = append(cites, fmt.Sprint(n))
			} else {
				cites = append(cites, c)
			}
		}
		fmt.Fprintf(&b, "%s [%s]\n\n", mdText(s.Text), strings.Join(cites, ", "))
	}
	if fr := st.FirstReport; fr.EntryID != "" {
		fmt.Fprintf(&b, "First report: %s at %s [%d]", mdText(fr.Source), fr.PublishedAt.UTC().Format("2006-01-02 15:04Z"), number[fr.EntryID])
		for i, t := range fr.Trail {
			if i == 12 {
				fmt.Fprintf(&b, "; and %d more", len(fr.Trail)-i)
				break
			}
			fmt.Fprintf(&b, "; %s %s", mdText(t.Source), web.Delta(t.Minutes))
		}
		b.WriteString("\n\n")
	}
	for _, c := range st.SingleSource {
		fmt.Fprintf(&b, "Not yet corroborated (only %s [%d]): %s\n", mdText(c.Source), number[c.EntryID], mdText(firstNonEmpty(c.Context, c.Text)))
	}
	if len(st.SingleSource) > 0 {
		b.WriteString("\n")
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return err
	}
	return provenance.Markdown(w, st.Provenance)
}

// mdText keeps source text from starting Markdown or HTML.
func mdText(s string) string {
	return strings.NewReplacer("<", "&lt;", ">", "&gt;", "[", `\[`, "]", `\]`, "*", `\*`, "_", `\_`, "`", "\\`", "\n", " ").Replace(clean(s))
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
