// Package provenance is the model of a story's provenance list — every
// public post a story draws on, earliest first, with where each copy came
// from — and the renderers that turn such a list into Markdown, HTML and JSON.
package provenance

import (
	"sort"
	"time"
)

// Role says what an entry contributes to a story.
type Role string

const (
	// RoleOrigin is an independent report: the earliest entry of its own
	// content, not a copy or repost of anything else in the story.
	RoleOrigin Role = "origin"
	// RoleCorroboration is an independent report that arrived after the
	// story's first origin: another source saying the same thing in its own words.
	RoleCorroboration Role = "corroboration"
	// RoleRepost is a platform-level forward, retweet, boost or quote of another entry.
	RoleRepost Role = "repost"
	// RoleDuplicate is a copy (syndicated or near-identical text) of another entry.
	RoleDuplicate Role = "duplicate"
)

// Source identifies where an entry was published.
type Source struct {
	ID   string `json:"id"`
	Kind string `json:"kind"`
	Code string `json:"code"`
	Name string `json:"name,omitempty"`
}

// RawRef points at the raw message an entry was made from: the first link
// of the provenance chain.
type RawRef struct {
	Stream string `json:"stream"`
	Seq    uint64 `json:"seq"`
	MsgID  string `json:"msg_id"`
}

// Record is one line of a provenance list. It is compact on purpose: a
// story snapshot carries one record per entry and must fit the bus's max payload.
type Record struct {
	EntryID string `json:"entry_id"`
	Source  Source `json:"source"`
	URL     string `json:"url,omitempty"`
	// PublishedURL is the link as the source published it, when it is not
	// the canonical URL (tracking parameters, a redirector, a mobile host):
	// what a reader finds in the source itself.
	PublishedURL string    `json:"published_url,omitempty"`
	Headline     string    `json:"headline,omitempty"`
	PublishedAt  time.Time `json:"published_at"`
	ObservedAt   time.Time `json:"observed_at"`
	Role         Role      `json:"role"`
	// Of is the entry this one copies or reposts (for duplicate and repost roles).
	Of        string `json:"of,omitempty"`
	Raw       RawRef `json:"raw"`
	Withdrawn bool   `json:"withdrawn,omitempty"`
}

// Sort orders records earliest first by published time, then observed time,
// then entry id so that the order is deterministic.
func Sort(recs []Record) {
	sort.SliceStable(recs, func(i, j int) bool { return Less(recs[i], recs[j]) })
}

// Less reports whether a comes before b in a provenance list.
func Less(a, b Record) bool {
	if !a.PublishedAt.Equal(b.PublishedAt) {
		return a.PublishedAt.Before(b.PublishedAt)
	}
	if !a.ObservedAt.Equal(b.ObservedAt) {
		return a.ObservedAt.Before(b.ObservedAt)
	}
	return a.EntryID < b.EntryID
}

// Trail says how long after a story's first report a source first carried
// it: the "who said it first" line of a story page.
type Trail struct {
	Source      string    `json:"source"`
	EntryID     string    `json:"entry_id"`
	PublishedAt time.Time `json:"published_at"`
	// Minutes is how long this source trailed the first report.
	Minutes float64 `json:"minutes"`
}

// Claim kinds.
const (
	ClaimNumber = "number"
	ClaimQuote  = "quote"
)

// Claim is a figure or quoted statement that only one independent origin
// carries, so that an editor sees what is not yet corroborated.
type Claim struct {
	Kind    string `json:"kind"`
	Text    string `json:"text"`
	EntryID string `json:"entry_id"`
	Source  string `json:"source"`
	// Context is the sentence the claim appears in (cut around it when
	// long), so that a reader sees what the figure or quote is about.
	Context string `json:"context,omitempty"`
}
