package provenance

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

func hostileRecords() []Record {
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	return []Record{
		{EntryID: "e1", Source: Source{ID: "bbc", Kind: "rss", Code: "BBC", Name: "BBC"}, URL: "https://bbc.example/a?x=1&y=<2>",
			PublishedURL: "https://www.bbc.example/a?x=1&y=<2>&utm_source=<rss>",
			Headline:     `<script>alert(1)</script> *bold* [link](javascript:x)`, PublishedAt: t0, ObservedAt: t0.Add(time.Minute),
			Role: RoleOrigin, Raw: RawRef{Stream: "WIRE_RAW", Seq: 7, MsgID: "rss:bbc:1"}},
		{EntryID: "e2", Source: Source{ID: "tg", Kind: "telegram", Code: "TG"}, URL: "javascript:alert(1)", PublishedURL: "javascript:alert(2)",
			Headline: "Repost", PublishedAt: t0.Add(5 * time.Minute), ObservedAt: t0.Add(6 * time.Minute),
			Role: RoleRepost, Of: "e1", Withdrawn: true, Raw: RawRef{Stream: "WIRE_RAW", Seq: 8, MsgID: "telegram:tg:2"}},
	}
}

func TestHTMLEscapesSourceText(t *testing.T) {
	var b bytes.Buffer
	if err := HTML(&b, hostileRecords()); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, bad := range []string{"<script>", `href="javascript:`, "<2>"} {
		if strings.Contains(out, bad) {
			t.Errorf("HTML output contains %q:\n%s", bad, out)
		}
	}
	if !strings.Contains(out, "&lt;script&gt;") || !strings.Contains(out, "withdrawn") {
		t.Errorf("HTML output lost escaped text or the withdrawn mark:\n%s", out)
	}
}

// Items are numbered: id="p<n>" for citations to link to, the number and
// entry id shown, and a copy's "of" links to the item it copies.
func TestHTMLNumbersItems(t *testing.T) {
	recs := hostileRecords()
	recs[0].URL = "https://bbc.example/" + strings.Repeat("long-path-", 12)
	var b bytes.Buffer
	if err := HTML(&b, recs); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{`<li id="p1" class="role-origin" data-entry="e1">`, `<li id="p2" class="role-repost" data-entry="e2">`,
		`#1 · e1`, `#2 · e2`, ` of <a href="#p1">1</a>`, `href="` + recs[0].URL + `"`, `>bbc.example/long-path-long-path-long-path-long-path-long-pa…</a>`} {
		if !strings.Contains(out, want) {
			t.Errorf("HTML lacks %q:\n%s", want, out)
		}
	}
}

