package provenance

import (
	"bytes"
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

func TestQNameEscapesPROVNLocalParts(t *testing.T) {
	for local, want := range map[string]string{
		"entry/e1":                       "nw:entry/e1",
		"raw/rss:bbc:tag:x.org,2024:a=b": `nw:raw/rss\:bbc\:tag\:x.org\,2024\:a\=b`,
		"raw/x;y(1)[2]'z'":               `nw:raw/x\;y\(1\)\[2\]\'z\'`,
		"-lead.trail.":                   `nw:\-lead.trail\.`,
		".":                              `nw:\.`,
		"a b%c\"d\\e<f>":                 "nw:a%20b%25c%22d%5Ce%3Cf%3E",
		"source/новости-24":              "nw:source/новости-24",
		"source/x\u00b7y":                "nw:source/x\u00b7y",
		"\u00b7x":                        "nw:%C2%B7x",
		"tab\there":                      "nw:tab%09here",
		"ok/@~&+*?#$!_9":                 "nw:ok/@~&+*?#$!_9",
	} {
		if got := qname("nw", local); got != want {
			t.Errorf("qname(%q) = %q, want %q", local, got, want)
		}
	}
}

// pnLocal is PROV-N's PN_LOCAL (PROV-N Recommendation, Appendix A),
// written here from the grammar independently of qname: a first character
// from PN_CHARS_U, a digit or PN_CHARS_OTHERS; then PN_CHARS, '.' or
// PN_CHARS_OTHERS; not ending in '.'.
var qualifiedName = func() *regexp.Regexp {
	base := `A-Za-z\x{00C0}-\x{00D6}\x{00D8}-\x{00F6}\x{00F8}-\x{02FF}\x{0370}-\x{037D}\x{037F}-\x{1FFF}\x{200C}-\x{200D}` +
		`\x{2070}-\x{218F}\x{2C00}-\x{2FEF}\x{3001}-\x{D7FF}\x{F900}-\x{FDCF}\x{FDF0}-\x{FFFD}\x{10000}-\x{EFFFF}`
	u := base + `_`
	chars := u + `\-0-9\x{00B7}\x{0300}-\x{036F}\x{203F}-\x{2040}`
	others := `(?:[/@~&+*?#$!]|%[0-9A-Fa-f]{2}|\\[='(),\-:;\[\].])`
	first := `(?:[` + u + `0-9]|` + others + `)`
	mid := `(?:[` + chars + `.]|` + others + `)`
	end := `(?:[` + chars + `]|` + others + `)`
	local := first + `(?:` + mid + `*` + end + `)?`
	prefix := `[` + base + `](?:[` + chars + `.]*[` + chars + `])?`
	return regexp.MustCompile(`^` + prefix + `:` + local + `$`)
}()

// unescapeLocal undoes qname's escapes, to check that an identifier still
// names what it was made from.
func unescapeLocal(qn string) string {
	_, local, _ := strings.Cut(qn, ":")
	var out []byte
	for i := 0; i < len(local); i++ {
		switch c := local[i]; {
		case c == '\\' && i+1 < len(local):
			out = append(out, local[i+1])
			i++
		case c == '%' && i+2 < len(local):
			var b byte
			for _, h := range local[i+1 : i+3] {
				b <<= 4
				switch {
				case h >= '0' && h <= '9':
					b |= byte(h - '0')
				case h >= 'A' && h <= 'F':
					b |= byte(h-'A') + 10
				}
			}
			out = append(out, b)
			i += 2
		default:
			out = append(out, c)
		}
	}
	return string(out)
}

// awkwardRecords have ids with every character class PROV-N treats
// specially: Nats-Msg-Id style colons, Atom tag URIs with commas, base64
// padding, spaces, quotes, a leading dash and a trailing dot.
func awkwardRecords() []Record {
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	return []Record{
		{EntryID: "entry:rss:reuters:tag:reuters.com,2026:newsml_L1N3=", Source: Source{ID: "reuters", Kind: "rss", Code: "REUTERS", Name: "Reuters"},
			URL: "https://reuters.example/a", Headline: "Quake", PublishedAt: t0, ObservedAt: t0.Add(time.Minute), Role: RoleOrigin,
			Raw: RawRef{Stream: "WIRE_RAW", Seq: 1, MsgID: "rss:reuters:tag:reuters.com,2026:newsml_L1N3="}},
		{EntryID: "-dash. (copy) [1]; 'q' \"dq\" 100%", Source: Source{ID: "tg-канал", Kind: "telegram", Code: "TG"},
			PublishedAt: t0.Add(time.Minute), ObservedAt: t0.Add(2 * time.Minute), Role: RoleRepost, Of: "entry:rss:reuters:tag:reuters.com,2026:newsml_L1N3=",
			Raw: RawRef{Stream: "WIRE_RAW", Seq: 2, MsgID: "telegram:tg-канал:42"}},
	}
}

func TestPROVJSONMatchesTheW3CSchema(t *testing.T) {
	f, err := os.Open("testdata/prov-json.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	schemaDoc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft4)
	if err := c.AddResource("prov-json.schema.json", schemaDoc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("prov-json.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	for name, recs := range map[string][]Record{"hostile": hostileRecords(), "awkward ids": awkwardRecords()} {
		var b bytes.Buffer
		if err := PROVJSON(&b, "story:2026-03-01,quake=1", recs); err != nil {
			t.Fatal(err)
		}
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		if err := sch.Validate(inst); err != nil {
			t.Errorf("%s: PROV-JSON output fails the W3C schema: %v\n%s", name, err, b.String())
		}
		checkQualifiedNames(t, name, b.Bytes(), recs)
	}
	// The checks can fail: the schema refuses a misshapen document, the
	// pattern an unescaped id.
	bad, _ := jsonschema.UnmarshalJSON(strings.NewReader(`{"entity": {"nw:e": {"nw:x": {"nested": {}}}}, "wasDerivedFrom": {"_:r1": {"prov:usedEntity": "nw:a"}}}`))
	if sch.Validate(bad) == nil {
		t.Error("the schema accepted a misshapen document")
	}
	if qualifiedName.MatchString("nw:raw/rss:bbc:1,2") {
		t.Error("the PN_LOCAL pattern accepts unescaped ':' and ','")
	}
}

// checkQualifiedNames checks every identifier of the document, and every
// reference to one, against PROV-N's QUALIFIED_NAME, and that the ids
// of the records come back from the escaped names.
func checkQualifiedNames(t *testing.T, name string, data []byte, recs []Record) {
	t.Helper()
	var doc map[string]map[string]map[string]any
	var withPrefix map[string]json.RawMessage
	if err := json.Unmarshal(data, &withPrefix); err != nil {
		t.Fatal(err)
	}
	delete(withPrefix, "prefix")
	rest, _ := json.Marshal(withPrefix)
	if err := json.Unmarshal(rest, &doc); err != nil {
		t.Fatal(err)
	}
	check := func(where, qn string) {
		if !qualifiedName.MatchString(qn) {
			t.Errorf("%s: %s %q is not a PROV-N qualified name", name, where, qn)
		}
	}
	names := map[string]bool{}
	for kind, byID := range doc {
		for id, attrs := range byID {
			if kind == "entity" || kind == "agent" {
				check(kind+" id", id)
				names[unescapeLocal(id)] = true
			} else if !strings.HasPrefix(id, "_:") {
				check(kind+" id", id)
			}
			for k, v := range attrs {
				switch v := v.(type) {
				case string:
					if strings.HasPrefix(k, "prov:") && k != "prov:label" && k != "prov:time" {
						check(kind+" "+k, v)
					}
				case map[string]any:
					if v["type"] == "prov:QUALIFIED_NAME" {
						check(kind+" "+k, v["$"].(string))
					}
				}
			}
		}
	}
	for _, r := range recs {
		for _, want := range []string{"entry/" + r.EntryID, "source/" + r.Source.ID, "raw/" + r.Raw.MsgID} {
			if !names[want] {
				t.Errorf("%s: no identifier names %q after unescaping", name, want)
			}
		}
	}
}
