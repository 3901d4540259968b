package tgweb

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/PuerkitoBio/goquery"
	"golang.org/x/net/html"
)

// ErrNotPreview is returned for a page that is not a channel's message
// preview (no message list and no channel header).
var ErrNotPreview = errors.New("tgweb: page is not a t.me/s channel preview")

// Page is what one t.me/s page shows.
type Page struct {
	// Title is the channel's display name from the page header.
	Title string
	// Posts are in page order (oldest first, as t.me shows them).
	Posts []Post
	// Malformed counts message blocks that were skipped because their
	// data-post was missing, empty or not "<channel>/<id>".
	Malformed int
	// Before is the id the page's "load older" link pages back from, 0 if none.
	Before int
}

// Post is one message block of the preview.
type Post struct {
	Channel string // as data-post spells it
	ID      int
	// Text is the message text rendered to newswire's Telegram markdown
	// (see ingest/telegram.Markdown); a poll without text gives its question
	// and answers.
	Text string
	// Published is the time[datetime] value, as the page gives it.
	Published string
	Views     int64
	Author    string
	MediaType string
	Edited    bool
	// Link is the post's own link (a.tgme_widget_message_date).
	Link        string
	ForwardFrom *PostRef
	ReplyTo     *PostRef
}

// PostRef points at another post; Channel and ID are empty when the page
// names only a person or a private chat.
type PostRef struct {
	Channel string
	ID      int
	Name    string
	URL     string
}

var dataPost = regexp.MustCompile(`^([A-Za-z0-9_]{1,64})/([0-9]{1,12})$`)

// ParsePage reads a preview page. It never panics on broken markup: blocks
// it cannot read are counted in Malformed and left out.
func ParsePage(data []byte) (*Page, error) {
	doc, err := goquery.NewDocumentFromReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("tgweb: parse page: %w", err)
	}
	p := &Page{Title: clean(doc.Find(".tgme_channel_info_header_title").First().Text())}
	// Every message block counts, with or without data-post: t.me serves
	// some posts' blocks with the attribute missing or without the id
	// ("name/"), and a block that cannot be read must mark the page as
	// not whole rather than vanish from it.
	blocks := doc.Find("div.tgme_widget_message")
	if blocks.Length() == 0 && doc.Find(".tgme_channel_history, .tgme_channel_info").Length() == 0 {
		return nil, ErrNotPreview
	}
	blocks.Each(func(_ int, s *goquery.Selection) {
		post, ok := parsePost(s)
		if !ok {
			p.Malformed++
			return
		}
		p.Posts = append(p.Posts, post)
	})
	if v, ok := doc.Find(".tme_messages_more[data-before]").First().Attr("data-before"); ok {
		p.Before, _ = strconv.Atoi(strings.TrimSpace(v))
	}
	return p, nil
}

func parsePost(s *goquery.Selection) (Post, bool) {
	m := dataPost.FindStringSubmatch(strings.TrimSpace(s.AttrOr("data-post", "")))
	if m == nil {
		return Post{}, false
	}
	id, err := strconv.Atoi(m[2])
	if err != nil || id <= 0 {
		return Post{}, false
	}
	p := Post{Channel: m[1], ID: id}
	// The reply preview inside a post has its own text block; the post's
	// text is the one outside it.
	text := s.Find(".tgme_widget_message_text").FilterFunction(func(_ int, t *goquery.Selection) bool {
		return t.Closest(".tgme_widget_message_reply").Length() == 0
	}).First()
	if text.Length() > 0 {
		p.Text = strings.TrimSpace(Markdown(text.Nodes[0]))
	}
	if poll := s.Find(".tgme_widget_message_poll").First(); poll.Length() > 0 {
		p.MediaType = "poll"
		if p.Text == "" {
			var answers []string
			poll.Find(".tgme_widget_message_poll_option_text").Each(func(_ int, o *goquery.Selection) {
				answers = append(answers, clean(o.Text()))
			})
			p.Text = PollText(clean(poll.Find(".tgme_widget_message_poll_question").First().Text()), answers)
		}
	}
	if p.MediaType == "" {
		p.MediaType = mediaType(s)
	}
	date := s.Find("a.tgme_widget_message_date").First()
	p.Link = fixHref(date.AttrOr("href", ""))
	p.Published = strings.TrimSpace(s.Find("time[datetime]").First().AttrOr("datetime", ""))
	p.Views = parseViews(s.Find(".tgme_widget_message_views").First().Text())
	p.Edited = strings.Contains(strings.ToLower(s.Find(".tgme_widget_message_meta").First().Text()), "edited")
	p.Author = clean(s.Find(".tgme_widget_message_owner_name").First().Text())
	if fw := s.Find(".tgme_widget_message_forwarded_from_name").First(); fw.Length() > 0 {
		p.ForwardFrom = postRef(fw.AttrOr("href", ""), clean(fw.Text()))
	}
	if re := s.Find("a.tgme_widget_message_reply").First(); re.Length() > 0 {
		p.ReplyTo = postRef(re.AttrOr("href", ""), clean(re.Find(".tgme_widget_message_author_name").First().Text()))
	}
	return p, true
}

