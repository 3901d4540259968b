package web

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"path"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/newswire/newswire/provenance"
	"github.com/newswire/newswire/wire"
)

// The pages are what a downstream site would render from the API: the
// live wire, the ranked stories and story pages ending in the "Wire
// provenance" block. They are complete without JavaScript; the scripts
// only add live updates. html/template escapes every value that came from
// a source.
//
//go:embed pages/*.html pages/*.js
var pageFiles embed.FS

// pageCSP allows scripts only from this server (no inline script, so an
// injection into a page could not run), styles inline, nothing else. A
// JSON-LD block is data, not script: browsers do not execute it, so the
// policy does not need to allow it.
const pageCSP = "default-src 'self'; script-src 'self'; style-src 'unsafe-inline'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"

// static serves the pages' scripts from the embedded files.
func (s *Server) static(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	b, err := pageFiles.ReadFile("pages/" + name)
	if err != nil || path.Ext(name) != ".js" {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(b)
}

var pageFuncs = template.FuncMap{
	"ticker": func(t time.Time) string { return t.UTC().Format("15:04Z") },
	"stamp":  func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04Z") },
	"iso":    func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"plural": func(n int, one, many string) string {
		if n == 1 {
			return fmt.Sprintf("%d %s", n, one)
		}
		return fmt.Sprintf("%d %s", n, many)
	},
	"webURL": isWebURL,
	"add":    func(a, b int) int { return a + b },
}

var pages = template.Must(template.New("").Funcs(pageFuncs).ParseFS(pageFiles, "pages/*.html"))

func isWebURL(u string) bool {
	l := strings.ToLower(u)
	return strings.HasPrefix(l, "https://") || strings.HasPrefix(l, "http://")
}

// Delta renders how long after the first report something came:
// "+<1m", "+45m", "+2h 15m", "+3d 4h".
func Delta(minutes float64) string {
	m := int(minutes + 0.5)
	switch {
	case minutes < 1:
		return "+<1m"
	case m < 60:
		return fmt.Sprintf("+%dm", m)
	case m < 24*60:
		if m%60 == 0 {
			return fmt.Sprintf("+%dh", m/60)
		}
		return fmt.Sprintf("+%dh %dm", m/60, m%60)
	default:
		d, h := m/(24*60), (m%(24*60))/60
		if h == 0 {
			return fmt.Sprintf("+%dd", d)
		}
		return fmt.Sprintf("+%dd %dh", d, h)
	}
}

// trailGroup is the sources that first carried a story within one span
// after the first report.
type trailGroup struct {
	Label string
	Items []trailItem
	// More are the items past trailShown, folded away on the page.
	More []trailItem
}

// trailShown is how many sources a trail group shows before folding the
// rest into a <details> (a big story's trail names a hundred sources).
const trailShown = 12

type trailItem struct {
	Source string
	Delta  string
	N      int // provenance item number, 0 when the list does not hold it
}

// trailSpans are the groups a long trail is shown in.
var trailSpans = []struct {
	upTo  float64 // minutes
	label string
}{
	{60, "within the hour"},
	{6 * 60, "1–6 hours later"},
	{24 * 60, "6–24 hours later"},
	{7 * 24 * 60, "1–7 days later"},
	{0, "more than a week later"},
}

// A story page lists a provenance of up to provenanceFlat posts whole;
// a longer one is grouped by the span after the first post that each
// came in (as the trail is), with the first posts of each group listed
// (provenanceBudget shared among the groups, at least provenanceShown
// each) and the rest folded: the page of a 300-post story would
// otherwise be 20,000 px tall. claimsShown bounds the single-source
// claims listed before the rest fold.
const (
	provenanceFlat   = 40
	provenanceBudget = 40
	provenanceShown  = 8
	claimsShown      = 5
)

// provenanceFolds groups a provenance list (earliest first) by span.
func provenanceFolds(recs []provenance.Record) []provenance.Fold {
	var out []provenance.Fold
	if len(recs) == 0 {
		return out
	}
	first := recs[0].PublishedAt
	for i, r := range recs {
		label := spanLabel(r.PublishedAt.Sub(first).Minutes())
		label = strings.ToUpper(label[:1]) + label[1:]
		if len(out) == 0 || out[len(out)-1].Label != label {
			out = append(out, provenance.Fold{Label: label, Start: i})
		}
		out[len(out)-1].End = i + 1
	}
	for i := range out {
		out[i].Shown = max(provenanceShown, provenanceBudget/len(out))
	}
	return out
}

// spanLabel names the span of trailSpans that minutes after the first
// report fall in.
func spanLabel(minutes float64) string {
	for _, sp := range trailSpans[:len(trailSpans)-1] {
		if minutes < sp.upTo {
			return sp.label
		}
	}
	return trailSpans[len(trailSpans)-1].label
}

func groupTrail(trail []provenance.Trail, number map[string]int) []trailGroup {
	var out []trailGroup
	for _, t := range trail {
		label := spanLabel(t.Minutes)
		if len(out) == 0 || out[len(out)-1].Label != label {
			out = append(out, trailGroup{Label: label})
		}
		g := &out[len(out)-1]
		it := trailItem{Source: t.Source, Delta: Delta(t.Minutes), N: number[t.EntryID]}
		if len(g.Items) < trailShown {
			g.Items = append(g.Items, it)
		} else {
			g.More = append(g.More, it)
		}
	}
	return out
}

type wirePage struct {
	Entries []wireLine
	Filter  EntryFilter
	Notice  string
	Quiet   []quietSource
	Kinds   []string
	// Query is the text search as the server read it (empty for none),
	// More whether more entries match than the page shows, Held how many
	// entries the store searched.
	Query string
	More  bool
	Held  int
}

type wireLine struct {
	wire.Entry
	Story string
}

type storiesPage struct {
	Stories []RankedStory
	Next    string
	Filter  StoryFilter
	Notice  string
	Quiet   []quietSource
}

type cite struct {
	EntryID string
	N       int
}

type briefLine struct {
	Text  string
	Cites []cite
}

type claimLine struct {
	provenance.Claim
	N int
}

type timelineBar struct {
	Label string
	Count int
	Pct   int
}

type storyPage struct {
	Story      wire.Story
	Brief      []briefLine
	Trail      []trailGroup
	TrailLen   int // later sources that carried the story
	TrailShown int // of them, how many the trail lists (a snapshot lists at most 100)
	FirstN     int
	Claims     []claimLine
	MoreClaims []claimLine // past claimsShown, folded
	Timeline   []timelineBar
	Provenance template.HTML
	LD         template.JS
}

// quietSource is a source the pages name as quiet: it answers, but has
// brought nothing new for far longer than it usually takes.
type quietSource struct {
	Name    string
	Silent  string // "9h", how long since its last new item
	Cadence string // "40m", its learned interval between new items
}

// sourceNotes reads the sources' health for the pages: a notice that the
// wire is empty, and why when the sources' health tells (an offline
// machine's wire is empty because every source fails, and a reader should
// see that rather than empty headings), and the sources that have gone
// quiet, which a reader would otherwise take for a slow news day.
func (s *Server) sourceNotes(ctx context.Context, empty bool) (string, []quietSource) {
	var failing, total int
	var lastErr string
	var quiet []quietSource
	if s.cfg.Sources != nil {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		list, err := s.cfg.Sources.Sources(ctx)
		cancel()
		if err == nil {
			total = len(list)
			now := time.Now()
			for _, st := range list {
				if st.Status == "failing" {
					failing++
					if lastErr == "" {
						lastErr = st.ID + ": " + st.LastError
					}
				}
				if st.Quiet {
					quiet = append(quiet, quietSource{Name: st.label(), Silent: span(now.Sub(st.LastNew)),
						Cadence: span(time.Duration(st.CadenceSeconds * float64(time.Second)))})
				}
			}
		}
	}
	switch {
	case total > 0 && failing == total:
		return fmt.Sprintf("All %d sources are failing, so nothing reaches the wire (first: %s). See /api/v1/sources or `newswire sources`.", total, lastErr), quiet
	case failing > 0:
		return fmt.Sprintf("%d of %d sources are failing (first: %s). See /api/v1/sources.", failing, total, lastErr), quiet
	case empty:
		return "The wire is empty: no entry has arrived yet. Collectors publish as they poll; this page shows them as they come.", quiet
	}
	return "", quiet
}

// label names a source for a reader: its name, else its code, else its id.
func (st SourceStatus) label() string {
	switch {
	case st.Name != "":
		return st.Name
	case st.Code != "":
		return st.Code
	}
	return st.ID
}

// span renders a duration as Delta does, without the sign: "40m", "9h".
func span(d time.Duration) string { return strings.TrimPrefix(Delta(d.Minutes()), "+") }

func (s *Server) wirePage(w http.ResponseWriter, r *http.Request) {
	f, err := entryFilter(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	page, err := s.store.QueryEntries(f, 100, "")
	if err != nil {
		status, _, msg := entryQueryError(err)
		http.Error(w, msg, status)
		return
	}
	lines := make([]wireLine, 0, len(page.Entries))
	for _, e := range page.Entries {
		id, _ := s.store.StoryOf(e.ID)
		lines = append(lines, wireLine{Entry: e, Story: id})
	}
	p := wirePage{Entries: lines, Filter: f, Kinds: s.store.Kinds(), More: page.Next != ""}
	if q, _ := parseQuery(f.Query); !q.empty() {
		p.Query, p.Held = q.String(), s.store.Len()
	}
	p.Notice, p.Quiet = s.sourceNotes(r.Context(), len(lines) == 0 && p.Query == "")
	s.render(w, "wire.html", p)
}

func (s *Server) storiesPage(w http.ResponseWriter, r *http.Request) {
	f, err := storyFilter(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	page, err := s.store.QueryStories(f, 50, r.URL.Query().Get("cursor"))
	if err != nil {
		http.Error(w, "cursor: not one this server wrote", http.StatusBadRequest)
		return
	}
	notice, quiet := s.sourceNotes(r.Context(), false)
	if len(page.Stories) == 0 && notice == "" {
		notice = "No stories yet: a story opens with the first entry the synthesizer reads."
	}
	s.render(w, "stories.html", storiesPage{Stories: page.Stories, Next: page.Next, Filter: f, Notice: notice, Quiet: quiet})
}

// entryRedirect sends a reader from an entry to its story's provenance item.
func (s *Server) entryRedirect(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	sid, ok := s.store.StoryOf(id)
	if !ok {
		http.Error(w, "This entry is in no story the server holds (yet): stories follow entries within seconds.", http.StatusNotFound)
		return
	}
	st, _ := s.store.Story(sid)
	for i, rec := range st.Provenance {
		if rec.EntryID == id {
			http.Redirect(w, r, fmt.Sprintf("/stories/%s#p%d", sid, i+1), http.StatusFound)
			return
		}
	}
	http.Redirect(w, r, "/stories/"+sid, http.StatusFound)
}

func (s *Server) storyPage(w http.ResponseWriter, r *http.Request) {
	st, ok := s.store.Story(r.PathValue("id"))
	if !ok {
		http.Error(w, "story not found", http.StatusNotFound)
		return
	}
	number := make(map[string]int, len(st.Provenance))
	for i, rec := range st.Provenance {
		number[rec.EntryID] = i + 1
	}
	shown := len(st.FirstReport.Trail)
	p := storyPage{Story: st, FirstN: number[st.FirstReport.EntryID], TrailLen: max(shown, st.Counts.Sources-1), TrailShown: shown}
	for _, b := range st.Brief {
		line := briefLine{Text: b.Text}
		for _, c := range b.Cites {
			line.Cites = append(line.Cites, cite{EntryID: c, N: number[c]})
		}
		p.Brief = append(p.Brief, line)
	}
	p.Trail = groupTrail(st.FirstReport.Trail, number)
	for _, c := range st.SingleSource {
		line := claimLine{Claim: c, N: number[c.EntryID]}
		if len(p.Claims) < claimsShown {
			p.Claims = append(p.Claims, line)
		} else {
			p.MoreClaims = append(p.MoreClaims, line)
		}
	}
	p.Timeline = timeline(st.Provenance)
	var prov bytes.Buffer
	var err error
	if len(st.Provenance) <= provenanceFlat {
		err = provenance.HTML(&prov, st.Provenance)
	} else {
		err = provenance.HTMLFolded(&prov, st.Provenance, provenanceFolds(st.Provenance))
	}
	if err != nil {
		s.log.Warn("rendering provenance failed", zap.Error(err))
	}
	// provenance.HTML escapes every value itself, so its output is trusted markup.
	p.Provenance = template.HTML(prov.String()) //nolint:gosec // escaped by provenance.HTML
	ld, err := newsArticle(st, r)
	if err != nil {
		s.log.Warn("rendering JSON-LD failed", zap.Error(err))
	}
	// json.Marshal escapes <, > and &, so the block cannot end the script element early.
	p.LD = template.JS(ld) //nolint:gosec // JSON with HTML-significant characters escaped
	s.render(w, "story.html", p)
}

// newsArticle is the story as schema.org NewsArticle JSON-LD, whose
// isBasedOn lists the public posts it draws on.
func newsArticle(st wire.Story, r *http.Request) ([]byte, error) {
	based := []string{}
	seen := map[string]bool{}
	for _, rec := range st.Provenance {
		if isWebURL(rec.URL) && !seen[rec.URL] && !rec.Withdrawn {
			seen[rec.URL] = true
			based = append(based, rec.URL)
		}
	}
	var body []string
	for _, b := range st.Brief {
		body = append(body, b.Text)
	}
	doc := map[string]any{
		"@context":      "https://schema.org",
		"@type":         "NewsArticle",
		"headline":      st.Headline,
		"identifier":    st.ID,
		"url":           "/stories/" + st.ID,
		"dateModified":  st.LastUpdated.UTC().Format(time.RFC3339),
		"isBasedOn":     based,
		"articleBody":   strings.Join(body, " "),
		"datePublished": st.FirstSeen.UTC().Format(time.RFC3339),
	}
	if len(st.Keywords) > 0 {
		doc["keywords"] = st.Keywords
	}
	if len(st.Languages) > 0 {
		doc["inLanguage"] = st.Languages
	}
	if !st.FirstReport.PublishedAt.IsZero() {
		doc["datePublished"] = st.FirstReport.PublishedAt.UTC().Format(time.RFC3339)
	}
	if r.Host != "" {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		doc["url"] = scheme + "://" + r.Host + "/stories/" + st.ID
	}
	return json.Marshal(doc)
}

// timeline counts a story's posts per hour, or per day when it spans
// more than two days.
func timeline(recs []provenance.Record) []timelineBar {
	if len(recs) == 0 {
		return nil
	}
	first, last := recs[0].PublishedAt, recs[0].PublishedAt
	for _, r := range recs {
		if r.PublishedAt.Before(first) {
			first = r.PublishedAt
		}
		if r.PublishedAt.After(last) {
			last = r.PublishedAt
		}
	}
	step, layout := time.Hour, "Jan 2 15:00Z"
	if last.Sub(first) > 48*time.Hour {
		step, layout = 24*time.Hour, "Jan 2"
	}
	start := first.UTC().Truncate(step)
	n := int(last.UTC().Sub(start)/step) + 1
	if n > 60 { // a story that lasts months: the last 60 steps
		start = last.UTC().Truncate(step).Add(-59 * step)
		n = 60
	}
	counts := make([]int, n)
	for _, r := range recs {
		i := int(r.PublishedAt.UTC().Sub(start) / step)
		if i >= 0 && i < n {
			counts[i]++
		}
	}
	most := 0
	for _, c := range counts {
		most = max(most, c)
	}
	var out []timelineBar
	for i, c := range counts {
		if c == 0 {
			continue
		}
		out = append(out, timelineBar{Label: start.Add(time.Duration(i) * step).Format(layout), Count: c, Pct: max(1, c*100/most)})
	}
	return out
}

func (s *Server) render(w http.ResponseWriter, name string, data any) {
	var b bytes.Buffer
	if err := pages.ExecuteTemplate(&b, name, data); err != nil {
		s.log.Error("rendering page failed", zap.String("page", name), zap.Error(err))
		http.Error(w, "page could not be rendered", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", pageCSP)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(b.Bytes())
}
