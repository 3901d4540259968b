// Package bustest starts a real JetStream-enabled nats-server on a random
// port with a temporary store, for any package's tests.
package bustest

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/newswire/newswire/bus"
)

// Server is a running test server with a connected client.
type Server struct {
	Embedded *bus.Embedded
	Conn     *nats.Conn
	JS       jetstream.JetStream
	StoreDir string
}

// Start starts a server with the design's topology on a temp dir. It is
// shut down when the test ends.
func Start(tb testing.TB) *Server {
	tb.Helper()
	return StartIn(tb, tb.TempDir())
}

// StartIn starts a server on dir, so that a test can restart a server on
// the same store.
func StartIn(tb testing.TB, dir string) *Server {
	tb.Helper()
	return StartWith(tb, dir, bus.DefaultTopology())
}

// StartWith starts a server on dir with the given topology, so that a test
// can shorten a setting such as the streams' duplicate window.
func StartWith(tb testing.TB, dir string, topo bus.Topology) *Server {
	tb.Helper()
	emb, err := bus.StartEmbedded(bus.EmbeddedConfig{
		StoreDir:   dir,
		Port:       -1,
		MaxMemory:  256 << 20,
		MaxStore:   1 << 30,
		MaxPayload: 8 << 20,
	}, nil)
	if err != nil {
		tb.Fatalf("start nats-server: %v", err)
	}
	nc, err := nats.Connect(emb.ClientURL())
	if err != nil {
		emb.Shutdown()
		tb.Fatalf("connect: %v", err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		tb.Fatalf("jetstream: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := bus.EnsureTopology(ctx, js, topo); err != nil {
		tb.Fatalf("topology: %v", err)
	}
	s := &Server{Embedded: emb, Conn: nc, JS: js, StoreDir: dir}
	tb.Cleanup(s.Stop)
	return s
}

// Stop closes the client and shuts the server down. It may be called more
// than once.
func (s *Server) Stop() {
	if s.Conn != nil {
		s.Conn.Close()
		s.Conn = nil
	}
	if s.Embedded != nil {
		s.Embedded.Shutdown()
		s.Embedded = nil
	}
}

// Connect opens another client connection to the server, closed when the test ends.
func (s *Server) Connect(tb testing.TB) (*nats.Conn, jetstream.JetStream) {
	tb.Helper()
	nc, err := nats.Connect(s.Embedded.ClientURL())
	if err != nil {
		tb.Fatalf("connect: %v", err)
	}
	tb.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		tb.Fatalf("jetstream: %v", err)
	}
	return nc, js
}

// Messages returns the bodies of every message stream holds, in sequence
// order.
func Messages(tb testing.TB, js jetstream.JetStream, stream string) [][]byte {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		tb.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	var out [][]byte
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, m.Data)
	}
	return out
}
