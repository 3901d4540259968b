package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/newswire/newswire/provenance"
	"github.com/newswire/newswire/wire"
)

// Config configures the HTTP API.
//
//	http:
//	  listen: 127.0.0.1:8080
//	  recent_entries: 1000
//	  max_streams: 256        # concurrent /api/stream clients; more get 503
//	  max_story_bytes: 256MiB # story snapshots held in memory
type Config struct {
	Listen        string
	RecentEntries int
	// MaxStreams bounds the concurrent event-stream clients (256); one
	// more is answered 503 with Retry-After.
	MaxStreams int
	// StreamWriteTimeout is how long one write to an event-stream client
	// may take (10s); a client that reads slower is dropped and counted.
	StreamWriteTimeout time.Duration
	// Metrics, when set, is served at /metrics.
	Metrics http.Handler
}

// Stats counts the event-stream clients.
type Stats struct {
	Streams        int64 // open now
	StreamsRefused int64 // answered 503 because MaxStreams were open
	SlowDropped    int64 // dropped for falling behind or not reading
}

// Server serves the JSON API from a Store.
type Server struct {
	cfg   Config
	store *Store
	log   *zap.Logger
	mux   *http.ServeMux
	// quit ends open event streams when the server shuts down, which
	// would otherwise wait for every SSE client to hang up.
	quit     chan struct{}
	quitOnce sync.Once

	streams, refused, slow atomic.Int64
}

// Stats returns the event-stream counters.
func (s *Server) Stats() Stats {
	return Stats{Streams: s.streams.Load(), StreamsRefused: s.refused.Load(), SlowDropped: s.slow.Load()}
}

// NewServer builds the API over store.
func NewServer(cfg Config, store *Store, log *zap.Logger) *Server {
	if log == nil {
		log = zap.NewNop()
	}
	if cfg.MaxStreams <= 0 {
		cfg.MaxStreams = 256
	}
	if cfg.StreamWriteTimeout <= 0 {
		cfg.StreamWriteTimeout = 10 * time.Second
	}
	s := &Server{cfg: cfg, store: store, log: log.Named("web"), mux: http.NewServeMux(), quit: make(chan struct{})}
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	s.mux.HandleFunc("GET /api/entries", s.entries)
	s.mux.HandleFunc("GET /api/stories", s.stories)
	s.mux.HandleFunc("GET /api/stories/{id}", s.story)
	s.mux.HandleFunc("GET /api/stories/{id}/provenance", s.provenance)
	s.mux.HandleFunc("GET /api/stream", s.stream)
	s.mux.HandleFunc("GET /{$}", s.wirePage)
	s.mux.HandleFunc("GET /stories/{id}", s.storyPage)
	s.mux.HandleFunc("GET /static/{name}", s.script)
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
	s := &Server{cfg: Config{Listen: addr, Metrics: metrics}, log: log.Named("metrics"), mux: http.NewServeMux(), quit: make(chan struct{})}
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	s.mux.Handle("GET /metrics", metrics)
	return s
}

// Close ends the open event streams; Run calls it on shutdown.
func (s *Server) Close() { s.quitOnce.Do(func() { close(s.quit) }) }

// Handler is the API's HTTP handler.
func (s *Server) Handler() http.Handler { return s.mux }

// Run listens until ctx ends, then shuts down gracefully.
func (s *Server) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("web: listen on %s: %w", s.cfg.Listen, err)
	}
	srv := &http.Server{Handler: s.mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	srv.RegisterOnShutdown(s.Close)
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
	case "prov", "prov-json":
		w.Header().Set("Content-Type", "application/json")
		err = provenance.PROVJSON(w, st.ID, st.Provenance)
	default:
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "format must be json, md, html or prov"})
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

// heartbeat keeps idle SSE connections open through proxies.
const heartbeat = 15 * time.Second

// stream serves live entries and story updates as Server-Sent Events:
// "event: entry" with the entry's JSON and "event: story" with the
// snapshot's JSON without its provenance list. The id of an entry event is
// the entry id; a client that reconnects with Last-Event-ID gets the
// entries it missed while the store still holds them. ?last=N first sends
// the N latest entries.
func (s *Server) stream(w http.ResponseWriter, r *http.Request) {
	if _, ok := w.(http.Flusher); !ok {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "streaming unsupported"})
		return
	}
	if n := s.streams.Add(1); n > int64(s.cfg.MaxStreams) {
		s.streams.Add(-1)
		s.refused.Add(1)
		w.Header().Set("Retry-After", "30")
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "too many event-stream clients; retry later"})
		return
	}
	defer s.streams.Add(-1)
	events, cancel := s.store.Subscribe(256)
	defer cancel()
	// Every write has a deadline, so a client that stops reading frees
	// its handler instead of holding it until the kernel gives up.
	rc := http.NewResponseController(w)
	write := func(f func() error) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(s.cfg.StreamWriteTimeout))
		if err := f(); err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				s.slow.Add(1)
				s.log.Info("event-stream client too slow; dropped", zap.String("remote", r.RemoteAddr))
			}
			return false
		}
		return true
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)

	sent := make(map[string]bool)
	var backlog []wire.Entry
	if last := r.Header.Get("Last-Event-ID"); last != "" {
		backlog, _ = s.store.EntriesAfter(last)
	} else if n, err := strconv.Atoi(r.URL.Query().Get("last")); err == nil && n > 0 {
		recent := s.store.Entries(min(n, 1000))
		for i := len(recent) - 1; i >= 0; i-- {
			backlog = append(backlog, recent[i])
		}
	}
	for _, e := range backlog {
		data, err := json.Marshal(e)
		if err != nil {
			continue
		}
		if !write(func() error { return writeEvent(w, Event{Kind: "entry", ID: e.ID, Data: data}) }) {
			return
		}
		sent[e.ID] = true
	}
	if !write(rc.Flush) {
		return
	}
	tick := time.NewTicker(heartbeat)
	defer tick.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-s.quit:
			return
		case <-tick.C:
			if !write(func() error {
				if _, err := io.WriteString(w, ": keep-alive\n\n"); err != nil {
					return err
				}
				return rc.Flush()
			}) {
				return
			}
		case ev, ok := <-events:
			if !ok {
				// Fell behind the store's buffer; the client reconnects
				// with Last-Event-ID.
				s.slow.Add(1)
				s.log.Info("event-stream client fell behind; dropped", zap.String("remote", r.RemoteAddr))
				return
			}
			if ev.Kind == "entry" && sent[ev.ID] {
				continue
			}
			if !write(func() error {
				if err := writeEvent(w, ev); err != nil {
					return err
				}
				return rc.Flush()
			}) {
				return
			}
		}
	}
}

func writeEvent(w io.Writer, ev Event) error {
	_, err := fmt.Fprintf(w, "id: %s\nevent: %s\ndata: %s\n\n", ev.ID, ev.Kind, ev.Data)
	return err
}
