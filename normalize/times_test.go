package normalize

import (
	"testing"
	"time"
)

func TestParseTime(t *testing.T) {
	want := time.Date(2024, 6, 11, 9, 30, 0, 0, time.UTC)
	for _, s := range []string{
		"2024-06-11T09:30:00Z",
		"2024-06-11T12:30:00+03:00",
		"2024-06-11t09:30:00z",
		"2024-06-11T09:30:00.000Z",
		"2024-06-11T09:30:00",
		"2024-06-11 09:30:00",
		"2024-06-11 12:30:00+03",
		"Tue, 11 Jun 2024 09:30:00 GMT",
		"Tue, 11 Jun 2024 09:30:00 +0000",
		"Tue, 11 Jun 2024 05:30:00 EDT",
		"Tue, 11 Jun 2024 12:30:00 MSK",
		"Tue, 11 Jun 2024 02:30:00 PDT",
		"Tue, 11 Jun 2024 09:30:00 +0000 (UTC)",
		"11 Jun 2024 10:30:00 +0100",
		"Tue, 11 Jun 2024 09:30 GMT",
		"Tuesday, 11-Jun-24 09:30:00 UTC",
		"11 Jun 24 09:30 UTC",
		"Tue Jun 11 09:30:00 2024",
		"Tue Jun 11 09:30:00 +0000 2024",
		"11.06.2024 09:30",
		"2024/06/11 09:30:00",
		"June 11, 2024 5:30 AM EDT",
		"1718098200",
		"1718098200000",
		"1718098200.0",
	} {
		got, err := ParseTime(s)
		if err != nil {
			t.Errorf("ParseTime(%q): %v", s, err)
			continue
		}
		if !got.Equal(want) || got.Location() != time.UTC {
			t.Errorf("ParseTime(%q) = %v, want %v", s, got, want)
		}
	}
	for _, s := range []string{"", "yesterday", "2024-13-45T99:00:00Z", "1e300", "-1e300.5"} {
		if _, err := ParseTime(s); err == nil {
			t.Errorf("ParseTime(%q) accepted", s)
		}
	}
}

func TestCheckTime(t *testing.T) {
	obs := time.Date(2024, 6, 11, 10, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		in   string
		want time.Time
		flag string
	}{
		{"2024-06-11T09:30:00Z", time.Date(2024, 6, 11, 9, 30, 0, 0, time.UTC), ""},
		{"2024-06-11T10:05:00Z", time.Date(2024, 6, 11, 10, 5, 0, 0, time.UTC), ""}, // within the skew
		{"2024-06-11T11:00:00Z", obs, FlagFutureTime},
		{"1970-01-01T00:00:00Z", obs, FlagAncientTime},
		{"0", obs, FlagAncientTime},
		{"", obs, FlagNoTime},
		{"soon", obs, FlagBadTime},
	} {
		got, flags := checkTime(c.in, obs, 10*time.Minute)
		if !got.Equal(c.want) {
			t.Errorf("%q: %v, want %v", c.in, got, c.want)
		}
		if (c.flag == "" && len(flags) > 0) || (c.flag != "" && (len(flags) != 1 || flags[0] != c.flag)) {
			t.Errorf("%q: flags %v, want %q", c.in, flags, c.flag)
		}
	}
}

func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"2024-06-11T09:30:00Z", "Tue, 11 Jun 2024 09:30:00 GMT", "1718098200", "1718098200.5", "11.06.2024 09:30", "Tue, 11 Jun 2024 09:30:00 +0000 (UTC)"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseTime(s)
		if err == nil && got.Location() != time.UTC {
			t.Fatalf("ParseTime(%q) not in UTC", s)
		}
	})
}
