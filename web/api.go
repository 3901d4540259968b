package web

import (
	_ "embed"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/newswire/newswire/provenance"
)

//go:embed openapi.yaml
var openAPIDoc []byte

// apiError is the body of every error answer: a stable code for programs
// and a message for people.
type apiError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// Error codes.
const (
	codeNotFound     = "not_found"
	codeBadParameter = "bad_parameter"
	codeUnavailable  = "unavailable"
	codeInternal     = "internal"
)

func writeError(w http.ResponseWriter, status int, code, msg string) {
	var e apiError
	e.Error.Code, e.Error.Message = code, msg
	writeJSON(w, status, e)
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/api/") {
		writeError(w, http.StatusNotFound, codeNotFound, "no such endpoint: "+r.Method+" "+r.URL.Path+" (see /api/v1/openapi.yaml)")
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusNotFound)
	_, _ = io.WriteString(w, "404: no such page; the live wire is at / and the stories at /stories\n")
}

func (s *Server) openAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/yaml")
	_, _ = w.Write(openAPIDoc)
}

// badParam is a query parameter that could not be read.
type badParam struct{ name, msg string }

func (e badParam) Error() string { return e.name + ": " + e.msg }

func limitParam(r *http.Request, def, most int) (int, error) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		return 0, badParam{"limit", fmt.Sprintf("must be a positive integer, not %q", v)}
	}
	return min(n, most), nil
}

func timeParam(r *http.Request, name string) (time.Time, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, badParam{name, fmt.Sprintf("must be an RFC 3339 time such as 2024-06-11T10:00:00Z, not %q", v)}
	}
	return t, nil
}

// entryFilter reads the entry filters of a request.
func entryFilter(r *http.Request) (EntryFilter, error) {
	q := r.URL.Query()
	f := EntryFilter{Kind: q.Get("kind"), Source: q.Get("source"), Language: q.Get("language"), Story: q.Get("story"), Query: q.Get("q")}
	var err error
	if f.Since, err = timeParam(r, "since"); err != nil {
		return f, err
	}
	if f.Until, err = timeParam(r, "until"); err != nil {
		return f, err
	}
	return f, nil
}

func (s *Server) entries(w http.ResponseWriter, r *http.Request) {
	f, err := entryFilter(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, codeBadParameter, err.Error())
		return
	}
	limit, err := limitParam(r, 50, 1000)
	if err != nil {
		writeError(w, http.StatusBadRequest, codeBadParameter, err.Error())
		return
	}
	page, err := s.store.QueryEntries(f, limit, r.URL.Query().Get("cursor"))
	if err != nil {
		status, code, msg := entryQueryError(err)
		writeError(w, status, code, msg)
		return
	}
	out := map[string]any{"entries": page.Entries}
	if page.Next != "" {
		out["next"] = page.Next
	}
	writeJSON(w, http.StatusOK, out)
}

// entryQueryError is the answer to a QueryEntries error.
func entryQueryError(err error) (status int, code, msg string) {
	switch {
	case errors.Is(err, ErrBadCursor):
		return http.StatusBadRequest, codeBadParameter, "cursor: not one this server wrote; start again without it"
	case errors.Is(err, ErrNoIndex):
		return http.StatusServiceUnavailable, codeUnavailable, "q: the full-text index is unavailable on this server; the other filters work"
	case errors.Is(err, ErrQueryTooLong):
		return http.StatusBadRequest, codeBadParameter, fmt.Sprintf("q: at most %d bytes", maxQueryBytes)
	}
	var qe queryError
	if errors.As(err, &qe) {
		return http.StatusBadRequest, codeBadParameter, "q: " + string(qe)
	}
	return http.StatusInternalServerError, codeInternal, "q: the search failed: " + err.Error()
}

func storyFilter(r *http.Request) (StoryFilter, error) {
	q := r.URL.Query()
	f := StoryFilter{Status: q.Get("status"), Language: q.Get("language"), Source: q.Get("source")}
	switch f.Status {
	case "", "developing", "stale", "merged":
	default:
		return f, badParam{"status", fmt.Sprintf("must be developing, stale or merged, not %q", f.Status)}
	}
	switch a := q.Get("active"); a {
	case "", "false", "0":
	case "true", "1":
		f.Active = true
	default:
		return f, badParam{"active", fmt.Sprintf("must be true or false, not %q", a)}
	}
	var err error
	f.Since, err = timeParam(r, "since")
	return f, err
}

