package deploy

import (
	"testing"

	"github.com/nats-io/nats-server/v2/server"
)

func TestClusterConfigParses(t *testing.T) {
	t.Setenv("NEWSWIRE_NATS_PASSWORD", "test")
	opts, err := server.ProcessConfigFile("nats/cluster.conf")
	if err != nil {
		t.Fatal(err)
	}
	if !opts.JetStream || !opts.SyncAlways {
		t.Errorf("jetstream %v, sync always %v", opts.JetStream, opts.SyncAlways)
	}
	if opts.MaxPayload != 8<<20 && opts.MaxPayload != 8e6 {
		t.Errorf("max_payload = %d", opts.MaxPayload)
	}
}
