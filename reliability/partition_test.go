package reliability

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/newswire/newswire/bus"
)

// routeProxy forwards TCP connections to one node's route port; cut closes
// every connection it carries and refuses new ones until healed. The
// cluster's nodes reach each other only through these (see routeMesh), so
// cutting every proxy into and out of a node partitions it from the other
// two while it keeps running and keeps its clients.
type routeProxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	cut   bool
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

func newRouteProxy(t testing.TB, target string) *routeProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &routeProxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *routeProxy) addr() string { return p.ln.Addr().String() }

func (p *routeProxy) accept() {
	defer p.wg.Done()
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return // closed
		}
		p.mu.Lock()
		if p.cut {
			p.mu.Unlock()
			in.Close()
			continue
		}
		p.mu.Unlock()
		out, err := net.DialTimeout("tcp", p.target, 5*time.Second)
		if err != nil {
			in.Close() // the node is down: its peer retries
			continue
		}
		if !p.track(in, out) {
			continue
		}
		p.wg.Add(2)
		go p.pipe(in, out)
		go p.pipe(out, in)
	}
}

// track records a forwarded pair, unless the proxy was cut meanwhile.
func (p *routeProxy) track(in, out net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cut {
		in.Close()
		out.Close()
		return false
	}
	p.conns[in], p.conns[out] = struct{}{}, struct{}{}
	return true
}

// pipe copies one direction; when either side ends, both are closed.
func (p *routeProxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	_, _ = io.Copy(dst, src)
	p.mu.Lock()
	delete(p.conns, dst)
	delete(p.conns, src)
	p.mu.Unlock()
	dst.Close()
	src.Close()
}

// setCut cuts the proxy (closing what it carries) or heals it.
func (p *routeProxy) setCut(cut bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = cut
	if cut {
		for c := range p.conns {
			c.Close()
		}
	}
}

func (p *routeProxy) close() {
	p.ln.Close()
	p.setCut(true)
	p.wg.Wait()
}

// routeMesh is a proxy for every ordered pair of nodes: node i's route to
// node j goes through proxies[i][j]. Each node names only its own proxies
// as routes, and advertises a route address that takes no connection, so
// that no node reaches another around the proxies through the addresses
// the cluster gossips.
type routeMesh struct {
	proxies [][]*routeProxy
	deadEnd net.Listener
}

func newRouteMesh(t testing.TB, routePorts []int) *routeMesh {
	t.Helper()
	m := &routeMesh{proxies: make([][]*routeProxy, len(routePorts))}
	for i := range routePorts {
		m.proxies[i] = make([]*routeProxy, len(routePorts))
		for j, port := range routePorts {
			if i != j {
				m.proxies[i][j] = newRouteProxy(t, fmt.Sprintf("127.0.0.1:%d", port))
			}
		}
	}
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m.deadEnd = dead
	go func() {
		for {
			c, err := dead.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	t.Cleanup(func() { dead.Close() })
	return m
}

// routes are node i's route URLs.
func (m *routeMesh) routes(i int) []string {
	var out []string
	for j, p := range m.proxies[i] {
		if j != i {
			out = append(out, "nats-route://route:pw-route@"+p.addr())
		}
	}
	return out
}

// isolate cuts (or heals) every route into and out of node i.
func (m *routeMesh) isolate(i int, cut bool) {
	for j := range m.proxies {
		if j != i {
			m.proxies[i][j].setCut(cut)
			m.proxies[j][i].setCut(cut)
		}
	}
}

// partitionUnderLoad is event ev of the Partition subtest: once every
// replica is current, it hands the collector a chunk, cuts WIRE_RAW's
// leader off from the two other nodes while the chunk flows, hands over
// the next chunk, holds the partition until the majority side has elected
// new leaders and for partitionHold after, then heals it and waits for the
// node to catch up. Stages connected to the cut-off node stay connected
// to it (it is alive): their JetStream requests time out there until the
// partition heals, and they retry. It returns the node's name.
func (r *clusterRig) partitionUnderLoad(t *testing.T, ev, chunk int) string {
	t.Helper()
	waitFor(t, 2*time.Minute, "every replica current before a partition", func() string { r.stopped(t); return replicated(r.js) })
	name, err := leaderOf(r.js, bus.StreamRaw)
	if err != nil {
		t.Fatal(err)
	}
	i := r.cl.node(name)
	if i < 0 {
		t.Fatalf("leader %q is none of the nodes", name)
	}
	var majority []string
	for k, u := range r.cl.urls {
		if k != i {
			majority = append(majority, u)
		}
	}
	_, mjs := clusterClient(t, majority, "admin")
	r.feed(t, chunk)
	held, _ := streamMsgs(mjs, bus.StreamRaw)
	r.cl.mesh.isolate(i, true)
	cutAt := time.Now()
	t.Logf("partition %d: cut %s (WIRE_RAW's leader) off from the two other nodes, as WIRE_RAW held %d of the %d items fed",
		ev+1, name, held, r.fed)
	r.handOver(t, chunk+1)
	waitFor(t, 2*time.Minute, "new leaders on the majority side", func() string {
		r.stopped(t)
		for _, s := range []string{bus.StreamRaw, bus.StreamEntry} {
			l, err := leaderOf(mjs, s)
			if err != nil {
				return err.Error()
			}
			if l == name {
				return s + " still led by " + name
			}
		}
		return ""
	})
	time.Sleep(partitionHold)
	r.stopped(t)
	during, err := streamMsgs(mjs, bus.StreamRaw)
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		t.Logf("WIRE_RAW on the majority side: %v", err)
	}
	r.cl.mesh.isolate(i, false)
	t.Logf("partition %d: healed after %s; the majority side's WIRE_RAW went from %d to %d items meanwhile",
		ev+1, time.Since(cutAt).Round(time.Second), held, during)
	return name
}

// partitionHold is how long a partition lasts once the majority side has
// new leaders: longer than a client's request timeout and the consumers'
// heartbeats, so stages on the cut-off node see their requests fail.
const partitionHold = 15 * time.Second
