// Package freeport picks loopback TCP ports for tests that start servers
// in other processes, which must be told a port before they bind it.
//
// A port the kernel hands out for "127.0.0.1:0" lies in the ephemeral
// range (net.ipv4.ip_local_port_range, 32768–60999 on Linux), the same
// range every outgoing connection on the machine takes its local port
// from. Between the test releasing such a port and the server binding
// it, any client connection (another test package running beside this
// one) may take it, and the server exits with "address already in use".
// So ports are picked at random outside that range, where only another
// listener could be, and each is checked free by binding it.
package freeport

import (
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
)

// Take returns n distinct loopback ports outside the ephemeral range
// that were free a moment ago: all are held until all are chosen.
func Take(tb testing.TB, n int) []int {
	tb.Helper()
	lo, hi := ephemeral()
	var pool [][2]int // candidate ranges outside [lo, hi]
	if lo-1 >= 10000 {
		pool = append(pool, [2]int{10000, lo - 1})
	}
	if hi+1 <= 65535 && 65535-hi >= 1000 {
		pool = append(pool, [2]int{hi + 1, 65535})
	}
	ports := make([]int, 0, n)
	for tries := 0; len(ports) < n; tries++ {
		addr := "127.0.0.1:0" // no room outside the range, or no luck: the kernel's pick
		if len(pool) > 0 && tries < 200*n {
			r := pool[rand.IntN(len(pool))]
			addr = "127.0.0.1:" + strconv.Itoa(r[0]+rand.IntN(r[1]-r[0]+1))
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			if addr == "127.0.0.1:0" {
				tb.Fatal(err)
			}
			continue // taken
		}
		defer ln.Close()
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports
}

// ephemeral is the kernel's ephemeral port range, or Linux's default
// when it cannot be read.
func ephemeral() (lo, hi int) {
	lo, hi = 32768, 60999
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return lo, hi
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return lo, hi
	}
	l, err1 := strconv.Atoi(f[0])
	h, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil || l > h {
		return lo, hi
	}
	return l, h
}