// mediaType names the post's media with ingest/telegram's names.
func mediaType(s *goquery.Selection) string {
	for _, c := range []struct{ sel, kind string }{
		{".tgme_widget_message_roundvideo_player", "video_note"},
		{".tgme_widget_message_video_player", "video"},
		{".tgme_widget_message_voice", "voice"},
		{".tgme_widget_message_sticker_wrap", "sticker"},
		{".tgme_widget_message_photo_wrap", "photo"},
		{".tgme_widget_message_document_wrap, .tgme_widget_message_document", "document"},
		{".tgme_widget_message_location_wrap", "location"},
		{".tgme_widget_message_link_preview", "webpage"},
		{".message_media_not_supported", "other"},
	} {
		if s.Find(c.sel).Length() > 0 {
			return c.kind
		}
	}
	return ""
}

// postRef reads a t.me post link ("https://t.me/<channel>/<id>", also
// with /s/); a link to anything else keeps only the name and URL.
func postRef(href, name string) *PostRef {
	href = fixHref(href)
	ref := &PostRef{Name: name, URL: href}
	u, err := url.Parse(href)
	if err != nil {
		return ref
	}
	host := strings.TrimPrefix(strings.ToLower(u.Host), "www.")
	if host != "t.me" && host != "telegram.me" && host != "" {
		return ref
	}
	path := strings.TrimPrefix(strings.Trim(u.Path, "/"), "s/")
	if m := dataPost.FindStringSubmatch(path); m != nil && m[1] != "c" {
		ref.Channel = m[1]
		ref.ID, _ = strconv.Atoi(m[2])
	}
	return ref
}

// fixHref undoes the double escaping t.me sometimes applies to links:
// after HTML decoding an href can still read "a=1&amp;b=2".
func fixHref(h string) string {
	h = strings.TrimSpace(h)
	for i := 0; i < 3 && strings.Contains(h, "&amp;"); i++ {
		h = strings.ReplaceAll(h, "&amp;", "&")
	}
	if strings.HasPrefix(h, "//") {
		h = "https:" + h
	}
	return h
}

// parseViews reads "987", "12.3K" or "1.2M".
func parseViews(s string) int64 {
	s = strings.TrimSpace(strings.ReplaceAll(s, ",", ""))
	if s == "" {
		return 0
	}
	mult := 1.0
	switch {
	case strings.HasSuffix(s, "K"):
		mult, s = 1e3, strings.TrimSuffix(s, "K")
	case strings.HasSuffix(s, "M"):
		mult, s = 1e6, strings.TrimSuffix(s, "M")
	case strings.HasSuffix(s, "B"):
		mult, s = 1e9, strings.TrimSuffix(s, "B")
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 {
		return 0
	}
	return int64(f*mult + 0.5)
}

func clean(s string) string { return strings.Join(strings.Fields(s), " ") }

// PublishedRFC3339 normalizes a datetime attribute to UTC RFC 3339, the
// form ingest/telegram gives; anything unreadable is passed on as it is,
// for the normalizer to judge.
func PublishedRFC3339(s string) string {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return s
	}
	return t.UTC().Format(time.RFC3339)
}

// Markdown renders a message text block to newswire's Telegram markdown,
// mark for mark what ingest/telegram.Markdown makes of the entities. Text
// is laid out as a browser shows it: runs of spaces and line breaks in the
// HTML source are one space (t.me wraps long lines in its source), and
// only the post's own <br> elements break lines; <pre> keeps its text as
// it is.
func Markdown(n *html.Node) string {
	var w mdWriter
	w.children(n)
	return w.b.String()
}

// mdWriter collapses whitespace as it writes: a space is written only
// once something follows it on the same line.
type mdWriter struct {
	b strings.Builder
	// lead is whitespace before anything was written, pending whitespace
	// since the last thing written; a caller that nests this writer's
	// output in marks moves them outside ("a<b> b </b>c" → "a **b** c").
	lead, pending bool
	pre           int // inside <pre>: text as written
}

func isHTMLSpace(r rune) bool {
	return r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\f'
}

func (w *mdWriter) space() {
	if w.b.Len() == 0 {
		w.lead = true
		return
	}
	w.pending = true
}

func (w *mdWriter) write(s string) {
	if s == "" {
		return
	}
	if w.pending {
		if out := w.b.String(); out[len(out)-1] != '\n' {
			w.b.WriteByte(' ')
		}
		w.pending = false
	}
	w.b.WriteString(s)
}

// lineBreak is a <br>: the whitespace around it goes.
func (w *mdWriter) lineBreak() {
	w.pending = false
	w.b.WriteByte('\n')
}

func (w *mdWriter) text(s string) {
	if w.pre > 0 {
		w.write(s)
		return
	}
	for s != "" {
		i := strings.IndexFunc(s, isHTMLSpace)
		if i < 0 {
			w.write(s)
			return
		}
		w.write(s[:i])
		w.space()
		s = strings.TrimLeftFunc(s[i:], isHTMLSpace)
	}
}

