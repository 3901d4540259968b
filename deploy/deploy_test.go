package deploy

import (
	"testing"

	"github.com/nats-io/nats-server/v2/server"
)

func TestClusterConfigParses(t *testing.T) {
	for _, v := range []string{"NATS_SERVER_NAME", "NATS_ROUTE_PASSWORD", "NATS_SYSTEM_PASSWORD", "NEWSWIRE_ADMIN_PASSWORD", "NEWSWIRE_COLLECT_PASSWORD",
		"NEWSWIRE_NORMALIZE_PASSWORD", "NEWSWIRE_SYNTH_PASSWORD", "NEWSWIRE_SERVE_PASSWORD", "NEWSWIRE_READER_PASSWORD"} {
		t.Setenv(v, "test-"+v)
	}
	opts, err := server.ProcessConfigFile("nats/cluster.conf")
	if err != nil {
		t.Fatal(err)
	}
	if opts.ServerName != "test-NATS_SERVER_NAME" || len(opts.Routes) != 3 || opts.Cluster.Name != "newswire" || opts.Cluster.Username != "route" {
		t.Errorf("server %q, %d routes, cluster %q, route user %q", opts.ServerName, len(opts.Routes), opts.Cluster.Name, opts.Cluster.Username)
	}
	if len(opts.Users) != 7 || opts.SystemAccount != "SYS" {
		t.Errorf("%d users, system account %q: accounts.conf not included", len(opts.Users), opts.SystemAccount)
	}
	if opts.LameDuckDuration <= 0 {
		t.Error("no lame_duck_duration")
	}
	if !opts.JetStream || !opts.SyncAlways {
		t.Errorf("jetstream %v, sync always %v", opts.JetStream, opts.SyncAlways)
	}
	if opts.MaxPayload != 8<<20 && opts.MaxPayload != 8e6 {
		t.Errorf("max_payload = %d", opts.MaxPayload)
	}
}
