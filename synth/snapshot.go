package synth

import (
	"math"
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/newswire/newswire/provenance"
	sentences "github.com/newswire/newswire/sentence"
	"github.com/newswire/newswire/wire"
)

// Limits of what a snapshot carries beyond the provenance list, so that a
// big story's snapshot stays small and cheap to build.
const (
	briefSentences   = 3
	briefCandidates  = 64  // earliest independent members whose sentences compete for the brief
	citeSimilarity   = 0.5 // cosine at which a member's sentence supports a brief sentence
	briefRedundancy  = 0.3 // MMR weight of redundancy against centrality
	maxTrail         = 100
	maxSingleSource  = 20
	headlineCredible = 0.25 // an origin's title names the story from this share of the most central one's similarity
	minQuoteRunes    = 12
	maxSentenceRunes = 400
)

// Snapshot builds the full snapshot of a story and advances its version.
// ok is false for an unknown id.
func (c *Clusterer) Snapshot(id string) (wire.Story, bool) {
	s, ok := c.stories[id]
	if !ok {
		return wire.Story{}, false
	}
	s.version++
	return c.build(s), true
}

func (c *Clusterer) build(s *story) wire.Story {
	members := make([]member, len(s.members))
	copy(members, s.members)
	sort.SliceStable(members, func(i, j int) bool {
		return provenance.Less(record(members[i].entry), record(members[j].entry))
	})
	recs := make([]provenance.Record, 0, len(members))
	sources := make(map[string]bool)
	langs := make(map[string]bool)
	live := make([]*member, 0, len(members))    // not withdrawn
	origins := make([]*member, 0, len(members)) // independent and not withdrawn
	// originSources are the sources that carry an independent report: five
	// posts of one channel are one voice, not five corroborations.
	originSources := make(map[string]bool)
	haveOrigin := false
	entries := 0
	for i := range members {
		m := &members[i]
		e := m.entry
		r := record(e)
		switch {
		case e.RepostOf != "":
			r.Role, r.Of = provenance.RoleRepost, e.RepostOf
		case e.DuplicateOf != "":
			r.Role, r.Of = provenance.RoleDuplicate, e.DuplicateOf
		case !haveOrigin && !e.Withdrawn:
			r.Role, haveOrigin = provenance.RoleOrigin, true
		default:
			r.Role = provenance.RoleCorroboration
		}
		recs = append(recs, r)
		if e.Withdrawn {
			continue
		}
		entries++
		live = append(live, m)
		if r.Role == provenance.RoleOrigin || r.Role == provenance.RoleCorroboration {
			origins = append(origins, m)
			originSources[e.Source.ID] = true
		}
		sources[e.Source.ID] = true
		if e.Lang != "" {
			// one language whatever the region: "en-GB" and "en-US" are "en"
			langs[primaryLanguage(e.Lang)] = true
		}
	}
	st := wire.Story{
		Schema:      wire.SchemaStory,
		ID:          s.id,
		Version:     s.version,
		Status:      wire.StatusDeveloping,
		FirstSeen:   s.first,
		LastUpdated: s.last,
		Keywords:    c.keywords(s, 8),
		Counts:      wire.Counts{Entries: entries, Sources: len(sources), Origins: len(originSources)},
		Brief:       []wire.BriefSentence{},
	}
	if !s.active {
		st.Status = wire.StatusStale
	}
	if s.mergedInto != "" {
		st.Status, st.MergedInto = wire.StatusMerged, s.mergedInto
	}
	st.SplitFrom = s.splitFrom
	for l := range langs {
		st.Languages = append(st.Languages, l)
	}
	sort.Strings(st.Languages)
	centroid := c.unitCentroid(s)
	vectors := make(textVectors)
	switch {
	case len(origins) > 0:
		st.Headline = c.headline(origins, centroid, vectors)
	case len(live) > 0:
		st.Headline = live[0].entry.Headline
	case len(members) > 0:
		st.Headline = members[0].entry.Headline
	}
	if len(live) > 0 {
		st.Brief = c.brief(origins, live, centroid, vectors)
		st.FirstReport = firstReport(live)
		st.SingleSource = singleSource(origins, live)
	}
	if len(recs) > c.cfg.MaxProvenance {
		st.Truncated = len(recs) - c.cfg.MaxProvenance
		recs = recs[:c.cfg.MaxProvenance]
	}
	st.Provenance = recs
	return st
}

