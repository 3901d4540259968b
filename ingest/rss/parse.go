package rss

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/mmcdole/gofeed"
	"github.com/mmcdole/gofeed/atom"
	"github.com/mmcdole/gofeed/rss"

	"github.com/newswire/newswire/wire"
)

// Kind is the source kind of this collector's raw items.
const Kind = "rss"

// Errors for bodies that are not feeds; wrapped with what was found.
var (
	// ErrNotFeed is a body that is no RSS, Atom or JSON Feed document at
	// all, such as an HTML page.
	ErrNotFeed = errors.New("rss: parse: not an RSS, Atom or JSON Feed document")
	// ErrNotJSONFeed is a JSON document without a JSON Feed version URL,
	// such as an API response: parsed, it would look like an empty feed.
	ErrNotJSONFeed = errors.New("rss: parse: JSON document is not a JSON Feed")
)

// document is a parsed feed and what the collector needs from it.
type document struct {
	feed *gofeed.Feed
	// TTL is the RSS <ttl>, zero when absent.
	TTL time.Duration
	// Hub and Self are the WebSub hub and topic the feed advertises.
	Hub, Self string
	// titleFormats are the wire formats of the items' titles, by item
	// index; nil when the format leaves them to the normalizer.
	titleFormats []string
	// charsetGuessed is set when the body declared no character set and
	// was read as GuessedCharset.
	charsetGuessed bool
}

// parseDocument parses a UTF-8 feed body of any supported format.
func parseDocument(body []byte) (*document, error) {
	if trimmed := bytes.TrimLeft(body, " \t\r\n"); len(trimmed) > 0 && (trimmed[0] == '{' || trimmed[0] == '[') {
		// Checked before parsing: gofeed takes any JSON object for a JSON
		// Feed, and fails on one whose fields have other types.
		if err := checkJSONFeedVersion(trimmed); err != nil {
			return nil, err
		}
	}
	p := gofeed.NewParser()
	p.KeepOriginalFeed = true
	feed, err := p.Parse(bytes.NewReader(body))
	if errors.Is(err, gofeed.ErrFeedTypeNotDetected) {
		return nil, fmt.Errorf("%w (%s)", ErrNotFeed, sniff(body))
	}
	if err != nil {
		return nil, fmt.Errorf("rss: parse: %w", err)
	}
	d := &document{feed: feed}
	switch orig := feed.OriginalFeed().(type) {
	case *rss.Feed:
		if n, err := strconv.Atoi(strings.TrimSpace(orig.TTL)); err == nil && n > 0 {
			d.TTL = time.Duration(min(n, 7*24*60)) * time.Minute
		}
		for _, l := range orig.Extensions["atom"]["link"] {
			d.setLink(l.Attrs["rel"], l.Attrs["href"])
		}
		d.titleFormats = sameFormat(len(feed.Items), wire.FormatHTML)
	case *atom.Feed:
		for _, l := range orig.Links {
			d.setLink(l.Rel, l.Href)
		}
		d.titleFormats = atomTitleFormats(body, len(feed.Items))
	}
	if feed.FeedType == "json" {
		// JSON Feed titles are plain text by the specification.
		d.titleFormats = sameFormat(len(feed.Items), wire.FormatText)
		var jf struct {
			FeedURL string `json:"feed_url"`
			Hubs    []struct {
				Type string `json:"type"`
				URL  string `json:"url"`
			} `json:"hubs"`
		}
		if json.Unmarshal(body, &jf) == nil {
			d.Self = jf.FeedURL
			for _, h := range jf.Hubs {
				if strings.EqualFold(h.Type, "websub") || strings.EqualFold(h.Type, "pubsubhubbub") {
					d.Hub = h.URL
					break
				}
			}
		}
	}
	return d, nil
}

