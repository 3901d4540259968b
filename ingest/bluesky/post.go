package bluesky

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/newswire/newswire/wire"
)

// Collections the collector reads.
const (
	CollectionPost   = "app.bsky.feed.post"
	CollectionRepost = "app.bsky.feed.repost"
)

// ErrBadRecord is returned for a post or repost record that cannot be read.
var ErrBadRecord = errors.New("bluesky: unreadable record")

// postRecord is the part of an app.bsky.feed.post record the collector reads.
type postRecord struct {
	Text      string   `json:"text"`
	CreatedAt string   `json:"createdAt"`
	Langs     []string `json:"langs"`
	Facets    []facet  `json:"facets"`
	Reply     *struct {
		Root   strongRef `json:"root"`
		Parent strongRef `json:"parent"`
	} `json:"reply"`
	Embed *embed `json:"embed"`
}

// repostRecord is an app.bsky.feed.repost record.
type repostRecord struct {
	Subject   strongRef `json:"subject"`
	CreatedAt string    `json:"createdAt"`
}

type strongRef struct {
	URI string `json:"uri"`
	CID string `json:"cid"`
}

type facet struct {
	Index struct {
		ByteStart int `json:"byteStart"`
		ByteEnd   int `json:"byteEnd"`
	} `json:"index"`
	Features []struct {
		Type string `json:"$type"`
		URI  string `json:"uri"`
	} `json:"features"`
}

// embed covers the embed kinds that matter to a wire item: a quoted post
// (record, recordWithMedia), a link card (external) and media.
type embed struct {
	Type     string `json:"$type"`
	External *struct {
		URI string `json:"uri"`
	} `json:"external"`
	// Record is a strongRef for app.bsky.embed.record and an embed.record
	// object ({"record": strongRef}) for app.bsky.embed.recordWithMedia.
	Record json.RawMessage `json:"record"`
	Media  *embed          `json:"media"`
}

// quoted returns the URI of the post an embed quotes, "" when it quotes
// none (or quotes a feed, list or starter pack rather than a post).
func (e *embed) quoted() string {
	if e == nil || len(e.Record) == 0 {
		return ""
	}
	var ref strongRef
	switch e.Type {
	case "app.bsky.embed.record":
		_ = json.Unmarshal(e.Record, &ref)
	case "app.bsky.embed.recordWithMedia":
		var inner struct {
			Record strongRef `json:"record"`
		}
		_ = json.Unmarshal(e.Record, &inner)
		ref = inner.Record
	}
	if u, err := ParseURI(ref.URI); err == nil && u.Collection == CollectionPost {
		return ref.URI
	}
	return ""
}

func (e *embed) mediaType() string {
	if e == nil {
		return ""
	}
	switch e.Type {
	case "app.bsky.embed.images":
		return "photo"
	case "app.bsky.embed.video":
		return "video"
	case "app.bsky.embed.external":
		return "link"
	case "app.bsky.embed.recordWithMedia":
		return e.Media.mediaType()
	}
	return ""
}

// URI is a parsed at:// URI of a record: at://<did>/<collection>/<rkey>.
type URI struct {
	DID, Collection, RKey string
}

// ErrBadURI is returned for a string that is not an at:// record URI.
var ErrBadURI = errors.New("bluesky: not an at:// record URI")

// ParseURI reads at://<did>/<collection>/<rkey>. Handles in the authority
// are refused: records are named by DID so that a handle change does not
// rename them.
func ParseURI(s string) (URI, error) {
	rest, ok := strings.CutPrefix(s, "at://")
	parts := strings.Split(rest, "/")
	if !ok || len(parts) != 3 || !strings.HasPrefix(parts[0], "did:") || parts[1] == "" || parts[2] == "" {
		return URI{}, fmt.Errorf("%w: %q", ErrBadURI, s)
	}
	return URI{DID: parts[0], Collection: parts[1], RKey: parts[2]}, nil
}

func (u URI) String() string { return "at://" + u.DID + "/" + u.Collection + "/" + u.RKey }

// RecordURI names a record.
func RecordURI(did, collection, rkey string) string {
	return URI{DID: did, Collection: collection, RKey: rkey}.String()
}

// PostURL is the web link of a post: https://bsky.app/profile/<handle>/post/<rkey>.
// profile is the author's handle, or its DID when the handle is not known
// (bsky.app serves both).
func PostURL(profile, rkey string) string {
	return "https://bsky.app/profile/" + url.PathEscape(profile) + "/post/" + url.PathEscape(rkey)
}