// publishedURL is the link the source published when it is not the
// entry's canonical URL.
func publishedURL(e wire.Entry) string {
	if p := strings.TrimSpace(e.OriginalURL); p != e.URL {
		return p
	}
	return ""
}

func record(e wire.Entry) provenance.Record {
	r := provenance.Record{
		EntryID:     e.ID,
		Source:      e.Source,
		URL:         e.URL,
		Headline:    e.Headline,
		PublishedAt: e.PublishedAt.UTC(),
		ObservedAt:  e.ObservedAt.UTC(),
		Raw:         e.Raw,
		Withdrawn:   e.Withdrawn,
	}
	r.PublishedURL = publishedURL(e) // the link as published, next to the canonical one
	return r
}

func (c *Clusterer) unitCentroid(s *story) map[string]float64 {
	out := make(map[string]float64, len(s.cw))
	if s.norm2 <= 0 {
		return out
	}
	inv := 1 / math.Sqrt(s.norm2)
	for i, t := range s.ct {
		out[t] = s.cw[i] * inv
	}
	return out
}

// textVectors holds the vectors one snapshot has computed, by language
// and text: syndicated copies and reposts repeat their sentences, and the
// headline, the brief's candidates and its citations look at the same
// sentences. A vector depends on the text and on the frequencies, which do
// not change while a snapshot is built, so a held one is the one
// textVector would compute again.
type textVectors map[[2]string][]term

func (c *Clusterer) heldVector(held textVectors, lang, text string) []term {
	k := [2]string{lang, text}
	v, ok := held[k]
	if !ok {
		v = c.textVector(lang, text)
		held[k] = v
	}
	return v
}

// textVector is the unit TF-IDF vector of a piece of text in language lang under the
// current document frequencies, sorted by term.
func (c *Clusterer) textVector(lang, text string) []term {
	counts := c.sentenceTerms(lang, text)
	docs := c.docs.value(c.clock, c.cfg.DFHalfLife)
	vec := make([]term, 0, len(counts))
	for _, tc := range counts {
		df := 0.0
		if d, ok := c.df[tc.t]; ok {
			df = d.value(c.clock, c.cfg.DFHalfLife)
		}
		w := (1 + math.Log(tc.f)) * (math.Log((docs+1)/(df+1)) + 1)
		vec = append(vec, term{h: tc.h, t: tc.t, w: w})
	}
	sortTerms(vec)
	unitLength(vec)
	return vec
}

// termCount is a term of a sentence, its hash and how often it occurs.
type termCount struct {
	t string
	h uint64
	f float64
}

// maxSentenceCache bounds the sentences whose terms the clusterer keeps
// between snapshots; past it the cache starts again empty.
const maxSentenceCache = 1 << 16

// sentenceTerms tokenizes a sentence once for all snapshots: a story's
// members are the same from one snapshot to the next, and only the
// frequencies that weight their terms change. The terms of a text depend
// on nothing but the language and the text, so a kept list is the one
// tokenize would return again.
func (c *Clusterer) sentenceTerms(lang, text string) []termCount {
	k := [2]string{lang, text}
	if tc, ok := c.sentences[k]; ok {
		return tc
	}
	toks, _ := tokenize(c.stems, lang, text, 0, nil)
	counts := make(map[string]float64, len(toks))
	for _, t := range toks {
		counts[t.term]++
	}
	tc := make([]termCount, 0, len(counts))
	for t, f := range counts {
		tc = append(tc, termCount{t: t, h: hashTerm(t), f: f})
	}
	if c.sentences == nil || len(c.sentences) >= maxSentenceCache {
		c.sentences = make(map[[2]string][]termCount)
	}
	c.sentences[k] = tc
	return tc
}

func dotMap(v []term, m map[string]float64) float64 {
	var d float64
	for _, x := range v {
		d += x.w * m[x.t]
	}
	return d
}