// checkJSONFeedVersion refuses a JSON document whose "version" is not a
// JSON Feed version URL (https://jsonfeed.org/version/1 or /1.1; http and
// a trailing slash are accepted, as published feeds use them).
func checkJSONFeedVersion(body []byte) error {
	var v struct {
		Version json.RawMessage `json:"version"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		return fmt.Errorf("%w: %w", ErrNotJSONFeed, err)
	}
	var version string
	if len(v.Version) == 0 || json.Unmarshal(v.Version, &version) != nil {
		return fmt.Errorf("%w: no \"version\" string", ErrNotJSONFeed)
	}
	u := strings.ToLower(strings.TrimSuffix(strings.TrimSpace(version), "/"))
	u = strings.TrimPrefix(strings.TrimPrefix(u, "https://"), "http://")
	if u != "jsonfeed.org/version/1" && u != "jsonfeed.org/version/1.1" {
		return fmt.Errorf("%w: version %q", ErrNotJSONFeed, trimRunes(version, 80))
	}
	return nil
}

// sniff names what a body that is no feed looks like, for the error.
func sniff(body []byte) string {
	head := bytes.ToLower(bytes.TrimSpace(body[:min(len(body), 1024)]))
	switch {
	case len(head) == 0:
		return "empty body"
	case bytes.HasPrefix(head, []byte("<!doctype html")) || bytes.Contains(head, []byte("<html")):
		return "an HTML page"
	case head[0] == '[' || head[0] == '{':
		return "JSON"
	case head[0] == '<':
		return "XML without an rss, rdf:RDF or feed root"
	}
	return "no markup"
}

func trimRunes(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}

func sameFormat(n int, format string) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = format
	}
	return out
}

// atomTitleFormats reads the type attribute of each entry's title: Atom
// titles are plain text unless they say "html" or "xhtml" (RFC 4287
// §3.1.1), which the parsed feed no longer tells. It returns nil, leaving
// the format to the normalizer, when the entries it finds are not the
// parser's n items.
func atomTitleFormats(body []byte, n int) []string {
	dec := xml.NewDecoder(bytes.NewReader(body))
	dec.Strict = false
	dec.AutoClose = xml.HTMLAutoClose
	dec.Entity = xml.HTMLEntity
	out := make([]string, 0, n)
	depth, entryDepth := 0, -1
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			switch {
			case t.Name.Local == "entry" && entryDepth < 0:
				entryDepth = depth
				out = append(out, wire.FormatText)
			case t.Name.Local == "title" && depth == entryDepth+1:
				out[len(out)-1] = textConstructFormat(t.Attr)
				if err := dec.Skip(); err != nil {
					return nil
				}
				depth--
			}
		case xml.EndElement:
			if depth == entryDepth {
				entryDepth = -1
			}
			depth--
		}
	}
	if len(out) != n {
		return nil
	}
	return out
}

// textConstructFormat maps an Atom text construct's type (and Atom 0.3's
// MIME types) to a wire format.
func textConstructFormat(attrs []xml.Attr) string {
	for _, a := range attrs {
		if a.Name.Local != "type" {
			continue
		}
		switch t := strings.ToLower(strings.TrimSpace(a.Value)); {
		case t == "" || t == "text" || t == "text/plain":
			return wire.FormatText
		case strings.Contains(t, "html"):
			return wire.FormatHTML
		default:
			return ""
		}
	}
	return wire.FormatText
}

func (d *document) setLink(rel, href string) {
	switch strings.ToLower(strings.TrimSpace(rel)) {
	case "hub":
		if d.Hub == "" {
			d.Hub = strings.TrimSpace(href)
		}
	case "self":
		if d.Self == "" {
			d.Self = strings.TrimSpace(href)
		}
	}
}

// Items parses a UTF-8 feed body as the collector does and returns its
// items as the raw items the collector would publish, oldest first, each
// with its identity as NativeID and observed at observed. It is for
// tools and tests that run captured feeds through the pipeline without
// polling them; the collector itself also keeps a seen-window and state.
func Items(f Feed, body []byte, observed time.Time) ([]wire.RawItem, error) {
	d, err := parseDocument(body)
	if err != nil {
		return nil, err
	}
	cands := candidates(f, d, observed)
	out := make([]wire.RawItem, len(cands))
	for i, c := range cands {
		out[i] = c.raw
	}
	return out, nil
}

// candidate is a feed item with its identity.
type candidate struct {
	raw wire.RawItem
	// key is the seen-window key of the identity, hash the content's.
	key, hash string
	// alt is the disambiguated identity of an item whose GUID is shared
	// with other items of the same document; empty otherwise.
	alt, altKey string
	dated       time.Time
}

// candidates maps a document's items to raw items in the order they should
// be published (the document's reverse order: feeds list newest first).
func candidates(f Feed, d *document, observed time.Time) []candidate {
	items := d.feed.Items
	guids := make(map[string]int, len(items))
	for _, it := range items {
		if it != nil {
			if g := strings.TrimSpace(it.GUID); g != "" {
				guids[g]++
			}
		}
	}
	out := make([]candidate, 0, len(items))
	for i := len(items) - 1; i >= 0; i-- {
		it := items[i]
		if it == nil {
			continue
		}
		raw := rawItem(f, d.feed, it, observed)
		// The item's place in the document lets the normalizer keep the
		// feed's order among items whose date it cannot read.
		raw.Position = i
		if i < len(d.titleFormats) {
			raw.TitleFormat = d.titleFormats[i]
		}
		id, hash := identity(it)
		c := candidate{raw: raw, key: seenKey(id), hash: hash}
		if guids[id] > 1 {
			c.alt = id + "#" + hash
			c.altKey = seenKey(c.alt)
		}
		c.raw.NativeID = id
		if t := itemTime(it); t != nil {
			c.dated = *t
		}
		out = append(out, c)
	}
	return out
}

// identity is an item's GUID, else its link, else a hash of its title and
// content; the second result is a short hash of what the item says.
func identity(it *gofeed.Item) (string, string) {
	sum := sha256.Sum256([]byte(it.Link + "\x00" + it.Title + "\x00" + it.Content + "\x00" + it.Description))
	hash := hex.EncodeToString(sum[:6])
	if g := strings.TrimSpace(it.GUID); g != "" {
		return g, hash
	}
	if l := strings.TrimSpace(it.Link); l != "" {
		return l, hash
	}
	body := sha256.Sum256([]byte(it.Title + "\x00" + it.Content + "\x00" + it.Description))
	return "sha256:" + hex.EncodeToString(body[:16]), hash
}

// seenKey is the compact form of an identity kept in the seen-window.
func seenKey(id string) string {
	sum := sha256.Sum256([]byte(id))
	return base64.RawURLEncoding.EncodeToString(sum[:9])
}

func itemTime(it *gofeed.Item) *time.Time {
	if it.PublishedParsed != nil {
		return it.PublishedParsed
	}
	return it.UpdatedParsed
}

// rawItem maps a feed item to a raw item, keeping what the feed gave as
// given: HTML bodies stay HTML, times stay strings.
func rawItem(f Feed, feed *gofeed.Feed, it *gofeed.Item, observed time.Time) wire.RawItem {
	raw := wire.RawItem{
		Kind:       Kind,
		Source:     f.ID,
		SourceCode: f.Code,
		SourceName: f.Name,
		URL:        strings.TrimSpace(it.Link),
		Title:      it.Title,
		Body:       it.Content,
		BodyFormat: wire.FormatHTML,
		Published:  it.Published,
		Updated:    it.Updated,
		ObservedAt: observed,
		Lang:       feed.Language,
		Categories: it.Categories,
	}
	if raw.Body == "" {
		raw.Body = it.Description
	}
	if strings.TrimSpace(raw.Published) == "" {
		// An item dated only by its last change (a JSON Feed date_modified,
		// an atom:updated in RSS) is dated so rather than not at all, as
		// gofeed already does for Atom entries.
		raw.Published = it.Updated
	}
	if raw.SourceName == "" {
		raw.SourceName = feed.Title
	}
	if it.DublinCoreExt != nil && len(it.DublinCoreExt.Language) > 0 && it.DublinCoreExt.Language[0] != "" {
		raw.Lang = it.DublinCoreExt.Language[0]
	}
	for _, a := range it.Authors {
		if a != nil && (a.Name != "" || a.Email != "") {
			raw.Author = a.Name
			if raw.Author == "" {
				raw.Author = a.Email
			}
			break
		}
	}
	if raw.Author == "" && it.DublinCoreExt != nil && len(it.DublinCoreExt.Creator) > 0 {
		raw.Author = it.DublinCoreExt.Creator[0]
	}
	for _, e := range it.Enclosures {
		if e != nil && e.URL != "" {
			raw.Enclosures = append(raw.Enclosures, e.URL)
		}
	}
	return raw
}
