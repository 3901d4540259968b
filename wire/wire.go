// Package wire holds the messages that travel between the stages: raw items
// (collectors → normalizer), entries (normalizer → synthesizer) and story
// snapshots (synthesizer → readers). Their JSON shapes are the public API;
// the JSON Schema files in schema/ describe them and tests validate against them.
package wire

import (
	"strings"
	"time"

	"github.com/newswire/newswire/provenance"
)

// Schema versions carried in every message's "schema" field.
const (
	SchemaRaw   = "newswire.raw/1"
	SchemaEntry = "newswire.entry/1"
	SchemaStory = "newswire.story/1"
	SchemaDLQ   = "newswire.dlq/1"
)

// Body formats a raw item may carry.
const (
	FormatHTML     = "html"
	FormatMarkdown = "markdown"
	FormatText     = "text"
)

// RawItem is what a collector saw, nothing more.
type RawItem struct {
	Schema   string `json:"schema"`
	Kind     string `json:"kind"`
	Source   string `json:"source"`
	NativeID string `json:"native_id"`
	// SourceCode and SourceName are the display code and name the collector's
	// configuration gives the source, when it gives them.
	SourceCode string `json:"source_code,omitempty"`
	SourceName string `json:"source_name,omitempty"`
	URL        string `json:"url,omitempty"`
	Author     string `json:"author,omitempty"`
	Title      string `json:"title,omitempty"`
	// TitleFormat says how Title is written: FormatText (plain text, kept
	// as it is, "<i>" included) or FormatHTML (markup and entities are
	// read); empty leaves it to the normalizer to tell.
	TitleFormat string `json:"title_format,omitempty"`
	Body        string `json:"body,omitempty"`
	BodyFormat  string `json:"body_format,omitempty"`
	// Published is the publication time exactly as the source gave it.
	Published  string    `json:"published,omitempty"`
	Updated    string    `json:"updated,omitempty"`
	ObservedAt time.Time `json:"observed_at"`
	// Position is the item's place in the document it was read from, 0 for
	// the first (newest, in a feed); the normalizer keeps that order among
	// items whose published time it cannot read. Absent for 0 and for
	// sources without one.
	Position   int      `json:"position,omitempty"`
	Fetch      *Fetch   `json:"fetch,omitempty"`
	ReplyTo    *Ref     `json:"reply_to,omitempty"`
	ForwardOf  *Ref     `json:"forward_of,omitempty"`
	QuoteOf    *Ref     `json:"quote_of,omitempty"`
	Lang       string   `json:"lang,omitempty"`
	Categories []string `json:"categories,omitempty"`
	Enclosures []string `json:"enclosures,omitempty"`
	Deleted    bool     `json:"deleted,omitempty"`
	// BodyTruncated says the publisher cut Body to fit the bus's max payload.
	BodyTruncated bool       `json:"body_truncated,omitempty"`
	Meta          *PostStats `json:"meta,omitempty"`
}

// Fetch records how a collector got an item.
type Fetch struct {
	URL    string `json:"url,omitempty"`
	Status int    `json:"status,omitempty"`
	ETag   string `json:"etag,omitempty"`
}

// Ref is a platform's own reference to another post (forward, reply, quote).
type Ref struct {
	Kind     string `json:"kind,omitempty"`
	Source   string `json:"source,omitempty"`
	NativeID string `json:"native_id,omitempty"`
	URL      string `json:"url,omitempty"`
}

// PostStats carries platform counters and media facts a collector saw.
type PostStats struct {
	Views     int64  `json:"views,omitempty"`
	MediaType string `json:"media_type,omitempty"`
	EditedAt  string `json:"edited_at,omitempty"`
}

// Entry is a normalized, timestamped, de-duplicated wire entry.
type Entry struct {
	Schema      string            `json:"schema"`
	ID          string            `json:"id"`
	Source      provenance.Source `json:"source"`
	URL         string            `json:"url,omitempty"`
	OriginalURL string            `json:"original_url,omitempty"`
	Headline    string            `json:"headline"`
	Text        string            `json:"text"`
	Lang        string            `json:"lang,omitempty"`
	PublishedAt time.Time         `json:"published_at"`
	ObservedAt  time.Time         `json:"observed_at"`
	// LagSeconds is observed_at − published_at.
	LagSeconds float64 `json:"lag_seconds"`
	// Flags name corrections the normalizer made, e.g. "published_in_future".
	Flags       []string    `json:"flags,omitempty"`
	Fingerprint Fingerprint `json:"fingerprint"`
	DuplicateOf string      `json:"duplicate_of,omitempty"`
	RepostOf    string      `json:"repost_of,omitempty"`
	// QuoteOf is the entry a quote post cites: the quote is its own
	// report (its words are clustered), not a copy of the one it cites.
	QuoteOf   string            `json:"quote_of,omitempty"`
	Withdrawn bool              `json:"withdrawn,omitempty"`
	Raw       provenance.RawRef `json:"raw"`
}

