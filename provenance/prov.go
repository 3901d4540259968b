package provenance

import (
	"encoding/json"
	"fmt"
	"io"
	"time"
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
// Identifiers are qualified names in the "nw" namespace, so the document
// needs no escaping beyond JSON's own.
func PROVJSON(w io.Writer, storyID string, recs []Record) error {
	doc := provDoc{
		Prefix: map[string]string{"prov": provNamespace, "nw": newswireNamespace, "xsd": "http://www.w3.org/2001/XMLSchema#"},
		Entity: map[string]map[string]any{},
		Agent:  map[string]map[string]any{},
	}
	story := "nw:story/" + storyID
	doc.Entity[story] = map[string]any{"prov:type": typed("prov:Collection", "prov:QUALIFIED_NAME")}
	for i, r := range recs {
		entry := "nw:entry/" + r.EntryID
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
		agent := "nw:source/" + r.Source.ID
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
			raw := "nw:raw/" + r.Raw.MsgID
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
				"prov:usedEntity":      "nw:entry/" + r.Of,
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
