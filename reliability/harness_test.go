package reliability

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/newswire/newswire/bus"
	"github.com/newswire/newswire/config"
	"github.com/newswire/newswire/ingest/replay"
	"github.com/newswire/newswire/internal/freeport"
	"github.com/newswire/newswire/normalize"
	"github.com/newswire/newswire/synth"
)

// full reports whether the full versions run (make test-reliability).
func full() bool { return os.Getenv("NEWSWIRE_RELIABILITY") == "full" }

var (
	binDir   string
	binOnce  sync.Once
	binError error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// binaries builds the newswire binary and the natsserver helper once per
// test run and returns their paths.
func binaries(t testing.TB) (newswire, natsserver string) {
	t.Helper()
	binOnce.Do(func() {
		binDir, binError = os.MkdirTemp("", "newswire-reliability-")
		if binError != nil {
			return
		}
		for _, pkg := range []string{"../cmd/newswire", "../internal/cmd/natsserver"} {
			out, err := exec.Command("go", "build", "-o", binDir, pkg).CombinedOutput()
			if err != nil {
				binError = fmt.Errorf("go build %s: %w\n%s", pkg, err, out)
				return
			}
		}
	})
	if binError != nil {
		t.Fatal(binError)
	}
	return filepath.Join(binDir, "newswire"), filepath.Join(binDir, "natsserver")
}

var (
	upstreamOnce  sync.Once
	upstreamBin   string
	upstreamError error
)

// upstreamServer builds nats-server's own main, at the version go.mod pins
// for the embedded server, and returns its path: the cluster tests run the
// shipped cluster.conf with the binary operators run.
func upstreamServer(t testing.TB) string {
	t.Helper()
	newswire, _ := binaries(t) // makes binDir
	upstreamOnce.Do(func() {
		upstreamBin = filepath.Join(filepath.Dir(newswire), "nats-server")
		out, err := exec.Command("go", "build", "-o", upstreamBin, "github.com/nats-io/nats-server/v2").CombinedOutput()
		if err != nil {
			upstreamError = fmt.Errorf("go build nats-server: %w\n%s", err, out)
		}
	})
	if upstreamError != nil {
		t.Fatal(upstreamError)
	}
	return upstreamBin
}

func freePort(t testing.TB) int {
	t.Helper()
	return freePorts(t, 1)[0]
}

// freePorts returns n distinct loopback ports that were free a moment ago,
// outside the range outgoing connections take theirs from (see freeport).
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	return freeport.Take(t, n)
}

// proc is one child process, started again by the test as a supervisor
// (systemd's Restart=always) would.
type proc struct {
	name   string
	bin    string
	args   []string
	env    []string // added to the test's environment
	logDir string
	// owner, when set, is the test whose end kills the process (a process
	// that outlives the subtest that starts it); else the starting test.
	owner  testing.TB
	cmd    *exec.Cmd
	done   chan struct{}
	err    error
	starts int
}

func (p *proc) start(t testing.TB) {
	t.Helper()
	p.starts++
	logf, err := os.Create(filepath.Join(p.logDir, fmt.Sprintf("%s.%d.log", p.name, p.starts)))
	if err != nil {
		t.Fatal(err)
	}
	p.cmd = exec.Command(p.bin, p.args...)
	p.cmd.Env = append(os.Environ(), p.env...)
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	if err := p.cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("start %s: %v", p.name, err)
	}
	p.done = make(chan struct{})
	cmd, done := p.cmd, p.done
	go func() {
		p.err = cmd.Wait()
		logf.Close()
		close(done)
	}()
	// A test that stops early leaves no process behind.
	owner := p.owner
	if owner == nil {
		owner = t
	}
	owner.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGKILL)
		<-done
	})
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// kill SIGKILLs the process and waits until it is gone.
func (p *proc) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// stop asks the process to stop (SIGTERM) and waits, killing it after a
// minute. A process never started is left alone.
func (p *proc) stop() {
	if p.starts == 0 || p.exited() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(time.Minute):
		p.kill()
	}
}

