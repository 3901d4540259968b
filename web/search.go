package web

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/blevesearch/bleve/v2/analysis"
	"github.com/blevesearch/bleve/v2/analysis/analyzer/custom"
	"github.com/blevesearch/bleve/v2/analysis/char/asciifolding"
	"github.com/blevesearch/bleve/v2/analysis/lang/ar"
	"github.com/blevesearch/bleve/v2/analysis/lang/cjk"
	"github.com/blevesearch/bleve/v2/analysis/lang/da"
	"github.com/blevesearch/bleve/v2/analysis/lang/de"
	"github.com/blevesearch/bleve/v2/analysis/lang/en"
	"github.com/blevesearch/bleve/v2/analysis/lang/es"
	"github.com/blevesearch/bleve/v2/analysis/lang/fi"
	"github.com/blevesearch/bleve/v2/analysis/lang/fr"
	"github.com/blevesearch/bleve/v2/analysis/lang/hu"
	"github.com/blevesearch/bleve/v2/analysis/lang/it"
	"github.com/blevesearch/bleve/v2/analysis/lang/nl"
	"github.com/blevesearch/bleve/v2/analysis/lang/no"
	"github.com/blevesearch/bleve/v2/analysis/lang/pt"
	"github.com/blevesearch/bleve/v2/analysis/lang/ro"
	"github.com/blevesearch/bleve/v2/analysis/lang/ru"
	"github.com/blevesearch/bleve/v2/analysis/lang/sv"
	"github.com/blevesearch/bleve/v2/analysis/lang/tr"
	"github.com/blevesearch/bleve/v2/analysis/token/lowercase"
	unicodetok "github.com/blevesearch/bleve/v2/analysis/tokenizer/unicode"
	"github.com/blevesearch/bleve/v2/document"
	"github.com/blevesearch/bleve/v2/index/upsidedown"
	"github.com/blevesearch/bleve/v2/index/upsidedown/store/gtreap"
	"github.com/blevesearch/bleve/v2/mapping"
	"github.com/blevesearch/bleve/v2/registry"
	"github.com/blevesearch/bleve/v2/search"
	"github.com/blevesearch/bleve/v2/search/query"
	index "github.com/blevesearch/bleve_index_api"
	store "github.com/blevesearch/upsidedown_store_api"

	"github.com/newswire/newswire/wire"
)

// The full-text index of the entries a Store holds: an in-memory bleve
// index (bleve's "upsidedown" index on its in-memory treap store, used
// through bleve's index, mapping and query packages rather than its
// top-level package, which would link its disk index and every segment
// format it ever had: 5.6 MB of binary for nothing used here), fed as
// entries arrive (so it is rebuilt from WIRE_ENTRY when
// the store replays the retained window at start), with an entry taken
// out when the store drops it or its source withdraws it.
//
// Every entry's headline and text go into two fields:
//
//   - "text", for every language: Unicode word segmentation (UAX #29),
//     lower case, Latin diacritics folded (so "Sao Paulo" finds "São
//     Paulo" and "Munchen" finds "München"), dotted words also split
//     (dottedFilter); no stemming and no stop words.
//   - "stem_<lang>", when the entry's language has a bleve analyzer: the
//     same words stemmed (Snowball, or bleve's light stemmers) with that
//     language's stop words removed, so "выборы" finds "выборах" in a
//     Russian post and "elections" finds "election" in an English one.
//
// A query word matches when any field holds it as that field's analyzer
// reads it: the query's language need not be known.

// ErrQueryTooLong is returned for a search query over maxQueryBytes.
var ErrQueryTooLong = errors.New("web: search query too long")

// queryError is a search query that cannot be read.
type queryError string

func (e queryError) Error() string { return "web: search query: " + string(e) }

// ErrNoIndex is returned when the full-text index could not be built.
var ErrNoIndex = errors.New("web: full-text index unavailable")

const (
	maxQueryBytes   = 512
	maxQueryClauses = 16

	foldedAnalyzer = "wire_folded"
	dottedName     = "wire_dotted"
	textField      = "text"
)

func init() {
	// bleve's registry is process-wide; the name is this package's own.
	if err := registry.RegisterTokenFilter(dottedName, func(map[string]any, *registry.Cache) (analysis.TokenFilter, error) {
		return dottedFilter{}, nil
	}); err != nil {
		panic(err)
	}
}

// dottedFilter keeps a word written with inner dots ("Mt.Gox",
// "S.T.A.L.K.E.R.", "U.S.") findable by its parts and by its letters run
// together: Unicode word segmentation keeps it one token ("mt.gox"),
// which neither "gox" nor "mtgox" would find. The extra tokens stand at
// the word's position, so phrases still match. Numbers ("3.5") are left
// whole.
type dottedFilter struct{}