// Fingerprint holds an entry's content fingerprints.
type Fingerprint struct {
	// Exact is the hex SHA-256 of canonical URL and normalized text.
	Exact string `json:"exact"`
	// SimHash is the 64-bit SimHash of the text's word shingles, 16 hex digits.
	SimHash string `json:"simhash"`
}

// Story is a full story snapshot.
type Story struct {
	Schema      string          `json:"schema"`
	ID          string          `json:"id"`
	Version     int64           `json:"version"`
	Status      string          `json:"status"`
	Headline    string          `json:"headline"`
	Brief       []BriefSentence `json:"brief"`
	FirstReport FirstReport     `json:"first_report"`
	Counts      Counts          `json:"counts"`
	Languages   []string        `json:"languages,omitempty"`
	Keywords    []string        `json:"keywords,omitempty"`
	FirstSeen   time.Time       `json:"first_seen"`
	LastUpdated time.Time       `json:"last_updated"`
	MergedInto  string          `json:"merged_into,omitempty"`
	// SplitFrom names the story this one was split off: its reports were
	// that story's until its members showed two events (synth/README.md).
	SplitFrom string `json:"split_from,omitempty"`
	// SingleSource lists figures and quotes only one independent origin carries.
	SingleSource []provenance.Claim  `json:"single_source,omitempty"`
	Truncated    int                 `json:"truncated,omitempty"`
	Provenance   []provenance.Record `json:"provenance"`
}

// Story statuses.
const (
	StatusDeveloping = "developing"
	StatusStale      = "stale"
	StatusMerged     = "merged"
)

// BriefSentence is one extractive sentence of a story's brief with the ids
// of the entries it comes from.
type BriefSentence struct {
	Text  string   `json:"text"`
	Cites []string `json:"cites"`
}

// FirstReport names the earliest entry of a story.
type FirstReport struct {
	EntryID     string    `json:"entry_id"`
	Source      string    `json:"source"`
	URL         string    `json:"url,omitempty"`
	PublishedAt time.Time `json:"published_at"`
	LagSeconds  float64   `json:"lag_seconds"`
	// Trail lists, per later source, how many minutes it trailed the first report.
	Trail []provenance.Trail `json:"trail,omitempty"`
}

// Counts summarise a story's corroboration.
type Counts struct {
	Entries int `json:"entries"`
	Sources int `json:"sources"`
	// Origins counts independent origins: copies, reposts and syndicated
	// reprints of one origin count once.
	Origins int `json:"origins"`
}

// DeadLetter is what a stage records on wire.dlq.<stage> for input that can
// never succeed.
type DeadLetter struct {
	Schema   string    `json:"schema"`
	Stage    string    `json:"stage"`
	Reason   string    `json:"reason"`
	Subject  string    `json:"subject"`
	Stream   string    `json:"stream"`
	Seq      uint64    `json:"seq"`
	MsgID    string    `json:"msg_id,omitempty"`
	At       time.Time `json:"at"`
	Data     string    `json:"data"`
	Truncate bool      `json:"truncated,omitempty"`
}

// Body is the entry's text after its headline when the headline was taken
// from the text (a post without a title: the first sentence, cut at a word
// with "…" when long), else the whole text, so that the headline's words
// are not read twice.
func (e Entry) Body() string {
	if h := strings.TrimSuffix(e.Headline, "…"); h != "" && strings.HasPrefix(e.Text, h) {
		return e.Text[len(h):]
	}
	return e.Text
}

// Ticker renders an entry as a live-wire line, "15:04Z CODE headline".
// Control characters from the source are removed so that they cannot drive
// a terminal.
func (e Entry) Ticker() string {
	return e.PublishedAt.UTC().Format("15:04Z") + " " + printable(e.Source.Code) + " " + printable(e.Headline)
}

func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return -1
		}
		return r
	}, s)
}
