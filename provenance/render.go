package provenance

import (
	"encoding/json"
	"fmt"
	"html"
	"io"
	"strings"
	"time"
)

// Markdown writes the "Wire provenance" block of a story page: one line per
// post, earliest first, with time, source code, role and the post's URL
// (and the URL the source published, where it differs).
// Text that came from sources is escaped so it cannot inject Markdown or HTML.
func Markdown(w io.Writer, recs []Record) error {
	var b strings.Builder
	b.WriteString("### Wire provenance\n\n")
	for _, r := range recs {
		fmt.Fprintf(&b, "- %s **%s** %s", r.PublishedAt.UTC().Format(time.RFC3339), escapeMarkdown(r.Source.Code), r.Role)
		if r.Of != "" {
			fmt.Fprintf(&b, " of `%s`", escapeMarkdown(r.Of))
		}
		if r.Withdrawn {
			b.WriteString(" (withdrawn)")
		}
		if r.Headline != "" {
			fmt.Fprintf(&b, " — %s", escapeMarkdown(r.Headline))
		}
		switch {
		case isWebURL(r.URL):
			fmt.Fprintf(&b, " <%s>", escapeMarkdownURL(r.URL))
		case r.URL != "":
			// Only http(s) becomes a link: a javascript: or data: URL from a
			// source would run on the page that renders this Markdown.
			fmt.Fprintf(&b, " (%s)", escapeMarkdown(r.URL))
		}
		switch {
		case isWebURL(r.PublishedURL):
			fmt.Fprintf(&b, " (published as <%s>)", escapeMarkdownURL(r.PublishedURL))
		case r.PublishedURL != "":
			fmt.Fprintf(&b, " (published as %s)", escapeMarkdown(r.PublishedURL))
		}
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	if err != nil {
		return fmt.Errorf("provenance: write markdown: %w", err)
	}
	return nil
}

// HTML writes the provenance list as an ordered list. Item n (from 1) has
// id "p<n>", so that a brief's citation links to "#p<n>", and shows its
// number and entry id. Every value from a source is HTML-escaped; URLs
// are only linked when they are http(s).
func HTML(w io.Writer, recs []Record) error {
	var b strings.Builder
	b.WriteString(`<section class="wire-provenance"><h3>Wire provenance</h3><ol>`)
	number := numbers(recs)
	for i := range recs {
		htmlItem(&b, recs, i, number)
	}
	b.WriteString("</ol></section>\n")
	return writeHTML(w, &b)
}

// Fold is a run of a provenance list shown under its own heading: the
// records [Start, End), the first Shown of them listed and the rest
// folded into a <details> a reader opens.
type Fold struct {
	Label      string
	Start, End int
	Shown      int
}

// HTMLFolded writes the list as HTML does (same ids, numbers and
// escaping), in the runs folds gives, which cover recs in order: the
// page of a story of hundreds of posts stays short, and "#p<n>" still
// finds every item (browsers open a <details> that a link's target is in).
func HTMLFolded(w io.Writer, recs []Record, folds []Fold) error {
	var b strings.Builder
	b.WriteString(`<section class="wire-provenance"><h3>Wire provenance</h3>`)
	number := numbers(recs)
	list := func(from, to int) {
		fmt.Fprintf(&b, `<ol start="%d">`, from+1)
		for i := from; i < to; i++ {
			htmlItem(&b, recs, i, number)
		}
		b.WriteString("</ol>")
	}
	for _, f := range folds {
		f.Start, f.End = max(f.Start, 0), min(f.End, len(recs))
		if f.Start >= f.End {
			continue
		}
		fmt.Fprintf(&b, `<h4>%s (%d)</h4>`, html.EscapeString(f.Label), f.End-f.Start)
		open := min(f.Start+max(f.Shown, 0), f.End)
		if open > f.Start {
			list(f.Start, open)
		}
		if open < f.End {
			fmt.Fprintf(&b, `<details class="more"><summary>%d more, #%d–#%d</summary>`, f.End-open, open+1, f.End)
			list(open, f.End)
			b.WriteString("</details>")
		}
	}
	b.WriteString("</section>\n")
	return writeHTML(w, &b)
}

func numbers(recs []Record) map[string]int {
	number := make(map[string]int, len(recs))
	for i, r := range recs {
		number[r.EntryID] = i + 1
	}
	return number
}

func writeHTML(w io.Writer, b *strings.Builder) error {
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("provenance: write html: %w", err)
	}
	return nil
}