func dotVec(a, b []term) float64 {
	var d float64
	for i, j := 0, 0; i < len(a) && j < len(b); {
		switch {
		case a[i].h == b[j].h && a[i].t == b[j].t:
			d += a[i].w * b[j].w
			i++
			j++
		case termLess(a[i], b[j]):
			i++
		default:
			j++
		}
	}
	return d
}

// headline is the title of the earliest credible origin: the first
// independent report whose headline is on the story's topic (at least
// headlineCredible of the most central origin's similarity to the centroid,
// or any when none is). The first report names the story, not a later
// rewrite; reposts and copies never compete.
func (c *Clusterer) headline(origins []*member, centroid map[string]float64, held textVectors) string {
	limit := min(len(origins), briefCandidates)
	scores := make([]float64, limit)
	best := 0.0
	for i := range limit {
		if strings.TrimSpace(origins[i].entry.Headline) == "" {
			continue
		}
		scores[i] = dotMap(c.heldVector(held, origins[i].entry.Lang, origins[i].entry.Headline), centroid)
		best = max(best, scores[i])
	}
	for i := range limit {
		if strings.TrimSpace(origins[i].entry.Headline) != "" && scores[i] >= headlineCredible*best {
			return origins[i].entry.Headline
		}
	}
	return origins[0].entry.Headline
}

type sentence struct {
	text  string
	vec   []term
	entry string
}

// brief picks up to three extractive sentences by maximal marginal
// relevance: each is the candidate most central to the story (cosine with
// the centroid) least like the sentences already chosen. Every sentence
// cites each live entry that carries a sentence close to it, so a reader
// can check every claim against its sources.
func (c *Clusterer) brief(origins, live []*member, centroid map[string]float64, held textVectors) []wire.BriefSentence {
	pool := origins
	if len(pool) == 0 {
		pool = live
	}
	var cands []sentence
	seen := make(map[string]bool)
	for _, m := range pool[:min(len(pool), briefCandidates)] {
		for _, text := range memberSentences(m.entry) {
			key := strings.ToLower(text)
			if seen[key] {
				continue
			}
			seen[key] = true
			v := c.heldVector(held, m.entry.Lang, text)
			if len(v) == 0 {
				continue
			}
			cands = append(cands, sentence{text: text, vec: v, entry: m.entry.ID})
		}
	}
	cent := make([]float64, len(cands))
	for i := range cands {
		cent[i] = dotMap(cands[i].vec, centroid)
	}
	var chosen []int
	used := make([]bool, len(cands))
	for len(chosen) < briefSentences {
		pick, pickScore := -1, math.Inf(-1)
		for i := range cands {
			if used[i] {
				continue
			}
			redundancy := 0.0
			for _, j := range chosen {
				redundancy = max(redundancy, dotVec(cands[i].vec, cands[j].vec))
			}
			if redundancy >= citeSimilarity {
				continue // says what a chosen sentence already says
			}
			score := (1-briefRedundancy)*cent[i] - briefRedundancy*redundancy
			if score > pickScore {
				pick, pickScore = i, score
			}
		}
		if pick < 0 || (len(chosen) > 0 && cent[pick] <= 0) {
			break
		}
		used[pick] = true
		chosen = append(chosen, pick)
	}
	out := make([]wire.BriefSentence, 0, len(chosen))
	var liveSentences [][]term
	var liveOwner []string
	for _, m := range live {
		for _, text := range memberSentences(m.entry) {
			liveSentences = append(liveSentences, c.heldVector(held, m.entry.Lang, text))
			liveOwner = append(liveOwner, m.entry.ID)
		}
	}
	for _, i := range chosen {
		cites := []string{cands[i].entry}
		cited := map[string]bool{cands[i].entry: true}
		for k, v := range liveSentences {
			if !cited[liveOwner[k]] && dotVec(cands[i].vec, v) >= citeSimilarity {
				cited[liveOwner[k]] = true
				cites = append(cites, liveOwner[k])
			}
		}
		out = append(out, wire.BriefSentence{Text: cands[i].text, Cites: cites})
	}
	return out
}

