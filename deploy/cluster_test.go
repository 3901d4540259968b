package deploy_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/newswire/newswire/bus"
	"github.com/newswire/newswire/internal/freeport"
)

// freePort is a loopback port that was free a moment ago, outside the
// range outgoing connections take theirs from (see freeport).
func freePort(t *testing.T) int {
	t.Helper()
	return freeport.Take(t, 1)[0]
}

// TestShippedClusterRunsThePipelineOnR3 brings up the shipped cluster.conf
// as three servers in this process — each with its own name and store, and
// the listen and route ports moved to free loopback ports — and runs the
// pipeline on it with R3 streams and buckets, every stage as its own user.
func TestShippedClusterRunsThePipelineOnR3(t *testing.T) {
	if testing.Short() {
		t.Skip("three servers with fsync on every write: not in -short")
	}
	setPasswords(t)
	t.Setenv("NATS_ROUTE_PASSWORD", "pw-route")
	routePorts := []int{freePort(t), freePort(t), freePort(t)}
	var routes []string
	for _, p := range routePorts {
		routes = append(routes, fmt.Sprintf("nats-route://route:pw-route@127.0.0.1:%d", p))
	}
	var servers []*server.Server
	var urls []string
	for i := range 3 {
		t.Setenv("NATS_SERVER_NAME", fmt.Sprintf("nats-%d", i+1))
		opts, err := server.ProcessConfigFile("nats/cluster.conf")
		if err != nil {
			t.Fatal(err)
		}
		if !opts.SyncAlways || opts.Cluster.Name != "newswire" || len(opts.Routes) != 3 {
			t.Fatalf("cluster.conf: sync always %v, cluster %q, %d routes", opts.SyncAlways, opts.Cluster.Name, len(opts.Routes))
		}
		// Only where the servers listen and keep their files changes.
		opts.Host, opts.Port = "127.0.0.1", -1
		opts.HTTPHost, opts.HTTPPort = "", 0
		opts.Cluster.Host, opts.Cluster.Port = "127.0.0.1", routePorts[i]
		opts.Routes = server.RoutesFromStr(strings.Join(routes, ","))
		opts.StoreDir = t.TempDir()
		opts.NoSigs, opts.NoLog = true, true
		s, err := server.NewServer(opts)
		if err != nil {
			t.Fatal(err)
		}
		go s.Start()
		t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
		servers = append(servers, s)
	}
	for _, s := range servers {
		if !s.ReadyForConnections(60 * time.Second) {
			t.Fatalf("%s not ready", s.Name())
		}
		urls = append(urls, s.ClientURL())
	}
	waitFor(t, "a JetStream meta leader and three peers", func() bool {
		for _, s := range servers {
			if s.JetStreamIsLeader() {
				return len(s.JetStreamClusterPeers()) == 3
			}
		}
		return false
	})

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	as := map[string]*role{}
	for _, r := range roles {
		as[r] = connectAs(t, strings.Join(urls, ","), r)
	}
	topo := bus.DefaultTopology()
	topo.Replicas = 3
	stop := runPipeline(t, ctx, as, topo)
	stop()
	for _, r := range roles {
		as[r].noViolations(t)
	}
	for _, name := range []string{bus.StreamRaw, bus.StreamEntry, bus.StreamStory, bus.StreamDLQ, "KV_" + bus.BucketFingerprint, "KV_" + bus.BucketSource} {
		s, err := as["admin"].js.Stream(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		info := s.CachedInfo()
		if info.Config.Replicas != 3 || info.Cluster == nil || len(info.Cluster.Replicas) != 2 {
			t.Errorf("%s: %d replicas configured, cluster %+v; want R3", name, info.Config.Replicas, info.Cluster)
		}
	}
}
