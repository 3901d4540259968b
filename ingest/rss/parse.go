package rss

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
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

// document is a parsed feed and what the collector needs from it.
type document struct {
	feed *gofeed.Feed
	// TTL is the RSS <ttl>, zero when absent.
	TTL time.Duration
	// Hub and Self are the WebSub hub and topic the feed advertises.
	Hub, Self string
}

// parseDocument parses a UTF-8 feed body of any supported format.
func parseDocument(body []byte) (*document, error) {
	p := gofeed.NewParser()
	p.KeepOriginalFeed = true
	feed, err := p.Parse(bytes.NewReader(body))
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
	case *atom.Feed:
		for _, l := range orig.Links {
			d.setLink(l.Rel, l.Href)
		}
	}
	if feed.FeedType == "json" {
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