// nested renders n's children apart, for marks and link labels.
func (w *mdWriter) nested(n *html.Node) *mdWriter {
	inner := &mdWriter{pre: w.pre}
	inner.children(n)
	return inner
}

// wrapped writes an inner rendering between marks, with its outer
// whitespace outside them.
func (w *mdWriter) wrapped(inner *mdWriter, open, close string) {
	if inner.lead {
		w.space()
	}
	if s := inner.b.String(); s != "" {
		w.write(open + s + close)
	}
	if inner.pending {
		w.space()
	}
}

func (w *mdWriter) children(n *html.Node) {
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		w.node(c)
	}
}

func (w *mdWriter) node(n *html.Node) {
	switch n.Type {
	case html.TextNode:
		w.text(n.Data)
		return
	case html.ElementNode:
	default:
		return
	}
	wrap := func(mark string) { w.wrapped(w.nested(n), mark, mark) }
	switch n.Data {
	case "br":
		w.lineBreak()
	case "b", "strong":
		wrap("**")
	case "i", "em":
		if hasClass(n, "emoji") {
			// A picture around the emoji character: only the character is text.
			w.text(textOf(n))
			return
		}
		wrap("__")
	case "s", "del", "strike":
		wrap("~~")
	case "tg-spoiler":
		wrap("||")
	case "code":
		wrap("`")
	case "pre":
		w.pre++
		wrap("```")
		w.pre--
	case "a":
		w.link(n)
	case "script", "style", "img":
	case "span":
		if hasClass(n, "tg-spoiler") {
			wrap("||")
			return
		}
		w.children(n)
	case "blockquote", "div", "p":
		// blocks Telegram renders on lines of their own
		if w.b.Len() > 0 && !strings.HasSuffix(w.b.String(), "\n") {
			w.lineBreak()
		}
		w.children(n)
		if w.b.Len() > 0 && !strings.HasSuffix(w.b.String(), "\n") {
			w.lineBreak()
		}
	default:
		w.children(n)
	}
}

// link writes an author's text link as [label](href), on one line
// whatever breaks its label has, and a link Telegram made from the text as
// the text alone. Breaks at the edges of a label are kept outside the
// brackets: t.me puts the <br> that ends a line inside the link
// ("<a>TELEGRAM<br/><br/></a>Донаты"), and dropping them would run the
// label into the next line's text.
func (w *mdWriter) link(n *html.Node) {
	inner := w.nested(n)
	raw := inner.b.String()
	body := strings.TrimLeft(raw, "\n")
	before := len(raw) - len(body)
	body = strings.TrimRight(body, "\n")
	after := len(raw) - before - len(body)
	label := strings.TrimSpace(strings.ReplaceAll(body, "\n", " "))
	href := fixHref(attr(n, "href"))
	if href == "" || autoLink(label, href) {
		w.wrapped(inner, "", "")
		return
	}
	if inner.lead {
		w.space()
	}
	for range before {
		w.lineBreak()
	}
	if label != "" {
		w.write("[" + label + "](" + strings.ReplaceAll(href, ")", "%29") + ")")
	}
	for range after {
		w.lineBreak()
	}
	if inner.pending {
		w.space()
	}
}

// autoLink tells links Telegram made from the text itself (URLs, @mentions,
// #hashtags, e-mail) from text links an author set: MTProto carries the
// former as plain text, so they stay plain here too.
func autoLink(label, href string) bool {
	switch {
	case label == href, bareURL(label) == bareURL(href):
		return true
	case strings.HasPrefix(label, "@") || strings.HasPrefix(label, "#") || strings.HasPrefix(label, "$"):
		return strings.Contains(href, "t.me/") || strings.HasPrefix(href, "?q=")
	case strings.HasPrefix(href, "mailto:"):
		return strings.TrimPrefix(href, "mailto:") == label
	}
	// Long URLs are shown cut with "…".
	if strings.HasSuffix(label, "…") {
		stem := strings.TrimSuffix(label, "…")
		return strings.HasPrefix(bareURL(href), bareURL(stem))
	}
	return false
}

func textOf(n *html.Node) string {
	if n.Type == html.TextNode {
		return n.Data
	}
	var b strings.Builder
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		b.WriteString(textOf(c))
	}
	return b.String()
}

// bareURL drops scheme, "www." and a trailing slash, the parts Telegram
// leaves out when it shows a link it found in the text.
func bareURL(s string) string {
	s = strings.TrimPrefix(strings.TrimPrefix(s, "https://"), "http://")
	return strings.TrimSuffix(strings.TrimPrefix(s, "www."), "/")
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func hasClass(n *html.Node, class string) bool {
	for _, c := range strings.Fields(attr(n, "class")) {
		if c == class {
			return true
		}
	}
	return false
}

// PollText renders a poll as ingest/telegram.PollText does: the question,
// then one "- answer" line per answer. (Kept here rather than imported so
// this package does not pull in the MTProto client.)
func PollText(question string, answers []string) string {
	var b strings.Builder
	b.WriteString(strings.TrimSpace(question))
	for _, a := range answers {
		b.WriteString("\n- ")
		b.WriteString(strings.TrimSpace(a))
	}
	return b.String()
}
