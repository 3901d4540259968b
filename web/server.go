package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
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
	// StreamHeartbeat is how often an idle event stream gets a comment
	// line (15s), so proxies that close quiet connections keep it open.
	StreamHeartbeat time.Duration
	// Metrics, when set, is served at /metrics.
	Metrics http.Handler
	// Sources, when set, reports every configured source with its health
	// (/api/v1/sources and the pages' notices of failing and quiet sources).
	Sources SourceLister
	// Ready, when set, says whether the process can do its work: nil once
	// it is up and its health checks pass, otherwise why not. /readyz
	// answers 503 with that reason; without Ready, /readyz answers as
	// /healthz does.
	Ready func(ctx context.Context) error
}

// SourceLister reports the configured sources and their health.
type SourceLister interface {
	Sources(ctx context.Context) ([]SourceStatus, error)
}

// SourceStatus is one source and its collector's health.
type SourceStatus struct {
	ID   string `json:"id"`
	Kind string `json:"kind"`
	Code string `json:"code,omitempty"`
	Name string `json:"name,omitempty"`
	URL  string `json:"url,omitempty"`
	// Status is "ok", "failing" or "never polled".
	Status      string    `json:"status"`
	Errors      int64     `json:"errors"`
	LastError   string    `json:"last_error,omitempty"`
	LastPoll    time.Time `json:"last_poll,omitzero"`
	LastSuccess time.Time `json:"last_success,omitzero"`
	NextPoll    time.Time `json:"next_poll,omitzero"`
	Published   int64     `json:"published"`
	// Quiet marks a source that answers but has brought nothing new since
	// LastNew for far longer than its learned cadence (CadenceSeconds,
	// zero while it is still learned).
	Quiet          bool      `json:"quiet,omitempty"`
	LastNew        time.Time `json:"last_new,omitzero"`
	CadenceSeconds float64   `json:"cadence_seconds,omitempty"`
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
	routes                 []string
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
	if cfg.StreamHeartbeat <= 0 {
		cfg.StreamHeartbeat = DefaultStreamHeartbeat
	}
	s := &Server{cfg: cfg, store: store, log: log.Named("web"), mux: http.NewServeMux(), quit: make(chan struct{})}
	s.handle("GET /healthz", healthz)
	s.handle("GET /readyz", s.readyz)
	for _, prefix := range []string{"/api/v1", "/api"} { // /api/… are the unversioned aliases
		s.handle("GET "+prefix+"/entries", s.entries)
		s.handle("GET "+prefix+"/stories", s.stories)
		s.handle("GET "+prefix+"/stories/{id}", s.story)
		s.handle("GET "+prefix+"/stories/{id}/provenance", s.provenance)
		s.handle("GET "+prefix+"/sources", s.sources)
		s.handle("GET "+prefix+"/stream", s.stream)
	}
	s.handle("GET /api/v1/openapi.yaml", s.openAPI)
	s.handle("GET /{$}", s.wirePage)
	s.handle("GET /stories", s.storiesPage)
	s.handle("GET /stories/{id}", s.storyPage)
	s.handle("GET /entries/{id}", s.entryRedirect)
	s.handle("GET /static/{name}", s.static)
	if cfg.Metrics != nil {
		s.mux.Handle("GET /metrics", cfg.Metrics)
		s.routes = append(s.routes, "GET /metrics")
	}
	s.mux.HandleFunc("/", s.notFound)
	return s
}

// handle registers a route and remembers its pattern, which the OpenAPI
// conformance test compares with the document.
func (s *Server) handle(pattern string, h http.HandlerFunc) {
	s.mux.HandleFunc(pattern, h)
	s.routes = append(s.routes, pattern)
}

// Routes lists the registered patterns ("GET /api/v1/entries", …).
func (s *Server) Routes() []string { return append([]string(nil), s.routes...) }

// NewMetricsServer serves only /metrics, /healthz and /readyz (asking
// ready, which may be nil) on addr, for the stage processes that have no API.
func NewMetricsServer(addr string, metrics http.Handler, ready func(context.Context) error, log *zap.Logger) *Server {
	if log == nil {
		log = zap.NewNop()
	}
	s := &Server{cfg: Config{Listen: addr, Metrics: metrics, Ready: ready}, log: log.Named("metrics"), mux: http.NewServeMux(), quit: make(chan struct{})}
	s.mux.HandleFunc("GET /healthz", healthz)
	s.mux.HandleFunc("GET /readyz", s.readyz)
	s.mux.Handle("GET /metrics", metrics)
	return s
}

// readyTimeout bounds a readiness check, well below the period of any
// probe that would call it.
const readyTimeout = 3 * time.Second

// healthz is liveness: the process answers.
func healthz(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) }

// readyz is readiness: 200 "ready" while cfg.Ready passes, 503 with its
// reason otherwise, so a load balancer or probe takes a process that
// lost the bus or stalled out of rotation without restarting it.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if s.cfg.Ready != nil {
		ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
		err := s.cfg.Ready(ctx)
		cancel()
		if err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(err.Error() + "\n"))
			return
		}
	}
	_, _ = w.Write([]byte("ready\n"))
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

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(true)
	_ = enc.Encode(v)
}
