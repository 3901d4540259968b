package provenance

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"
)

// PROV-JSON (W3C Member Submission "PROV-JSON", 2013) namespaces used in
// the documents this package writes.
const (
	provNamespace     = "http://www.w3.org/ns/prov#"
	newswireNamespace = "https://newswire.dev/ns/prov#"
)

// PROVJSON writes a story's provenance list as a W3C PROV-JSON document so
// that provenance tools can import the chain: the story is a collection
// (prov:Collection) whose members are the entries; each entry is an entity
// attributed to its source (an agent) and derived from the raw message it
// was made from; a repost or duplicate is derived from the entry it copies
// (typed prov:Quotation); publication times are the prov:time of each entry's generation.
// Identifiers are qualified names in the "nw" namespace whose local parts
// are escaped as PROV-N requires (qname): message ids such as
// "rss:src:tag:x,2024" carry ':', ',' and '=' that a PROV-N reader would
// otherwise take for syntax.
func PROVJSON(w io.Writer, storyID string, recs []Record) error {
	doc := provDoc{
		Prefix: map[string]string{"prov": provNamespace, "nw": newswireNamespace, "xsd": "http://www.w3.org/2001/XMLSchema#"},
		Entity: map[string]map[string]any{},
		Agent:  map[string]map[string]any{},
	}
	story := qname("nw", "story/"+storyID)
	doc.Entity[story] = map[string]any{"prov:type": typed("prov:Collection", "prov:QUALIFIED_NAME")}
	for i, r := range recs {
		entry := qname("nw", "entry/"+r.EntryID)
		attrs := map[string]any{
			"prov:type":             typed("nw:Entry", "prov:QUALIFIED_NAME"),
			"nw:role":               string(r.Role),
			"nw:observedAt":         typed(r.ObservedAt.UTC().Format(time.RFC3339Nano), "xsd:dateTime"),
			"nw:withdrawn":          r.Withdrawn,
			"nw:sourceCode":         r.Source.Code,
			"nw:sourceKind":         r.Source.Kind,
			"nw:provenanceListRank": i + 1,
		}
		if r.URL != "" {
			attrs["prov:location"] = typed(r.URL, "xsd:anyURI")
		}
		if r.PublishedURL != "" {
			attrs["nw:publishedLocation"] = typed(r.PublishedURL, "xsd:anyURI")
		}
		if r.Headline != "" {
			attrs["prov:label"] = r.Headline
		}
		doc.Entity[entry] = attrs
		agent := qname("nw", "source/"+r.Source.ID)
		if _, ok := doc.Agent[agent]; !ok {
			a := map[string]any{"prov:type": typed("prov:Organization", "prov:QUALIFIED_NAME"), "nw:kind": r.Source.Kind, "nw:code": r.Source.Code}
			if r.Source.Name != "" {
				a["prov:label"] = r.Source.Name
			}
			doc.Agent[agent] = a
		}
		doc.add(&doc.WasGeneratedBy, map[string]any{"prov:entity": entry, "prov:time": r.PublishedAt.UTC().Format(time.RFC3339Nano)})
		doc.add(&doc.WasAttributedTo, map[string]any{"prov:entity": entry, "prov:agent": agent})
		doc.add(&doc.HadMember, map[string]any{"prov:collection": story, "prov:entity": entry})
		if r.Raw.MsgID != "" {
			raw := qname("nw", "raw/"+r.Raw.MsgID)
			doc.Entity[raw] = map[string]any{
				"prov:type": typed("nw:RawItem", "prov:QUALIFIED_NAME"),
				"nw:stream": r.Raw.Stream,
				"nw:seq":    r.Raw.Seq,
			}
			doc.add(&doc.WasDerivedFrom, map[string]any{"prov:generatedEntity": entry, "prov:usedEntity": raw})
		}
		if r.Of != "" {
			doc.add(&doc.WasDerivedFrom, map[string]any{
				"prov:generatedEntity": entry,
				"prov:usedEntity":      qname("nw", "entry/"+r.Of),
				"prov:type":            typed("prov:Quotation", "prov:QUALIFIED_NAME"),
			})
		}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("provenance: write prov-json: %w", err)
	}
	return nil
}

