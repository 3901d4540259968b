package web

import (
	"bytes"
	"embed"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/newswire/newswire/provenance"
	"github.com/newswire/newswire/wire"
)

// The pages are what a downstream site would render from the API: a live
// wire and story pages ending in the "Wire provenance" block. html/template
// escapes every value that came from a source.
//
//go:embed pages/*.html pages/*.js
var pageFiles embed.FS

// pageCSP allows scripts only from this server (no inline script, so an
// injection into a page could not run), styles inline, nothing else.
const pageCSP = "default-src 'self'; script-src 'self'; style-src 'unsafe-inline'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"

// script serves the pages' scripts from the embedded files.
func (s *Server) script(w http.ResponseWriter, r *http.Request) {
	b, err := pageFiles.ReadFile("pages/" + r.PathValue("name"))
	if err != nil || !strings.HasSuffix(r.PathValue("name"), ".js") {
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
	"minutes": func(m float64) string {
		if m < 1 {
			return "<1"
		}
		return strconv.FormatFloat(m, 'f', 0, 64)
	},
}

var pages = template.Must(template.New("").Funcs(pageFuncs).ParseFS(pageFiles, "pages/*.html"))

type wirePage struct {
	Entries []wire.Entry
	Stories []wire.Story
}

type storyPage struct {
	Story      wire.Story
	Provenance template.HTML
}

func (s *Server) wirePage(w http.ResponseWriter, r *http.Request) {
	s.render(w, "wire.html", wirePage{Entries: s.store.Entries(50), Stories: s.store.Stories(20, "")})
}

func (s *Server) storyPage(w http.ResponseWriter, r *http.Request) {
	st, ok := s.store.Story(r.PathValue("id"))
	if !ok {
		http.NotFound(w, r)
		return
	}
	var prov bytes.Buffer
	if err := provenance.HTML(&prov, st.Provenance); err != nil {
		s.log.Warn("rendering provenance failed", zap.Error(err))
	}
	// provenance.HTML escapes every value itself, so its output is trusted markup.
	s.render(w, "story.html", storyPage{Story: st, Provenance: template.HTML(prov.String())}) //nolint:gosec // escaped by provenance.HTML
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