func (dottedFilter) Filter(in analysis.TokenStream) analysis.TokenStream {
	var out analysis.TokenStream
	for i, tok := range in {
		if bytes.IndexByte(tok.Term, '.') < 0 {
			if out != nil {
				out = append(out, tok)
			}
			continue
		}
		if out == nil {
			out = append(make(analysis.TokenStream, 0, len(in)+4), in[:i]...)
		}
		out = append(out, tok)
		var parts [][]byte
		letters := true
		for _, p := range bytes.Split(tok.Term, []byte{'.'}) {
			if len(p) > 0 {
				parts = append(parts, p)
				letters = letters && bytes.IndexFunc(p, unicode.IsLetter) >= 0
			}
		}
		if !letters || len(parts) < 2 {
			continue
		}
		extra := func(term []byte) {
			out = append(out, &analysis.Token{Term: term, Start: tok.Start, End: tok.End, Position: tok.Position, Type: tok.Type})
		}
		extra(bytes.Join(parts, nil))
		for _, p := range parts {
			if utf8.RuneCount(p) > 1 { // "u" and "s" of "u.s" would find every "u"
				extra(p)
			}
		}
	}
	if out == nil {
		return in
	}
	return out
}

// stemAnalyzers maps an entry's primary language subtag to the bleve
// analyzer its stemmed field uses. Ukrainian and Belarusian borrow the
// Russian stemmer, which strips most of their endings (as the
// synthesizer does); Chinese, Japanese and Korean get bigrams, which
// their unsegmented text needs more than stems.
var stemAnalyzers = map[string]string{
	"ar": ar.AnalyzerName, "da": da.AnalyzerName, "de": de.AnalyzerName, "en": en.AnalyzerName,
	"es": es.AnalyzerName, "fi": fi.AnalyzerName, "fr": fr.AnalyzerName, "hu": hu.AnalyzerName,
	"it": it.AnalyzerName, "nl": nl.AnalyzerName, "no": no.AnalyzerName, "nb": no.AnalyzerName,
	"nn": no.AnalyzerName, "pt": pt.AnalyzerName, "ro": ro.AnalyzerName, "ru": ru.AnalyzerName,
	"uk": ru.AnalyzerName, "be": ru.AnalyzerName, "sv": sv.AnalyzerName, "tr": tr.AnalyzerName,
	"zh": cjk.AnalyzerName, "ja": cjk.AnalyzerName, "ko": cjk.AnalyzerName,
}

// stemFields lists the stemmed fields, one per analyzer, which a query
// searches besides "text".
var stemFields = func() []string {
	seen := map[string]bool{}
	var out []string
	for _, a := range stemAnalyzers {
		if !seen[a] {
			seen[a] = true
			out = append(out, "stem_"+a)
		}
	}
	return out
}()

func stemField(lang string) (string, bool) {
	a, ok := stemAnalyzers[strings.ToLower(primaryTag(lang))]
	if !ok {
		return "", false
	}
	return "stem_" + a, true
}

// entryIndex is the full-text index. mu guards its changes and the
// fields below; bleve's index is safe for concurrent searches itself.
type entryIndex struct {
	mu      sync.Mutex
	mapping *mapping.IndexMappingImpl
	idx     index.Index
	// indexed maps an entry id to the store sequence of the copy in the
	// index, so that dropping an older copy of the same id (a redelivery)
	// leaves the newer one found.
	indexed map[string]uint64
	errors  int64
	// removed counts removals since the last sweep of the term
	// dictionary (see sweepDictionary).
	removed int
}

// sweepEvery is how many removals from the index run between two sweeps
// of its term dictionary.
const sweepEvery = 4096

func indexMapping() (*mapping.IndexMappingImpl, error) {
	m := mapping.NewIndexMapping()
	if err := m.AddCustomAnalyzer(foldedAnalyzer, map[string]any{
		"type":          custom.Name,
		"char_filters":  []string{asciifolding.Name},
		"tokenizer":     unicodetok.Name,
		"token_filters": []string{lowercase.Name, dottedName},
	}); err != nil {
		return nil, fmt.Errorf("web: index mapping: %w", err)
	}
	doc := mapping.NewDocumentStaticMapping()
	field := func(analyzer string) *mapping.FieldMapping {
		f := mapping.NewTextFieldMapping()
		f.Analyzer = analyzer
		f.Store = false
		f.IncludeInAll = false
		f.DocValues = false
		f.IncludeTermVectors = true // phrase queries need the positions
		return f
	}
	doc.AddFieldMappingsAt(textField, field(foldedAnalyzer))
	for _, name := range stemFields {
		doc.AddFieldMappingsAt(name, field(strings.TrimPrefix(name, "stem_")))
	}
	m.DefaultMapping = doc
	m.DefaultAnalyzer = foldedAnalyzer
	m.StoreDynamic = false
	m.IndexDynamic = false
	m.DocValuesDynamic = false
	return m, nil
}

