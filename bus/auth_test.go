package bus_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/newswire/newswire/bus"
)

func startAuthServer(t *testing.T, opts *server.Options) string {
	t.Helper()
	opts.Host, opts.Port, opts.NoSigs, opts.NoLog = "127.0.0.1", -1, true, true
	srv, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("server not ready")
	}
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	return srv.ClientURL()
}

func TestConnectWithCredentials(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	url := startAuthServer(t, &server.Options{Username: "newswire", Password: "s3cret"})
	nc, err := bus.Connect(ctx, bus.ConnConfig{URLs: []string{url}, User: "newswire", Password: "s3cret"}, nil)
	if err != nil {
		t.Fatalf("user/password: %v", err)
	}
	nc.Close()
	_, err = bus.Connect(ctx, bus.ConnConfig{URLs: []string{url}, User: "newswire", Password: "wrong", ConnectTimeout: time.Second}, nil)
	if !errors.Is(err, bus.ErrUnreachable) {
		t.Errorf("wrong password: %v", err)
	}
	turl := startAuthServer(t, &server.Options{Authorization: "tok3n"})
	nc, err = bus.Connect(ctx, bus.ConnConfig{URLs: []string{turl}, Token: "tok3n"}, nil)
	if err != nil {
		t.Fatalf("token: %v", err)
	}
	nc.Close()
}

func TestTLSFilesAreChecked(t *testing.T) {
	_, err := bus.Connect(context.Background(), bus.ConnConfig{URLs: []string{"nats://127.0.0.1:1"}, TLS: bus.TLSConfig{CAFile: "/nonexistent/ca.pem"}}, nil)
	if err == nil || errors.Is(err, bus.ErrUnreachable) {
		t.Errorf("missing CA file: %v", err)
	}
}
