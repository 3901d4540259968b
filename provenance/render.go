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
	number := make(map[string]int, len(recs))
	for i, r := range recs {
		number[r.EntryID] = i + 1
	}
	for i, r := range recs {
		t := r.PublishedAt.UTC().Format(time.RFC3339)
		fmt.Fprintf(&b, `<li id="p%d" class="role-%s" data-entry="%s"><time datetime="%s">%s</time> <b>%s</b> %s`,
			i+1, html.EscapeString(string(r.Role)), html.EscapeString(r.EntryID), t, t, html.EscapeString(r.Source.Code), html.EscapeString(string(r.Role)))
		if n := number[r.Of]; n > 0 {
			fmt.Fprintf(&b, ` of <a href="#p%d">%d</a>`, n, n)
		}
		if r.Withdrawn {
			b.WriteString(` <em>withdrawn</em>`)
		}
		if r.Headline != "" {
			fmt.Fprintf(&b, ` — %s`, html.EscapeString(r.Headline))
		}
		if r.URL != "" && (strings.HasPrefix(r.URL, "https://") || strings.HasPrefix(r.URL, "http://")) {
			fmt.Fprintf(&b, ` <a href="%s" rel="nofollow noopener">%s</a>`, html.EscapeString(r.URL), html.EscapeString(shortURL(r.URL)))
		}
		switch p := r.PublishedURL; {
		case isWebURL(p):
			fmt.Fprintf(&b, ` <small class="published-url">published as <a href="%s" rel="nofollow noopener">%s</a></small>`, html.EscapeString(p), html.EscapeString(shortURL(p)))
		case p != "":
			fmt.Fprintf(&b, ` <small class="published-url">published as %s</small>`, html.EscapeString(p))
		}
		fmt.Fprintf(&b, ` <small class="pid">#%d · %s</small></li>`, i+1, html.EscapeString(r.EntryID))
	}
	b.WriteString("</ol></section>\n")
	_, err := io.WriteString(w, b.String())
	if err != nil {
		return fmt.Errorf("provenance: write html: %w", err)
	}
	return nil
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