type provDoc struct {
	Prefix          map[string]string         `json:"prefix"`
	Entity          map[string]map[string]any `json:"entity"`
	Agent           map[string]map[string]any `json:"agent,omitempty"`
	WasGeneratedBy  map[string]map[string]any `json:"wasGeneratedBy,omitempty"`
	WasAttributedTo map[string]map[string]any `json:"wasAttributedTo,omitempty"`
	WasDerivedFrom  map[string]map[string]any `json:"wasDerivedFrom,omitempty"`
	HadMember       map[string]map[string]any `json:"hadMember,omitempty"`
	n               int
}

// add stores a relation under a fresh blank-node identifier: PROV-JSON
// keys every relation by an id, and relations here have no natural one.
func (d *provDoc) add(rel *map[string]map[string]any, attrs map[string]any) {
	if *rel == nil {
		*rel = map[string]map[string]any{}
	}
	d.n++
	(*rel)[fmt.Sprintf("_:r%d", d.n)] = attrs
}

func typed(v, typ string) map[string]string { return map[string]string{"$": v, "type": typ} }

// qname writes prefix:local with local escaped to the PROV-N grammar's
// PN_LOCAL (PROV-N §A, productions PN_LOCAL, PN_CHARS_OTHERS,
// PN_CHARS_ESC and PERCENT): the characters PN_CHARS_ESC lists are
// backslash-escaped where the grammar does not allow them bare ('-' and
// '.' are allowed inside a name, ':' ',' '=' ';' '(' ')' '[' ']' and '\”
// nowhere); any other character a local name cannot hold (space, '%',
// '"', '\\', '<', '>', control characters, …) is percent-encoded as the
// bytes of its UTF-8.
func qname(prefix, local string) string {
	var b strings.Builder
	b.Grow(len(prefix) + 1 + len(local))
	b.WriteString(prefix)
	b.WriteByte(':')
	runes := []rune(local)
	last := len(runes) - 1
	for i, r := range runes {
		switch {
		case pnCharsU(r), r >= '0' && r <= '9', strings.ContainsRune("/@~&+*?#$!", r):
			b.WriteRune(r)
		case r == '-' || r == 0xB7 || r >= 0x300 && r <= 0x36F || r >= 0x203F && r <= 0x2040:
			// PN_CHARS beyond PN_CHARS_U: not allowed first.
			if i > 0 {
				b.WriteRune(r)
			} else if r == '-' {
				b.WriteString(`\-`)
			} else {
				percentEncode(&b, r)
			}
		case r == '.':
			if i > 0 && i < last {
				b.WriteRune(r)
			} else {
				b.WriteString(`\.`)
			}
		case strings.ContainsRune("='(),:;[]", r):
			b.WriteByte('\\')
			b.WriteRune(r)
		default:
			percentEncode(&b, r)
		}
	}
	return b.String()
}

// pnCharsU is PROV-N's PN_CHARS_U: PN_CHARS_BASE or '_'.
func pnCharsU(r rune) bool {
	switch {
	case r == '_', r >= 'A' && r <= 'Z', r >= 'a' && r <= 'z':
		return true
	case r >= 0xC0 && r <= 0xD6, r >= 0xD8 && r <= 0xF6, r >= 0xF8 && r <= 0x2FF,
		r >= 0x370 && r <= 0x37D, r >= 0x37F && r <= 0x1FFF, r >= 0x200C && r <= 0x200D,
		r >= 0x2070 && r <= 0x218F, r >= 0x2C00 && r <= 0x2FEF, r >= 0x3001 && r <= 0xD7FF,
		r >= 0xF900 && r <= 0xFDCF, r >= 0xFDF0 && r <= 0xFFFD, r >= 0x10000 && r <= 0xEFFFF:
		return true
	}
	return false
}

func percentEncode(b *strings.Builder, r rune) {
	if r == utf8.RuneError {
		r = 0xFFFD // invalid UTF-8 in an id is written as U+FFFD's bytes
	}
	var buf [utf8.UTFMax]byte
	for _, c := range buf[:utf8.EncodeRune(buf[:], r)] {
		fmt.Fprintf(b, "%%%02X", c)
	}
}