// lastLog is the end of the process's latest log, for failure messages.
func (p *proc) lastLog() string {
	b, _ := os.ReadFile(filepath.Join(p.logDir, fmt.Sprintf("%s.%d.log", p.name, p.starts)))
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// startServer starts the natsserver helper and waits until it serves
// clients with the token of the data directory dir.
func startServer(t *testing.T, p *proc, url, dir string) {
	t.Helper()
	p.start(t)
	waitFor(t, 60*time.Second, "nats-server ready", func() string {
		if p.exited() {
			t.Fatalf("natsserver exited: %v\n%s", p.err, p.lastLog())
		}
		nc, err := nats.Connect(url, nats.Token(tokenOf(t, dir)))
		if err != nil {
			return err.Error()
		}
		nc.Close()
		return ""
	})
}

func tokenOf(t *testing.T, dir string) string {
	t.Helper()
	tok, err := config.LoadOrCreateKey(filepath.Join(dir, "nats.token"))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// waitFor polls cond (which says what is still missing, "" when done)
// until it holds or the deadline passes.
func waitFor(t testing.TB, limit time.Duration, what string, cond func() string) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		why := cond()
		if why == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not there after %s: %s", what, limit, why)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// client connects the test to the server with the data directory's token;
// it reconnects across server restarts.
func client(t *testing.T, url, dir string) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	return connect(t, url, nats.Token(tokenOf(t, dir)))
}

// connect connects the test to url with auth, reconnecting for as long as
// it takes (servers and nodes are killed and started again).
func connect(t testing.TB, url string, auth nats.Option) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(url, auth, nats.MaxReconnects(-1), nats.ReconnectWait(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return nc, js
}

// testBackoff is the redelivery backoff of both consumers in the kill
// tests: one 30 s step, the shortest the workers accept. What the tests
// check (nothing lost, nothing doubled) does not depend on the pacing, and
// the default's 5 and 10 minute steps made each test wait out an item held
// through several kills for that long. With them the pacing hid a stall:
// a CI run with [30s] left 199 items unacknowledged, as the normalizer's
// crash searches had run into the server's limit of consumers per stream
// and stopped it pulling (fixed in normalize.findEntry).
const testBackoff = "redelivery_backoff: [30s]"

// idleBound is how long a test waits for the pipeline to go idle after its
// last kill: the longest redelivery step of either consumer's BackOff, as
// the server holds it (an item a killed worker held through several kills
// waits that long before it is offered again), plus three minutes to do
// the work. When the server cannot say, it takes the default steps.
func idleBound(js jetstream.JetStream) time.Duration {
	longest := time.Duration(0)
	steps := [][]time.Duration{normalize.DefaultRedeliveryBackoff(), synth.DefaultRedeliveryBackoff()}
	for i, c := range []struct{ stream, name string }{{bus.StreamRaw, normalize.ConsumerName}, {bus.StreamEntry, synth.ConsumerName}} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if cons, err := js.Consumer(ctx, c.stream, c.name); err == nil {
			if info, err := cons.Info(ctx); err == nil {
				steps[i] = info.Config.BackOff
			}
		}
		cancel()
	}
	for _, s := range steps {
		for _, d := range s {
			longest = max(longest, d)
		}
	}
	return longest + 3*time.Minute
}

// pending says what the normalizer's and the synthesizer's consumers still
// have to do, or "" when both are idle.
func pending(js jetstream.JetStream) string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, c := range []struct{ stream, name string }{{bus.StreamRaw, "normalize"}, {bus.StreamEntry, "synth"}} {
		cons, err := js.Consumer(ctx, c.stream, c.name)
		if err != nil {
			return fmt.Sprintf("%s consumer: %v", c.name, err)
		}
		info, err := cons.Info(ctx)
		if err != nil {
			return fmt.Sprintf("%s consumer: %v", c.name, err)
		}
		if info.NumPending != 0 || info.NumAckPending != 0 {
			// Redelivered and the last delivery's time tell a message
			// waiting out the consumer's BackOff from a stuck consumer.
			return fmt.Sprintf("%s: %d pending, %d unacknowledged, %d redelivered, %d waiting, last delivery %s", c.name, info.NumPending, info.NumAckPending, info.NumRedelivered, info.NumWaiting, lastActive(info.Delivered.Last))
		}
	}
	return ""
}

// lastActive is how long ago t was, or "never".
func lastActive(t *time.Time) string {
	if t == nil {
		return "never"
	}
	return time.Since(*t).Round(time.Second).String() + " ago"
}

func streamMsgs(js jetstream.JetStream, stream string) (uint64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return 0, err
	}
	info, err := s.Info(ctx)
	if err != nil {
		return 0, err
	}
	return info.State.Msgs, nil
}

// readAll reads every message a stream holds now.
func readAll(t *testing.T, js jetstream.JetStream, stream string) []*jetstream.RawStreamMsg {
	t.Helper()
	ctx := context.Background()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []*jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

// replaySlice writes the first n items of the bundled Telegram sample
// (then of the UCI headlines, when n is larger) to a replay file in dir
// and returns the file and its items.
func replaySlice(t *testing.T, dir string, n int) (string, []replay.Item) {
	t.Helper()
	var lines [][]byte
	for _, f := range []string{"../testdata/replay/telegram-ru-news-sample.jsonl.gz", "../testdata/replay/uci-news-2014-03.jsonl"} {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		var r io.Reader = fh
		if strings.HasSuffix(f, ".gz") {
			gz, err := gzip.NewReader(fh)
			if err != nil {
				t.Fatal(err)
			}
			r = gz
		}
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		for sc.Scan() && len(lines) < n {
			if len(bytes.TrimSpace(sc.Bytes())) > 0 {
				lines = append(lines, append([]byte(nil), sc.Bytes()...))
			}
		}
		fh.Close()
		if len(lines) >= n {
			break
		}
	}
	path := filepath.Join(dir, "replay.jsonl")
	if err := os.WriteFile(path, append(bytes.Join(lines, []byte("\n")), '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
	items, err := replay.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, items
}

// decode unmarshals a message's JSON body.
func decode(t *testing.T, data []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatal(err)
	}
}

func jsonUnmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }
