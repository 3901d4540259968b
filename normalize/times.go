package normalize

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"time"
)

// ErrNoTime is returned when a time string matches none of the known formats.
var ErrNoTime = errors.New("normalize: unrecognised time")

// timeLayouts are the formats sources send, tried in order. Layouts without
// a zone are read as UTC.
var timeLayouts = []string{
	time.RFC3339Nano,
	time.RFC3339,
	"2006-01-02T15:04:05Z0700",
	"2006-01-02T15:04:05",
	"2006-01-02 15:04:05Z07:00",
	"2006-01-02 15:04:05 -0700",
	"2006-01-02 15:04:05 MST",
	"2006-01-02 15:04:05",
	"2006-01-02T15:04Z07:00",
	"2006-01-02T15:04",
	"2006-01-02",
	time.RFC1123Z,
	time.RFC1123,
	"Mon, 2 Jan 2006 15:04:05 -0700",
	"Mon, 2 Jan 2006 15:04:05 MST",
	"Mon, 02 Jan 2006 15:04 -0700",
	"Mon, 2 Jan 2006 15:04 MST",
	"Mon, 2 Jan 2006 15:04:05",
	"2 Jan 2006 15:04:05 -0700",
	"2 Jan 2006 15:04:05 MST",
	"02 Jan 2006 15:04:05 -0700",
	"Monday, 02-Jan-06 15:04:05 MST",
	time.RFC822Z,
	time.RFC822,
	time.ANSIC,
	time.UnixDate,
	time.RubyDate,
	"2006-01-02 15:04:05-07",
	"2006-01-02 15:04:05.000000-07",
	"2006/01/02 15:04:05",
	"2006/01/02 15:04",
	"02.01.2006 15:04:05",
	"02.01.2006 15:04",
	"02.01.2006",
	"January 2, 2006 15:04 MST",
	"January 2, 2006 3:04 PM MST",
	"Jan 2, 2006 3:04 PM MST",
	"January 2, 2006",
	"Jan 2, 2006",
	"2 January 2006",
	"Mon Jan 2 15:04:05 -0700 2006",
}

// namedZones maps zone abbreviations that feeds use to their offsets; Go's
// parser only knows the offset of the local zone's abbreviation.
var namedZones = map[string]int{
	"UT": 0, "UTC": 0, "GMT": 0, "Z": 0,
	"EST": -5 * 3600, "EDT": -4 * 3600, "CST": -6 * 3600, "CDT": -5 * 3600,
	"MST": -7 * 3600, "MDT": -6 * 3600, "PST": -8 * 3600, "PDT": -7 * 3600,
	"BST": 3600, "CET": 3600, "CEST": 2 * 3600, "EET": 2 * 3600, "EEST": 3 * 3600,
	"MSK": 3 * 3600, "IST": 5*3600 + 1800, "JST": 9 * 3600, "KST": 9 * 3600,
	"HKT": 8 * 3600, "SGT": 8 * 3600, "AEST": 10 * 3600, "AEDT": 11 * 3600,
	"WAT": 3600, "CAT": 2 * 3600, "EAT": 3 * 3600, "SAST": 2 * 3600,
}

// ParseTime reads a time in any format the sources send — RFC 3339, RFC
// 1123/822 with numeric or named zones, Unix seconds or milliseconds, and
// zone-less forms (taken as UTC) — and returns it in UTC.
func ParseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, ErrNoTime
	}
	if i := strings.IndexByte(s, '('); i > 0 && strings.HasSuffix(s, ")") {
		// mail-style trailing comment: "… +0000 (UTC)"
		s = strings.TrimSpace(s[:i])
	}
	// a date has spaces, colons or commas: the number parsers would only
	// fail on it, each allocating its error
	if maybeNumber(s) {
		if t, ok, err := parseUnix(s); ok {
			return t, err
		}
	}
	if t, ok := parseLayouts(s); ok {
		return t, nil
	}
	// "2024-06-11t09:30:00z" and other lower-case forms
	if up := strings.ToUpper(s); up != s {
		if t, ok := parseLayouts(up); ok {
			return t, nil
		}
	}
	return time.Time{}, ErrNoTime
}

func parseLayouts(s string) (time.Time, bool) {
	digit := isDigit(s[0])
	for _, layout := range timeLayouts {
		if isDigit(layout[0]) != digit {
			// "Mon, …" cannot match "2006-…" nor the reverse; skipping
			// saves a failed parse and its error value per layout
			continue
		}
		t, err := time.Parse(layout, s)
		if err != nil {
			continue
		}
		if strings.Contains(layout, "MST") {
			name, off := t.Zone()
			if o, ok := namedZones[strings.ToUpper(name)]; ok && off == 0 {
				t = t.Add(-time.Duration(o) * time.Second)
			}
		}
		return t.UTC(), true
	}
	return time.Time{}, false
}

// parseUnix reads Unix seconds (fractional too), milliseconds or
// microseconds; ok is false when s is no number.
func parseUnix(s string) (t time.Time, ok bool, err error) {
	if f, err := strconv.ParseFloat(s, 64); err == nil && strings.ContainsRune(s, '.') && !strings.ContainsAny(s, "eE") {
		sec, frac := math.Modf(f)
		if sec > 1e11 || sec < -1e11 {
			return time.Time{}, true, ErrNoTime
		}
		return time.Unix(int64(sec), int64(frac*1e9)).UTC(), true, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, false, nil
	}
	switch {
	case n > 1e14: // microseconds
		return time.UnixMicro(n).UTC(), true, nil
	case n > 1e11: // milliseconds
		return time.UnixMilli(n).UTC(), true, nil
	}
	return time.Unix(n, 0).UTC(), true, nil
}

// maybeNumber reports whether s holds only bytes strconv's number parsers
// accept anywhere (digits, letters for hex, exponents, inf and nan, dots,
// underscores and signs); dates have spaces, colons, commas or slashes.
func maybeNumber(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '.' || c == '_' || c == '+' || c == '-') {
			return false
		}
	}
	return true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
