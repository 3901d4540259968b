package bus

import "time"

// SetReadTimeout sets the timeout of one stream info request of
// EnsureTopology and returns a function that restores it.
func SetReadTimeout(d time.Duration) (restore func()) {
	old := readTimeout
	readTimeout = d
	return func() { readTimeout = old }
}
