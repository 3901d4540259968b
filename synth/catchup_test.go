package synth

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/newswire/newswire/bus"
	"github.com/newswire/newswire/bus/bustest"
	"github.com/newswire/newswire/wire"
)

// TestCatchUpThatGetsNoAnswerIsRetried: a worker that takes over from
// another rebuilds its state from WIRE_ENTRY. While a cluster elects a
// leader or a connection is down, a fetch of that catch-up can come back
// empty with entries still to read. Taken for the end of the stream, it
// would leave the worker deciding on a history that lacks them (new
// stories for entries that belong to old ones) and acking their
// redeliveries unplaced. The new worker's connection goes through a
// proxy that loses the first pull requests of its catch-up; the
// published stories must still put every entry where one uninterrupted
// clusterer does.
func TestCatchUpThatGetsNoAnswerIsRetried(t *testing.T) {
	takeOverThroughLostPulls(t, testStream(400), 0, 0)
}

// TestCatchUpThatFailsHalfWayRepublishesWhatItReplayed: the catch-up
// reads 100 entries a fetch; the first two fetches replay what the first
// worker handled, the third what no worker handled yet (above the ack
// floor: those stories must be published), and the fourth gets no
// answer. The last 100 entries are of other topics, so only the stories
// of the third fetch hold its entries. The retried catch-up must still
// publish them, and the entries after the failure must not be placed
// as live ones before the catch-up is done.
func TestCatchUpThatFailsHalfWayRepublishesWhatItReplayed(t *testing.T) {
	stream := testStream(300)
	other := [][]string{
		{"flood", "bangladesh", "monsoon", "dhaka", "rescuers"},
		{"strike", "dockworkers", "union", "ports", "wages"},
		{"satellite", "launch", "rocket", "orbit", "payload"},
	}
	last := stream[len(stream)-1].PublishedAt
	stream = append(stream, topicStream("f", other, 100, last.Add(time.Second))...)
	takeOverThroughLostPulls(t, stream, 3, 100)
}

// takeOverThroughLostPulls has one worker handle half of the stream and
// stop, then a second one take over through a proxy that lets skip pull
// requests of the catch-up through and loses the next two; the catch-up
// fetches batch entries at a time (0: the default).
func takeOverThroughLostPulls(t *testing.T, stream []wire.Entry, skip int64, batch int) {
	srv := bustest.Start(t)
	want := reference(t, stream)
	half := len(stream) / 2

	publishEntries(t, srv.JS, stream[:half])
	_, stopA := startWorker(t, srv)
	waitAcked(t, srv.JS, uint64(half))
	stopA()

	publishEntries(t, srv.JS, stream[half:])
	p := newPullDropper(t, srv.Embedded.ClientURL(), skip, 2)
	nc, err := nats.Connect("nats://"+p.addr(), nats.MaxReconnects(-1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.SnapshotInterval = 20 * time.Millisecond
	w, err := NewWorker(context.Background(), cfg, nc, js, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.fetchWait = 200 * time.Millisecond
	if batch > 0 {
		w.fetchBatch = batch
	}
	stopB := runWorker(t, w)
	waitAcked(t, srv.JS, uint64(len(stream)))
	stopB()
	if got := p.dropped.Load(); got == 0 {
		t.Fatal("no pull request of a catch-up was lost: the test tested nothing")
	}
	if got := w.Stats().CaughtUp.Load(); got < int64(half) {
		t.Errorf("the worker rebuilt from %d entries; %d were handled before it started", got, half)
	}
	checkLog(t, readStoryLog(t, srv.JS), want)
}

// pullDropper is a TCP proxy in front of a NATS server that forwards a
// client's protocol as it is, except its first few pull requests to
// consumers of WIRE_ENTRY other than the synthesizer's durable one (the
// catch-up's ordered consumers), after the first skip of them: those are
// lost, as a request sent while a stream has no leader is.
type pullDropper struct {
	ln      net.Listener
	target  string
	skip    atomic.Int64
	drop    atomic.Int64
	dropped atomic.Int64
	mu      sync.Mutex
	conns   []net.Conn
	wg      sync.WaitGroup
}

func newPullDropper(t *testing.T, url string, skip, n int64) *pullDropper {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &pullDropper{ln: ln, target: strings.TrimPrefix(url, "nats://")}
	p.skip.Store(skip)
	p.drop.Store(n)
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *pullDropper) addr() string { return p.ln.Addr().String() }

func (p *pullDropper) accept() {
	defer p.wg.Done()
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		out, err := net.Dial("tcp", p.target)
		if err != nil {
			in.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, in, out)
		p.mu.Unlock()
		p.wg.Add(2)
		go func() {
			defer p.wg.Done()
			_, _ = io.Copy(in, out)
			in.Close()
		}()
		go func() {
			defer p.wg.Done()
			p.filter(out, in)
			out.Close()
		}()
	}
}

func (p *pullDropper) close() {
	p.ln.Close()
	p.mu.Lock()
	for _, c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// filter copies the client's protocol from src to dst op by op; a PUB or
// HPUB carries its payload's size on its line.
func (p *pullDropper) filter(dst io.Writer, src io.Reader) {
	r := bufio.NewReader(src)
	const pull = "$JS.API.CONSUMER.MSG.NEXT." + bus.StreamEntry + "."
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		f := strings.Fields(line)
		var body []byte
		if len(f) >= 3 && (f[0] == "PUB" || f[0] == "HPUB") {
			size, perr := strconv.Atoi(f[len(f)-1])
			if perr != nil {
				return
			}
			body = make([]byte, size+2) // the payload and its CRLF
			if _, err := io.ReadFull(r, body); err != nil {
				return
			}
			if name, ok := strings.CutPrefix(f[1], pull); ok && name != ConsumerName {
				switch {
				case p.skip.Load() > 0:
					p.skip.Add(-1)
				case p.drop.Load() > 0:
					p.drop.Add(-1)
					p.dropped.Add(1)
					continue
				}
			}
		}
		if _, err := io.WriteString(dst, line); err != nil {
			return
		}
		if _, err := dst.Write(body); err != nil && !errors.Is(err, net.ErrClosed) {
			return
		}
	}
}
