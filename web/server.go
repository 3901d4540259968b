package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/newswire/newswire/provenance"
)

// Config configures the HTTP API.
//
//	http:
//	  listen: 127.0.0.1:8080
//	  recent_entries: 1000
type Config struct {
	Listen        string
	RecentEntries int
	// Metrics, when set, is served at /metrics.
	Metrics http.Handler
}

// Server serves the JSON API from a Store.
type Server struct {
	cfg   Config
	store *Store
	log   *zap.Logger
	mux   *http.ServeMux
}

// NewServer builds the API over store.
func NewServer(cfg Config, store *Store, log *zap.Logger) *Server {
	if log == nil {
		log = zap.NewNop()
	}
	s := &Server{cfg: cfg, store: store, log: log.Named("web"), mux: http.NewServeMux()}
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	s.mux.HandleFunc("GET /api/entries", s.entries)
	s.mux.HandleFunc("GET /api/stories", s.stories)
	s.mux.HandleFunc("GET /api/stories/{id}", s.story)
	s.mux.HandleFunc("GET /api/stories/{id}/provenance", s.provenance)
	if cfg.Metrics != nil {
		s.mux.Handle("GET /metrics", cfg.Metrics)
	}
	return s
}

// NewMetricsServer serves only /metrics (and /healthz) on addr, for the
// stage processes that have no API.
func NewMetricsServer(addr string, metrics http.Handler, log *zap.Logger) *Server {
	if log == nil {
		log = zap.NewNop()
	}
	s := &Server{cfg: Config{Listen: addr, Metrics: metrics}, log: log.Named("metrics"), mux: http.NewServeMux()}
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	s.mux.Handle("GET /metrics", metrics)
	return s
}

// Handler is the API's HTTP handler.
func (s *Server) Handler() http.Handler { return s.mux }

// Run listens until ctx ends, then shuts down gracefully.
func (s *Server) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("web: listen on %s: %w", s.cfg.Listen, err)
	}
	srv := &http.Server{Handler: s.mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	s.log.Info("serving HTTP", zap.String("addr", ln.Addr().String()))
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("web: serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("web: shutdown: %w", err)
	}
	return nil
}

func limitParam(r *http.Request, def, most int) int {
	n, err := strconv.Atoi(r.URL.Query().Get("limit"))
	if err != nil || n <= 0 {
		return def
	}
	return min(n, most)
}

func (s *Server) entries(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"entries": s.store.Entries(limitParam(r, 50, 1000))})
}

func (s *Server) stories(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"stories": s.store.Stories(limitParam(r, 50, 1000), r.URL.Query().Get("status"))})
}

func (s *Server) story(w http.ResponseWriter, r *http.Request) {
	st, ok := s.store.Story(r.PathValue("id"))
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "story not found"})
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (s *Server) provenance(w http.ResponseWriter, r *http.Request) {
	st, ok := s.store.Story(r.PathValue("id"))
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "story not found"})
		return
	}
	var err error
	switch strings.ToLower(r.URL.Query().Get("format")) {
	case "", "json":
		w.Header().Set("Content-Type", "application/json")
		err = provenance.JSON(w, st.Provenance)
	case "md", "markdown":
		w.Header().Set("Content-Type", "text/markdown; charset=utf-8")
		err = provenance.Markdown(w, st.Provenance)
	case "html":
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		err = provenance.HTML(w, st.Provenance)
	default:
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "format must be json, md or html"})
		return
	}
	if err != nil {
		s.log.Warn("writing provenance failed", zap.Error(err))
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(true)
	_ = enc.Encode(v)
}
