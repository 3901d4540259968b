package freeport

import (
	"net"
	"strconv"
	"testing"
)

func TestTakeGivesDistinctBindablePortsOutsideTheEphemeralRange(t *testing.T) {
	lo, hi := ephemeral()
	ports := Take(t, 20)
	seen := map[int]bool{}
	for _, p := range ports {
		if seen[p] {
			t.Errorf("port %d given twice", p)
		}
		seen[p] = true
		if p >= lo && p <= hi && lo > 10000 {
			t.Errorf("port %d lies in the ephemeral range %d–%d", p, lo, hi)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			t.Errorf("port %d: %v", p, err)
			continue
		}
		ln.Close()
	}
}