// memberSentences are the headline and the sentences of the text snippet,
// without a text that only repeats the headline and without a cut-off last
// sentence of the snippet.
func memberSentences(e wire.Entry) []string {
	out := []string{}
	if h := strings.TrimSpace(e.Headline); h != "" {
		out = append(out, h)
	}
	body := strings.TrimSpace(strings.TrimPrefix(e.Text, e.Headline))
	parts := splitSentences(body)
	for i, p := range parts {
		last := i == len(parts)-1
		if last && len(e.Text) >= 600 {
			break // the snippet cut this one short
		}
		if utf8.RuneCountInString(p) < 20 || utf8.RuneCountInString(p) > maxSentenceRunes {
			continue
		}
		out = append(out, p)
	}
	return out
}

// splitSentences splits a brief's source text; package sentence keeps
// abbreviations, initials and numbers ("U.S.", "J. Smith", "No. 5") whole.
func splitSentences(text string) []string { return sentences.Split(text) }

// firstReport is the earliest live entry, and how many minutes each later
// source trailed it.
func firstReport(live []*member) wire.FirstReport {
	e := live[0].entry
	fr := wire.FirstReport{EntryID: e.ID, Source: e.Source.Code, URL: e.URL, PublishedAt: e.PublishedAt.UTC(), LagSeconds: e.LagSeconds}
	seen := map[string]bool{e.Source.ID: true}
	for _, m := range live[1:] {
		x := m.entry
		if seen[x.Source.ID] {
			continue
		}
		seen[x.Source.ID] = true
		if len(fr.Trail) == maxTrail {
			break
		}
		mins := x.PublishedAt.Sub(e.PublishedAt).Minutes()
		fr.Trail = append(fr.Trail, provenance.Trail{
			Source: x.Source.Code, EntryID: x.ID, PublishedAt: x.PublishedAt.UTC(),
			Minutes: math.Round(max(mins, 0)*10) / 10,
		})
	}
	return fr
}

// singleSource lists numbers and quotations that appear in exactly one
// independent origin (its copies and reposts do not corroborate it).
func singleSource(origins, live []*member) []provenance.Claim {
	if len(origins) == 0 {
		return nil
	}
	type claimAt struct {
		claim provenance.Claim
		key   string
	}
	var all []claimAt
	support := make(map[string]map[string]bool) // claim key → origin entry ids
	listed := make(map[string]bool)
	originOf := make(map[string]string) // entry id → the origin it copies
	for _, m := range origins {
		originOf[m.entry.ID] = m.entry.ID
	}
	for _, m := range live {
		e := m.entry
		if o := firstNonEmpty(e.DuplicateOf, e.RepostOf); o != "" {
			if root, ok := originOf[o]; ok {
				originOf[e.ID] = root
			} else {
				originOf[e.ID] = o
			}
		}
	}
	for _, m := range live {
		e := m.entry
		root := originOf[e.ID]
		for _, cl := range claims(e.Headline + "\n" + e.Text) {
			if support[cl.key] == nil {
				support[cl.key] = make(map[string]bool)
			}
			if root == e.ID && !listed[cl.key] {
				listed[cl.key] = true
				all = append(all, claimAt{provenance.Claim{Kind: cl.kind, Text: cl.text, EntryID: e.ID, Source: e.Source.Code,
					Context: claimContext(e, cl.text)}, cl.key})
			}
			support[cl.key][root] = true
		}
	}
	var out []provenance.Claim
	for _, x := range all {
		if len(support[x.key]) == 1 {
			out = append(out, x.claim)
			if len(out) == maxSingleSource {
				break
			}
		}
	}
	return out
}

type claim struct{ kind, text, key string }

// maxContextRunes bounds the sentence a claim is shown in.
const maxContextRunes = 240

// claimContext is the sentence of e that holds text, so that a figure is
// read in its sentence ("25 people were injured"), not bare; a long
// sentence is cut around the figure, marked with "…".
func claimContext(e wire.Entry, text string) string {
	for _, s := range append([]string{e.Headline}, splitSentences(e.Text)...) {
		if !strings.Contains(s, text) {
			continue
		}
		runes := []rune(s)
		if len(runes) <= maxContextRunes {
			return s
		}
		at := utf8.RuneCountInString(s[:strings.Index(s, text)])
		from := max(0, at-maxContextRunes/2)
		to := min(len(runes), from+maxContextRunes)
		from = max(0, to-maxContextRunes)
		out := strings.TrimSpace(string(runes[from:to]))
		if from > 0 {
			out = "…" + out
		}
		if to < len(runes) {
			out += "…"
		}
		return out
	}
	return ""
}

