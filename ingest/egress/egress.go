// Package egress decides which addresses the collectors may connect to.
//
// Feeds, their redirects and WebSub hubs are named by strangers, so a
// fetch must not reach the operator's own network: loopback, private,
// link-local (cloud metadata at 169.254.169.254 and fd00:ec2::254 among
// them), shared (CGNAT), multicast, unspecified and reserved addresses are
// refused unless the configuration allows them. The check runs on the
// address actually dialled, after name resolution (net.Dialer.Control), so
// a name that resolves to a public address when checked and to a private
// one when used (DNS rebinding) is caught too.
package egress

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"syscall"
)

// ErrRefused matches every connection the policy refused.
var ErrRefused = errors.New("egress: address refused")

// RefusedError names the refused address and why it was refused.
type RefusedError struct {
	Addr   string
	Reason string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("%v: %s is a %s address (allow it with collector.allow_private)", ErrRefused, e.Addr, e.Reason)
}

// Unwrap makes errors.Is(err, ErrRefused) hold.
func (e *RefusedError) Unwrap() error { return ErrRefused }

// Policy holds what the operator allowed beyond public addresses. The zero
// value and nil allow public addresses only.
type Policy struct {
	prefixes []netip.Prefix
	hosts    map[string]bool
}

// ErrBadAllow is returned by New for an entry that is neither a CIDR, an
// IP address nor a host name.
var ErrBadAllow = errors.New("egress: not a CIDR, IP address or host name")

// New builds a policy from allow-list entries: CIDRs ("10.0.0.0/8",
// "::1/128"), single addresses ("192.168.1.20") or host names
// ("feeds.intranet.example"). A host name is trusted whatever it resolves
// to; a CIDR or address allows the addresses it covers for any name.
func New(allow []string) (*Policy, error) {
	p := &Policy{hosts: make(map[string]bool)}
	for _, a := range allow {
		a = strings.TrimSpace(a)
		if pf, err := netip.ParsePrefix(a); err == nil {
			p.prefixes = append(p.prefixes, pf.Masked())
			continue
		}
		if ip, err := netip.ParseAddr(a); err == nil {
			p.prefixes = append(p.prefixes, netip.PrefixFrom(ip.Unmap(), ip.Unmap().BitLen()))
			continue
		}
		if !validHost(a) {
			return nil, fmt.Errorf("%w: %q", ErrBadAllow, a)
		}
		p.hosts[strings.ToLower(strings.TrimSuffix(a, "."))] = true
	}
	return p, nil
}

// MustNew is New for fixed lists known to be valid (tests, defaults).
func MustNew(allow ...string) *Policy {
	p, err := New(allow)
	if err != nil {
		panic(err)
	}
	return p
}

func validHost(h string) bool {
	h = strings.TrimSuffix(h, ".")
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

// special lists ranges that are not ordinary public unicast beyond what
// netip's predicates cover.
var special = []struct {
	prefix netip.Prefix
	reason string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "this-network"},
	{netip.MustParsePrefix("100.64.0.0/10"), "shared (CGNAT)"},
	{netip.MustParsePrefix("192.0.0.0/24"), "IETF protocol"},
	{netip.MustParsePrefix("192.0.2.0/24"), "documentation"},
	{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking"},
	{netip.MustParsePrefix("198.51.100.0/24"), "documentation"},
	{netip.MustParsePrefix("203.0.113.0/24"), "documentation"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved"},
	{netip.MustParsePrefix("100::/64"), "discard"},
	{netip.MustParsePrefix("2001:db8::/32"), "documentation"},
	{netip.MustParsePrefix("fec0::/10"), "site-local"},
}

// embedsV4 lists IPv6 ranges that carry an IPv4 address, which is checked
// in its turn: NAT64 (RFC 6052) in the last 32 bits, 6to4 after 2002::.
var (
	nat64  = netip.MustParsePrefix("64:ff9b::/96")
	sixTo4 = netip.MustParsePrefix("2002::/16")
)

// Classify says why ip is not an ordinary public address, or "" when it is.
func Classify(ip netip.Addr) string {
	ip = ip.Unmap()
	switch {
	case !ip.IsValid():
		return "invalid"
	case ip.IsUnspecified():
		return "unspecified"
	case ip.IsLoopback():
		return "loopback"
	case ip.IsPrivate():
		return "private"
	case ip.IsLinkLocalUnicast():
		return "link-local"
	case ip.IsMulticast(), ip.IsLinkLocalMulticast(), ip.IsInterfaceLocalMulticast():
		return "multicast"
	}
	if ip.Is4() && ip == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		return "broadcast"
	}
	for _, s := range special {
		if s.prefix.Contains(ip) {
			return s.reason
		}
	}
	b := ip.As16()
	switch {
	case nat64.Contains(ip):
		if r := Classify(netip.AddrFrom4([4]byte(b[12:16]))); r != "" {
			return "NAT64 of " + r
		}
	case sixTo4.Contains(ip):
		if r := Classify(netip.AddrFrom4([4]byte(b[2:6]))); r != "" {
			return "6to4 of " + r
		}
	}
	return ""
}

// allowedIP reports whether the policy lets a connection reach ip.
func (p *Policy) allowedIP(ip netip.Addr) (string, bool) {
	ip = ip.Unmap()
	r := Classify(ip)
	if r == "" {
		return "", true
	}
	if p != nil {
		for _, pf := range p.prefixes {
			if pf.Contains(ip) {
				return r, true
			}
		}
	}
	return r, false
}

// Control is a net.Dialer.Control that refuses addresses the policy does
// not allow. It sees the resolved address of each attempt.
func (p *Policy) Control(network, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return fmt.Errorf("egress: %s: %w", address, err)
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return &RefusedError{Addr: address, Reason: "unparsed"}
	}
	if reason, ok := p.allowedIP(ip); !ok {
		return &RefusedError{Addr: address, Reason: reason}
	}
	return nil
}

// AllowsHost reports whether host (a name, not an address) is on the
// allow-list, and so may resolve to any address.
func (p *Policy) AllowsHost(host string) bool {
	return p != nil && p.hosts[strings.ToLower(strings.TrimSuffix(host, "."))]
}

// DialContext returns a dial function for http.Transport that applies the
// policy to every connection made with d (copied; its Control is replaced).
func (p *Policy) DialContext(d *net.Dialer) func(ctx context.Context, network, addr string) (net.Conn, error) {
	open := *d
	open.Control = nil
	guarded := *d
	guarded.Control = p.Control
	guarded.ControlContext = nil
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		if host, _, err := net.SplitHostPort(addr); err == nil && p.AllowsHost(host) {
			return open.DialContext(ctx, network, addr)
		}
		return guarded.DialContext(ctx, network, addr)
	}
}