// analysisQueue runs the analysis of the documents indexed, for every
// index of the process, as bleve's top-level package does with its own:
// its workers live as long as the process (a Store has no Close).
var analysisQueue = sync.OnceValue(func() *index.AnalysisQueue { return index.NewAnalysisQueue(2) })

func newEntryIndex() (*entryIndex, error) {
	m, err := indexMapping()
	if err != nil {
		return nil, err
	}
	idx, err := upsidedown.NewUpsideDownCouch(gtreap.Name, map[string]any{"path": ""}, analysisQueue()) // "" is memory only
	if err == nil {
		err = idx.Open()
	}
	if err != nil {
		return nil, fmt.Errorf("web: open full-text index: %w", err)
	}
	return &entryIndex{mapping: m, idx: idx, indexed: make(map[string]uint64)}, nil
}

// add indexes an entry the store holds as seq; a withdrawal takes the
// entry out instead, for its post is gone at the source.
func (x *entryIndex) add(e wire.Entry, seq uint64) {
	if e.Withdrawn {
		x.remove(e.ID)
		return
	}
	text := e.Headline
	if e.Text != "" && !strings.HasPrefix(e.Text, e.Headline) {
		text += "\n" + e.Text
	} else if e.Text != "" {
		text = e.Text
	}
	fields := map[string]any{textField: text}
	if f, ok := stemField(e.Lang); ok {
		fields[f] = text
	}
	doc := document.NewDocument(e.ID)
	if err := x.mapping.MapDocument(doc, fields); err != nil {
		x.errors++
		return
	}
	if err := x.idx.Update(doc); err != nil {
		x.errors++
		return
	}
	x.indexed[e.ID] = seq
}

// drop takes out the entry the store held as seq, unless a later copy
// of it replaced it in the index.
func (x *entryIndex) drop(id string, seq uint64) {
	if s, ok := x.indexed[id]; ok && s == seq {
		x.remove(id)
	}
}

func (x *entryIndex) remove(id string) {
	if _, ok := x.indexed[id]; !ok {
		return
	}
	delete(x.indexed, id)
	if err := x.idx.Delete(id); err != nil {
		x.errors++
	}
	if x.removed++; x.removed >= sweepEvery {
		x.removed = 0
		if _, err := x.sweepDictionary(); err != nil {
			x.errors++
		}
	}
}

// sweepDictionary deletes the term dictionary's rows whose count has
// fallen to zero, and returns how many it deleted. upsidedown counts a
// term's documents down as they are deleted but never deletes the row,
// so a store that turns its entries over — every word, name and number
// of weeks of news passing through 1,000 held entries — would otherwise
// hold a row for each term it ever saw. The caller holds x.mu, under
// which every change to the index is made, so no count changes during
// the sweep; searches read their own snapshot of the treap.
func (x *entryIndex) sweepDictionary() (int, error) {
	adv, ok := x.idx.(interface{ Advanced() (store.KVStore, error) })
	if !ok {
		return 0, nil
	}
	kv, err := adv.Advanced()
	if err != nil {
		return 0, fmt.Errorf("web: full-text index store: %w", err)
	}
	r, err := kv.Reader()
	if err != nil {
		return 0, fmt.Errorf("web: full-text index store: %w", err)
	}
	var empty [][]byte
	it := r.PrefixIterator([]byte{dictionaryRowPrefix})
	for {
		k, v, valid := it.Current()
		if !valid {
			break
		}
		if n, read := binary.Uvarint(v); read > 0 && n == 0 {
			empty = append(empty, bytes.Clone(k))
		}
		it.Next()
	}
	err = errors.Join(it.Close(), r.Close())
	if err != nil || len(empty) == 0 {
		return 0, err
	}
	w, err := kv.Writer()
	if err != nil {
		return 0, fmt.Errorf("web: full-text index store: %w", err)
	}
	b := w.NewBatch()
	for _, k := range empty {
		b.Delete(k)
	}
	err = errors.Join(w.ExecuteBatch(b), b.Close(), w.Close())
	if err != nil {
		return 0, fmt.Errorf("web: sweep the term dictionary: %w", err)
	}
	return len(empty), nil
}

// dictionaryRowPrefix starts the key of each of upsidedown's term
// dictionary rows: 'd', the field number, the term; the value is the
// number of documents holding the term, as a uvarint.
const dictionaryRowPrefix = 'd'