// clockEnd returns where a time of day that starts with the digits
// runes[i:j] ends ("7:30", "19:17", "19:17:05"), or j when they do not
// start one.
func clockEnd(runes []rune, i, j int) int {
	if j-i > 2 {
		return j
	}
	end := j
	for range 2 { // minutes, then seconds
		if end+2 >= len(runes) || runes[end] != ':' || !unicode.IsDigit(runes[end+1]) || !unicode.IsDigit(runes[end+2]) ||
			end+3 < len(runes) && unicode.IsDigit(runes[end+3]) {
			break
		}
		end += 3
	}
	return end
}

// digitGrouping drops thousands separators and decimal points from a
// figure's key, so that "1,800" and "1.800" are one claim.
var digitGrouping = strings.NewReplacer(",", "", ".", "")

// quoteCloser is what may close a quotation each opening mark starts.
var quoteCloser = map[rune]string{'"': "\"", '“': "”\"", '«': "»", '„': "“”"}

// claims finds figures (numbers with their unit or scale word) and quoted
// statements in text. Keys normalise what two reports would write
// differently: digit grouping and case.
func claims(text string) []claim {
	var out []claim
	runes := []rune(text)
	for i := 0; i < len(runes); i++ {
		r := runes[i]
		switch {
		case unicode.IsDigit(r) && (i == 0 || !unicode.IsLetter(runes[i-1]) && !unicode.IsDigit(runes[i-1])):
			j := i
			for j < len(runes) && (unicode.IsDigit(runes[j]) || (runes[j] == '.' || runes[j] == ',') && j+1 < len(runes) && unicode.IsDigit(runes[j+1])) {
				j++
			}
			num := string(runes[i:j])
			if k := clockEnd(runes, i, j); k > j {
				i = k
				continue // a time of day ("19:17") dates the report; it is not a figure
			}
			if utf8.RuneCountInString(num) < 2 && (j >= len(runes) || runes[j] != '%') {
				i = j
				continue // single digits are ordinals and list numbers more often than figures
			}
			start := i
			if i > 0 && strings.ContainsRune("$€£¥₽", runes[i-1]) {
				start = i - 1
			}
			end := j
			if end < len(runes) && runes[end] == '%' {
				end++
			}
			if year := len(num) == 4 && (num[:2] == "19" || num[:2] == "20"); year && start == i && end == j {
				i = j
				continue // a bare year dates the story; it is not a claim
			}
			key := digitGrouping.Replace(num)
			out = append(out, claim{kind: provenance.ClaimNumber, text: string(runes[start:end]), key: "n:" + key})
			i = j
		case strings.ContainsRune("\"“«„", r):
			closer := quoteCloser[r]
			j := i + 1
			for j < len(runes) && !strings.ContainsRune(closer, runes[j]) && runes[j] != '\n' {
				j++
			}
			if j < len(runes) && strings.ContainsRune(closer, runes[j]) {
				q := strings.TrimSpace(string(runes[i+1 : j]))
				if utf8.RuneCountInString(q) >= minQuoteRunes && strings.Count(q, " ") >= 2 {
					out = append(out, claim{kind: provenance.ClaimQuote, text: q, key: "q:" + strings.ToLower(strings.Join(strings.Fields(q), " "))})
				}
				i = j
			}
		}
	}
	return out
}

// keywords are the story's heaviest centroid terms, as words.
func (c *Clusterer) keywords(s *story, n int) []string {
	all := make([]term, 0, len(s.cw))
	for i, t := range s.ct {
		all = append(all, term{t: t, w: s.cw[i]})
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].w != all[j].w {
			return all[i].w > all[j].w
		}
		return all[i].t < all[j].t
	})
	out := make([]string, 0, n)
	for _, x := range all {
		if len(out) == n {
			break
		}
		w := x.t
		if d, ok := c.df[x.t]; ok {
			w = d.word
		}
		out = append(out, w)
	}
	return out
}

// Clock is the clusterer's stream time: the latest observed time seen.
func (c *Clusterer) Clock() time.Time { return c.clock }