func (s *Server) stories(w http.ResponseWriter, r *http.Request) {
	f, err := storyFilter(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, codeBadParameter, err.Error())
		return
	}
	limit, err := limitParam(r, 50, 1000)
	if err != nil {
		writeError(w, http.StatusBadRequest, codeBadParameter, err.Error())
		return
	}
	page, err := s.store.QueryStories(f, limit, r.URL.Query().Get("cursor"))
	if err != nil {
		writeError(w, http.StatusBadRequest, codeBadParameter, "cursor: not one this server wrote; start again without it")
		return
	}
	out := map[string]any{"stories": page.Stories}
	if page.Next != "" {
		out["next"] = page.Next
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) story(w http.ResponseWriter, r *http.Request) {
	st, ok := s.store.Story(r.PathValue("id"))
	if !ok {
		writeError(w, http.StatusNotFound, codeNotFound, "story not found: "+r.PathValue("id"))
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (s *Server) provenance(w http.ResponseWriter, r *http.Request) {
	st, ok := s.store.Story(r.PathValue("id"))
	if !ok {
		writeError(w, http.StatusNotFound, codeNotFound, "story not found: "+r.PathValue("id"))
		return
	}
	var err error
	switch f := strings.ToLower(r.URL.Query().Get("format")); f {
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
		writeError(w, http.StatusBadRequest, codeBadParameter, fmt.Sprintf("format: must be json, md, html or prov, not %q", f))
		return
	}
	if err != nil {
		s.log.Warn("writing provenance failed", zap.Error(err))
	}
}

func (s *Server) sources(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Sources == nil {
		writeError(w, http.StatusServiceUnavailable, codeUnavailable, "this server was started without source health")
		return
	}
	list, err := s.cfg.Sources.Sources(r.Context())
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, codeUnavailable, "source health cannot be read: "+err.Error())
		return
	}
	if list == nil {
		list = []SourceStatus{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"sources": list})
}

// DefaultStreamHeartbeat is Config.StreamHeartbeat's default: well
// inside the idle timeouts of common proxies (nginx's is 60s).
const DefaultStreamHeartbeat = 15 * time.Second

// stream serves live entries and story updates as Server-Sent Events:
// "event: entry" with the entry's JSON (id: the entry id) and "event:
// story" with the snapshot's JSON without its provenance list (id:
// "<story>:<version>"). ?events=entry or ?events=story sends one kind only.
// A client that reconnects with Last-Event-ID (of either kind) gets every
// event it missed while the store's event log still holds it; ?last=N
// first sends the N latest entries.
func (s *Server) stream(w http.ResponseWriter, r *http.Request) {
	if _, ok := w.(http.Flusher); !ok {
		writeError(w, http.StatusInternalServerError, codeInternal, "streaming unsupported")
		return
	}
	want := map[string]bool{"entry": true, "story": true}
	if ev := r.URL.Query().Get("events"); ev != "" {
		want = map[string]bool{}
		for _, k := range strings.Split(ev, ",") {
			if k != "entry" && k != "story" {
				writeError(w, http.StatusBadRequest, codeBadParameter, fmt.Sprintf("events: must list entry and/or story, not %q", k))
				return
			}
			want[k] = true
		}
	}
	if n := s.streams.Add(1); n > int64(s.cfg.MaxStreams) {
		s.streams.Add(-1)
		s.refused.Add(1)
		w.Header().Set("Retry-After", "30")
		writeError(w, http.StatusServiceUnavailable, codeUnavailable, "too many event-stream clients; retry later")
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

	// sent holds the backlog's ids: an event logged after the subscription
	// began is both in the backlog and on the channel.
	sent := make(map[string]bool)
	var backlog []Event
	if last := r.Header.Get("Last-Event-ID"); last != "" {
		var ok bool
		if backlog, ok = s.store.EventsAfter(last); !ok {
			if !write(func() error {
				_, err := io.WriteString(w, ": the resume point is no longer held; continuing with live events\n\n")
				return err
			}) {
				return
			}
		}
	} else if n, err := strconv.Atoi(r.URL.Query().Get("last")); err == nil && n > 0 && want["entry"] {
		backlog = s.store.RecentEntryEvents(min(n, 1000))
	}
	for _, ev := range backlog {
		if !want[ev.Kind] {
			continue
		}
		if !write(func() error { return writeEvent(w, ev) }) {
			return
		}
		sent[ev.ID] = true
	}
	if !write(rc.Flush) {
		return
	}
	tick := time.NewTicker(s.cfg.StreamHeartbeat)
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
			if !want[ev.Kind] || sent[ev.ID] {
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