// A folded list keeps every item, its id, number and "of" link across
// folds, lists the first Shown of each run and folds the rest, and
// escapes what came from sources, labels included.
func TestHTMLFoldedKeepsNumbersAcrossFolds(t *testing.T) {
	var recs []Record
	for range 4 {
		recs = append(recs, hostileRecords()...)
	}
	for i := range recs {
		recs[i].EntryID = fmt.Sprintf("e%d", i+1)
	}
	recs[len(recs)-1].Of = "e1"
	var b bytes.Buffer
	folds := []Fold{{Label: "Within the hour", Start: 0, End: 3, Shown: 2}, {Label: "<b>later</b>", Start: 3, End: len(recs), Shown: 1}}
	if err := HTMLFolded(&b, recs, folds); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for i := range recs {
		if want := fmt.Sprintf(`<li id="p%d" `, i+1); strings.Count(out, want) != 1 {
			t.Errorf("item %d appears %d times", i+1, strings.Count(out, want))
		}
	}
	for _, want := range []string{`<h4>Within the hour (3)</h4><ol start="1"><li id="p1"`, `<details class="more"><summary>1 more, #3–#3</summary><ol start="3"><li id="p3"`,
		`<h4>&lt;b&gt;later&lt;/b&gt; (` + fmt.Sprint(len(recs)-3) + `)</h4><ol start="4"><li id="p4"`, `<ol start="5"><li id="p5"`, ` of <a href="#p1">1</a>`} {
		if !strings.Contains(out, want) {
			t.Errorf("folded HTML lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "<script>") || strings.Contains(out, "<b>later") {
		t.Errorf("folded HTML not escaped:\n%s", out)
	}
}

func TestMarkdownEscapesSourceText(t *testing.T) {
	var b bytes.Buffer
	if err := Markdown(&b, hostileRecords()); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if strings.Contains(out, "<script>") || strings.Contains(out, "[link](") || strings.Contains(out, "*bold*") {
		t.Errorf("markdown not escaped:\n%s", out)
	}
	if !strings.Contains(out, "### Wire provenance") || !strings.Contains(out, "(withdrawn)") {
		t.Errorf("markdown block incomplete:\n%s", out)
	}
}

func TestPROVJSON(t *testing.T) {
	var b bytes.Buffer
	if err := PROVJSON(&b, "s1", hostileRecords()); err != nil {
		t.Fatal(err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b.Bytes(), &raw); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	if !strings.Contains(string(raw["prefix"]), "http://www.w3.org/ns/prov#") {
		t.Errorf("prov prefix missing: %s", raw["prefix"])
	}
	delete(raw, "prefix")
	rest, _ := json.Marshal(raw)
	var doc map[string]map[string]map[string]any
	if err := json.Unmarshal(rest, &doc); err != nil {
		t.Fatalf("not JSON of the PROV-JSON shape: %v\n%s", err, b.String())
	}
	for _, id := range []string{"nw:story/s1", "nw:entry/e1", "nw:entry/e2", `nw:raw/rss\:bbc\:1`} {
		if _, ok := doc["entity"][id]; !ok {
			t.Errorf("entity %s missing", id)
		}
	}
	if _, ok := doc["agent"]["nw:source/bbc"]; !ok {
		t.Error("agent for source bbc missing")
	}
	if len(doc["hadMember"]) != 2 || len(doc["wasAttributedTo"]) != 2 || len(doc["wasGeneratedBy"]) != 2 {
		t.Errorf("relations: hadMember %d wasAttributedTo %d wasGeneratedBy %d, want 2 each",
			len(doc["hadMember"]), len(doc["wasAttributedTo"]), len(doc["wasGeneratedBy"]))
	}
	quotation := false
	for _, rel := range doc["wasDerivedFrom"] {
		if rel["prov:usedEntity"] == "nw:entry/e1" && rel["prov:generatedEntity"] == "nw:entry/e2" {
			quotation = true
		}
	}
	if !quotation || len(doc["wasDerivedFrom"]) != 3 {
		t.Errorf("wasDerivedFrom: want raw links for both entries and e2 quoting e1, got %v", doc["wasDerivedFrom"])
	}
	if e2 := doc["entity"]["nw:entry/e2"]; e2["nw:withdrawn"] != true {
		t.Errorf("withdrawn entry not marked: %v", e2)
	}
}

func TestMarkdownLinksOnlyWebURLs(t *testing.T) {
	var b strings.Builder
	recs := []Record{{EntryID: "e1", Source: Source{Code: "X"}, URL: "javascript:alert(1)", Role: RoleOrigin}}
	if err := Markdown(&b, recs); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "<javascript:") || !strings.Contains(b.String(), "(javascript:alert(1))") {
		t.Errorf("markdown = %q", b.String())
	}
}

// TestPublishedURLShown: where the source published another link than the
// canonical one, every rendering shows it, escaped like the URL.
func TestPublishedURLShown(t *testing.T) {
	recs := hostileRecords()
	var md, h, js bytes.Buffer
	if err := Markdown(&md, recs); err != nil {
		t.Fatal(err)
	}
	if err := HTML(&h, recs); err != nil {
		t.Fatal(err)
	}
	if err := JSON(&js, recs); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md.String(), "(published as <https://www.bbc.example/a?x=1&y=%3C2%3E&utm_source=%3Crss%3E>)") {
		t.Errorf("markdown lacks the published URL:\n%s", md.String())
	}
	if !strings.Contains(h.String(), `published as <a href="https://www.bbc.example/a?x=1&amp;y=&lt;2&gt;&amp;utm_source=&lt;rss&gt;"`) ||
		strings.Contains(h.String(), `href="javascript:alert(2)`) {
		t.Errorf("HTML published URL wrong:\n%s", h.String())
	}
	var back []Record
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || back[0].PublishedURL != recs[0].PublishedURL {
		t.Errorf("JSON lost published_url: %v %+v", err, back)
	}
	recs[0].PublishedURL = ""
	md.Reset()
	if err := Markdown(&md, recs[:1]); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(md.String(), "published as") {
		t.Errorf("published URL shown though it is the canonical one:\n%s", md.String())
	}
}