// htmlItem writes record i as a list item.
func htmlItem(b *strings.Builder, recs []Record, i int, number map[string]int) {
	r := recs[i]
	t := r.PublishedAt.UTC().Format(time.RFC3339)
	fmt.Fprintf(b, `<li id="p%d" class="role-%s" data-entry="%s"><time datetime="%s">%s</time> <b>%s</b> %s`,
		i+1, html.EscapeString(string(r.Role)), html.EscapeString(r.EntryID), t, t, html.EscapeString(r.Source.Code), html.EscapeString(string(r.Role)))
	if n := number[r.Of]; n > 0 {
		fmt.Fprintf(b, ` of <a href="#p%d">%d</a>`, n, n)
	}
	if r.Withdrawn {
		b.WriteString(` <em>withdrawn</em>`)
	}
	if r.Headline != "" {
		fmt.Fprintf(b, ` — %s`, html.EscapeString(r.Headline))
	}
	if r.URL != "" && (strings.HasPrefix(r.URL, "https://") || strings.HasPrefix(r.URL, "http://")) {
		fmt.Fprintf(b, ` <a href="%s" rel="nofollow noopener">%s</a>`, html.EscapeString(r.URL), html.EscapeString(shortURL(r.URL)))
	}
	switch p := r.PublishedURL; {
	case isWebURL(p):
		fmt.Fprintf(b, ` <small class="published-url">published as <a href="%s" rel="nofollow noopener">%s</a></small>`, html.EscapeString(p), html.EscapeString(shortURL(p)))
	case p != "":
		fmt.Fprintf(b, ` <small class="published-url">published as %s</small>`, html.EscapeString(p))
	}
	fmt.Fprintf(b, ` <small class="pid">#%d · %s</small></li>`, i+1, html.EscapeString(r.EntryID))
}

// JSON writes the records as a JSON array.
func JSON(w io.Writer, recs []Record) error {
	if recs == nil {
		recs = []Record{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(recs); err != nil {
		return fmt.Errorf("provenance: write json: %w", err)
	}
	return nil
}

var markdownEscaper = strings.NewReplacer(
	`\`, `\\`, "`", "\\`", `*`, `\*`, `_`, `\_`, `[`, `\[`, `]`, `\]`,
	`<`, `&lt;`, `>`, `&gt;`, `#`, `\#`, `|`, `\|`, "\n", " ", "\r", " ",
)

func escapeMarkdown(s string) string { return markdownEscaper.Replace(s) }

// escapeMarkdownURL keeps a URL inside an autolink: angle brackets and
// whitespace would end it early, so they are percent-encoded.
var urlEscaper = strings.NewReplacer("<", "%3C", ">", "%3E", " ", "%20", "\n", "", "\r", "")

func escapeMarkdownURL(s string) string { return urlEscaper.Replace(s) }

// maxLinkRunes bounds a link's shown text; the href keeps the whole URL.
const maxLinkRunes = 60

// shortURL is the text a link shows: the URL without its scheme, cut to
// maxLinkRunes with "…", so a list of long URLs stays readable on a phone.
func shortURL(u string) string {
	if i := strings.Index(u, "://"); i >= 0 {
		u = u[i+3:]
	}
	if r := []rune(u); len(r) > maxLinkRunes {
		return string(r[:maxLinkRunes-1]) + "…"
	}
	return u
}

func isWebURL(u string) bool {
	l := strings.ToLower(u)
	return strings.HasPrefix(l, "https://") || strings.HasPrefix(l, "http://")
}