// ResolveFacets returns text with every link facet's span replaced by the
// facet's full URI: clients shorten long links in the text
// ("www.youtube.com/watch?v=V5lD...") and keep the target in the facet.
// Facet offsets count UTF-8 bytes, not characters. Facets that are out of
// range, inverted, overlap an earlier one, cut a character in two or link
// to something other than http(s) are left out; bad counts them.
func ResolveFacets(text string, facets []facet) (out string, bad int) {
	type span struct {
		start, end int
		uri        string
	}
	var spans []span
	for _, f := range facets {
		uri, link := "", false
		for _, feat := range f.Features {
			if feat.Type == "app.bsky.richtext.facet#link" {
				uri, link = feat.URI, true
			}
		}
		if !link {
			continue // mentions and tags stay as written
		}
		s, e := f.Index.ByteStart, f.Index.ByteEnd
		if s < 0 || e > len(text) || s >= e || !boundary(text, s) || !boundary(text, e) || !httpURL(uri) {
			bad++
			continue
		}
		spans = append(spans, span{s, e, uri})
	}
	if len(spans) == 0 {
		return text, bad
	}
	slices.SortStableFunc(spans, func(a, b span) int { return a.start - b.start })
	var b strings.Builder
	pos := 0
	for _, sp := range spans {
		if sp.start < pos {
			bad++
			continue
		}
		b.WriteString(text[pos:sp.start])
		b.WriteString(sp.uri)
		pos = sp.end
	}
	b.WriteString(text[pos:])
	return b.String(), bad
}

func boundary(s string, i int) bool { return i == len(s) || utf8.RuneStart(s[i]) }

func httpURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// author is who wrote a post: DID and, when known, handle.
type author struct {
	DID, Handle string
}

func (a author) profile() string {
	if a.Handle != "" && a.Handle != "handle.invalid" {
		return a.Handle
	}
	return a.DID
}

// postItem builds the raw item of a post from its record, the same way for
// both routes (Jetstream commit and AppView post view), so that a post seen
// by both is one identical item. names gives the source id and profile
// name other posts are referred to by (see Collector.names).
func postItem(rec []byte, uri URI, by author, names func(did string) (source, profile string)) (wire.RawItem, postRecord, int, error) {
	var p postRecord
	if err := json.Unmarshal(rec, &p); err != nil {
		return wire.RawItem{}, p, 0, fmt.Errorf("%w: post %s: %w", ErrBadRecord, uri, err)
	}
	if !utf8.ValidString(p.Text) {
		return wire.RawItem{}, p, 0, fmt.Errorf("%w: post %s: text is not valid UTF-8", ErrBadRecord, uri)
	}
	text, bad := ResolveFacets(p.Text, p.Facets)
	if ext := p.Embed.external(); ext != "" && !strings.Contains(text, ext) {
		// A link card without the link in the text is how news accounts
		// usually share a story: the link is the story, so it is kept.
		if text != "" {
			text += "\n\n"
		}
		text += ext
	}
	item := wire.RawItem{
		Kind:       Kind,
		NativeID:   uri.String(),
		URL:        PostURL(by.profile(), uri.RKey),
		Author:     by.profile(),
		Body:       text,
		BodyFormat: wire.FormatText,
		Published:  p.CreatedAt,
	}
	if len(p.Langs) > 0 {
		item.Lang = p.Langs[0]
	}
	if p.Reply != nil {
		item.ReplyTo = postRef(p.Reply.Parent.URI, names)
	}
	if q := p.Embed.quoted(); q != "" {
		item.QuoteOf = postRef(q, names)
	}
	if mt := p.Embed.mediaType(); mt != "" {
		item.Meta = &wire.PostStats{MediaType: mt}
	}
	return item, p, bad, nil
}

func (e *embed) external() string {
	if e == nil {
		return ""
	}
	if e.Type == "app.bsky.embed.external" && e.External != nil && httpURL(e.External.URI) {
		return e.External.URI
	}
	if e.Type == "app.bsky.embed.recordWithMedia" {
		return e.Media.external()
	}
	return ""
}

// postRef is a reference to another post, named the way the collector
// names posts, so that the normalizer can link the two entries.
func postRef(s string, names func(did string) (source, profile string)) *wire.Ref {
	u, err := ParseURI(s)
	if err != nil {
		return nil
	}
	source, profile := names(u.DID)
	return &wire.Ref{Kind: Kind, Source: source, NativeID: u.String(), URL: PostURL(profile, u.RKey)}
}