// search returns the ids of every indexed entry that matches q; at most
// limit of them.
func (x *entryIndex) search(q searchQuery, limit int) (map[string]bool, error) {
	r, err := x.idx.Reader()
	if err != nil {
		return nil, fmt.Errorf("web: search: %w", err)
	}
	defer r.Close()
	// No scores: the wire is read newest first, not by relevance.
	s, err := q.bleve().Searcher(context.Background(), r, x.mapping, search.SearcherOptions{Score: "none"})
	if err != nil {
		return nil, fmt.Errorf("web: search: %w", err)
	}
	defer s.Close()
	sctx := &search.SearchContext{DocumentMatchPool: search.NewDocumentMatchPool(s.DocumentMatchPoolSize(), 0), IndexReader: r}
	out := make(map[string]bool)
	for len(out) < limit {
		dm, err := s.Next(sctx)
		if err != nil {
			return nil, fmt.Errorf("web: search: %w", err)
		}
		if dm == nil {
			break
		}
		id, err := r.ExternalID(dm.IndexInternalID)
		if err != nil {
			return nil, fmt.Errorf("web: search: %w", err)
		}
		out[id] = true
		sctx.DocumentMatchPool.Put(dm)
	}
	return out, nil
}

// searchQuery is a parsed q parameter: words that must all match,
// "quoted phrases" that must match word for word, and -words or
// -"phrases" that must not.
type searchQuery struct {
	must, not []string // a clause with a space in it is a phrase
}

func (q searchQuery) empty() bool { return len(q.must) == 0 && len(q.not) == 0 }

// String is the query as it was understood, for the page to show back.
func (q searchQuery) String() string {
	var parts []string
	show := func(prefix, c string) {
		if strings.ContainsRune(c, ' ') {
			c = `"` + c + `"`
		}
		parts = append(parts, prefix+c)
	}
	for _, c := range q.must {
		show("", c)
	}
	for _, c := range q.not {
		show("-", c)
	}
	return strings.Join(parts, " ")
}

// parseQuery reads q. Words are separated by spaces; a double-quoted run
// of words is a phrase (an unclosed quote runs to the end); a leading -
// excludes. Punctuation inside words is left to the analyzers, so
// "U.S." or "S.T.A.L.K.E.R." are searched as the index reads them.
func parseQuery(s string) (searchQuery, error) {
	var q searchQuery
	if len(s) > maxQueryBytes {
		return q, ErrQueryTooLong
	}
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, " ")
	}
	for s = strings.TrimSpace(s); s != ""; s = strings.TrimLeftFunc(s, unicode.IsSpace) {
		neg := false
		if s[0] == '-' && len(s) > 1 && !unicode.IsSpace(rune(s[1])) {
			neg, s = true, s[1:]
		}
		var clause string
		if s[0] == '"' {
			end := strings.IndexByte(s[1:], '"')
			if end < 0 {
				clause, s = s[1:], ""
			} else {
				clause, s = s[1:1+end], s[2+end:]
			}
			clause = strings.Join(strings.Fields(clause), " ")
		} else {
			end := strings.IndexFunc(s, unicode.IsSpace)
			if end < 0 {
				end = len(s)
			}
			clause, s = s[:end], s[end:]
		}
		if clause == "" || clause == "-" {
			continue
		}
		if neg {
			q.not = append(q.not, clause)
		} else {
			q.must = append(q.must, clause)
		}
		if len(q.must)+len(q.not) > maxQueryClauses {
			return q, queryError(fmt.Sprintf("more than %d words or phrases", maxQueryClauses))
		}
	}
	return q, nil
}

// bleve builds the index query: every must clause matches in some field
// and no not clause matches in any.
func (q searchQuery) bleve() query.Query {
	clause := func(c string) query.Query {
		fields := append([]string{textField}, stemFields...)
		alts := make([]query.Query, 0, len(fields))
		for _, f := range fields {
			if strings.ContainsRune(c, ' ') {
				p := query.NewMatchPhraseQuery(c)
				p.SetField(f)
				alts = append(alts, p)
				continue
			}
			// One word may still be several tokens ("Jean-Luc",
			// "5G-Netz"): all of them must be there.
			m := query.NewMatchQuery(c)
			m.SetField(f)
			m.SetOperator(query.MatchQueryOperatorAnd)
			alts = append(alts, m)
		}
		return query.NewDisjunctionQuery(alts)
	}
	b := query.NewBooleanQuery(nil, nil, nil)
	for _, c := range q.must {
		b.AddMust(clause(c))
	}
	if len(q.must) == 0 {
		b.AddMust(query.NewMatchAllQuery())
	}
	for _, c := range q.not {
		b.AddMustNot(clause(c))
	}
	return b
}
