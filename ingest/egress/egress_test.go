package egress

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"
)

func TestClassify(t *testing.T) {
	for addr, want := range map[string]string{
		"127.0.0.1":          "loopback",
		"127.8.9.10":         "loopback",
		"::1":                "loopback",
		"::ffff:127.0.0.1":   "loopback",
		"10.1.2.3":           "private",
		"172.16.0.1":         "private",
		"172.31.255.255":     "private",
		"192.168.1.1":        "private",
		"fc00::1":            "private",
		"fd00:ec2::254":      "private",
		"169.254.169.254":    "link-local",
		"fe80::1":            "link-local",
		"0.0.0.0":            "unspecified",
		"::":                 "unspecified",
		"0.1.2.3":            "this-network",
		"100.64.0.1":         "shared (CGNAT)",
		"100.127.255.254":    "shared (CGNAT)",
		"224.0.0.1":          "multicast",
		"ff02::1":            "multicast",
		"255.255.255.255":    "broadcast",
		"240.0.0.1":          "reserved",
		"64:ff9b::a9fe:a9fe": "NAT64 of link-local",
		"2002:7f00:1::":      "6to4 of loopback",
		"8.8.8.8":            "",
		"172.32.0.1":         "",
		"100.128.0.1":        "",
		"2a00:1450:4001::1":  "",
		"64:ff9b::808:808":   "",
	} {
		if got := Classify(netip.MustParseAddr(addr)); got != want {
			t.Errorf("Classify(%s) = %q, want %q", addr, got, want)
		}
	}
}

func TestNewRejectsGarbage(t *testing.T) {
	for _, bad := range []string{"", "10.0.0.0/33", "http://x", "a b", "-x.example", "x..example"} {
		if _, err := New([]string{bad}); !errors.Is(err, ErrBadAllow) {
			t.Errorf("New(%q) = %v, want ErrBadAllow", bad, err)
		}
	}
	if _, err := New([]string{"127.0.0.0/8", "::1/128", "192.168.1.20", "feeds.intranet.example", "localhost"}); err != nil {
		t.Fatal(err)
	}
}

func TestControl(t *testing.T) {
	p := MustNew("10.0.0.0/8", "fd00::/8")
	for addr, ok := range map[string]bool{
		"10.9.9.9:80":          true,
		"[fd12::1]:443":        true,
		"[::ffff:10.1.1.1]:80": true,
		"192.168.0.1:80":       false,
		"169.254.169.254:80":   false,
		"[fe80::1%eth0]:80":    false,
		"93.184.216.34:443":    true,
		"[fd00:ec2::254]:80":   true, // allowed by fd00::/8
		"127.0.0.1:80":         false,
	} {
		err := p.Control("tcp", addr, nil)
		if ok && err != nil {
			t.Errorf("%s refused: %v", addr, err)
		}
		if !ok && !errors.Is(err, ErrRefused) {
			t.Errorf("%s: err = %v, want ErrRefused", addr, err)
		}
	}
	var nilPolicy *Policy
	if err := nilPolicy.Control("tcp", "127.0.0.1:80", nil); !errors.Is(err, ErrRefused) {
		t.Errorf("nil policy let loopback through: %v", err)
	}
}

// TestDialRefusesResolvedAddress dials a real listener on loopback by a
// name that resolves to it: the refusal must come from the dialled
// address, whatever the name.
func TestDialRefusesResolvedAddress(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())

	get := func(p *Policy, host string) error {
		tr := &http.Transport{DialContext: p.DialContext(&net.Dialer{Timeout: 5 * time.Second})}
		defer tr.CloseIdleConnections()
		c := &http.Client{Transport: tr}
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, "http://"+net.JoinHostPort(host, port)+"/", nil)
		resp, err := c.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	if err := get(nil, "localhost"); !errors.Is(err, ErrRefused) {
		t.Errorf("localhost with no allow-list: %v, want ErrRefused", err)
	}
	if err := get(nil, "127.0.0.1"); !errors.Is(err, ErrRefused) {
		t.Errorf("127.0.0.1 with no allow-list: %v, want ErrRefused", err)
	}
	if err := get(MustNew("127.0.0.0/8", "::1/128"), "localhost"); err != nil {
		t.Errorf("loopback allowed by CIDR: %v", err)
	}
	if err := get(MustNew("localhost"), "localhost"); err != nil {
		t.Errorf("loopback allowed by host name: %v", err)
	}
	if err := get(MustNew("localhost"), "127.0.0.1"); !errors.Is(err, ErrRefused) {
		t.Errorf("an allowed name must not allow its address under another name: %v", err)
	}
}
