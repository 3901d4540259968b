package normalize

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// ErrNoTime is returned when a time string matches none of the known formats.
var ErrNoTime = errors.New("normalize: unrecognised time")

// ErrAmbiguousDate is returned for a numeric date whose day and month
// could be either way round ("1/10/2020"); it is also an ErrNoTime.
var ErrAmbiguousDate = fmt.Errorf("%w: day and month order ambiguous", ErrNoTime)

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
// zone-less forms (taken as UTC) — and returns it in UTC. What no layout
// reads goes to parseLoose: month and day names in the languages of
// dateNames, unpadded numeric dates and date-only values (see parseLoose
// for the day/month order rules).
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
	return parseLoose(s)
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

// maxLooseLen bounds what parseLoose reads: a date is short, and a long
// string is a body or a title that landed in the wrong field.
const maxLooseLen = 120

// dateTok is one token of a loosely written date: a run of ASCII digits
// (other scripts' digits are mapped to them), a folded word, or one
// separator character.
type dateTok struct {
	kind  byte // 'n' number, 'w' word, 's' separator
	text  string
	sep   rune
	space bool // whitespace came before it
}

// cjkUnits are the unit signs of Chinese, Japanese and Korean dates,
// read as the field of the number before them.
var cjkUnits = map[string]byte{
	"年": 'Y', "월": 'M', "月": 'M', "日": 'D', "일": 'D', "년": 'Y',
	"時": 'h', "时": 'h', "시": 'h', "分": 'm', "분": 'm', "秒": 's', "초": 's',
}

// looseZones are the zone names parseLoose reads: namedZones and the
// abbreviations of the regions whose feeds write dates in their language.
var looseZones = func() map[string]int {
	z := map[string]int{
		"мск": 3 * 3600, "wib": 7 * 3600, "wita": 8 * 3600, "wit": 9 * 3600,
		"pkt": 5 * 3600, "irst": 3*3600 + 1800, "trt": 3 * 3600, "ict": 7 * 3600,
	}
	for k, v := range namedZones {
		z[strings.ToLower(k)] = v
	}
	return z
}()

// dateFillers are words dates are written with that carry no value:
// prepositions and articles ("24 de setembro de 2018 às 19:42", "am 3.
// Dezember um 10 Uhr", "3 декабря 2018 г. в 10:00"), ordinal endings
// ("3rd", "1er", "3-го") and the ISO "T".
var dateFillers = map[string]bool{
	"de": true, "del": true, "of": true, "the": true, "at": true, "on": true, "le": true, "el": true,
	"a": true, "as": true, "las": true, "um": true, "uhr": true, "om": true, "alle": true, "ore": true,
	"saat": true, "о": true, "об": true, "в": true, "во": true, "г": true, "года": true, "год": true,
	"р": true, "року": true, "рік": true, "roku": true, "r": true, "godine": true, "god": true, "u": true,
	"o": true, "jam": true, "pukul": true, "tanggal": true, "tarehe": true, "saa": true, "feira": true,
	"ж": true, "жылғы": true, "den": true, "am": true, "t": true,
	"st": true, "nd": true, "rd": true, "th": true, "er": true, "e": true, "eme": true, "го": true, "º": true, "ª": true,
	"יום": true, "בשעה": true, "الساعة": true, "في": true, "ساعت": true, "को": true, "बजे": true,
	"오전": true, "h": true,
}

// tokenizeDate splits s into dateToks; ok is false for characters no
// date has (control characters, symbols other than separators).
func tokenizeDate(s string) ([]dateTok, bool) {
	toks := make([]dateTok, 0, 16)
	var word strings.Builder
	numStart := -1
	var num []byte
	space := false
	flushNum := func() {
		if numStart >= 0 {
			toks = append(toks, dateTok{kind: 'n', text: string(num), space: space})
			num, numStart, space = num[:0], -1, false
		}
	}
	flushWord := func() {
		if word.Len() > 0 {
			toks = append(toks, dateTok{kind: 'w', text: foldName(word.String()), space: space})
			word.Reset()
			space = false
		}
	}
	for i, r := range s {
		if d, ok := asciiDigit(r); ok {
			flushWord()
			if numStart < 0 {
				numStart = i
			}
			num = append(num, d)
			continue
		}
		flushNum()
		switch {
		case unicode.Is(unicode.Han, r):
			flushWord()
			toks = append(toks, dateTok{kind: 'w', text: string(r), space: space})
			space = false
		case unicode.IsLetter(r) || unicode.In(r, unicode.Mn, unicode.Mc) ||
			word.Len() > 0 && (r == '\'' || r == '’' || r == '\u200c' || r == '\u200d'):
			word.WriteRune(r)
		case unicode.IsSpace(r):
			flushWord()
			space = true
		case unicode.IsPunct(r) || r == '+' || r == '|' || r == '·':
			flushWord()
			toks = append(toks, dateTok{kind: 's', sep: r, space: space})
			space = false
		default:
			return nil, false
		}
	}
	flushNum()
	flushWord()
	return toks, true
}

// asciiDigit maps the decimal digits of the scripts dates come in (ASCII,
// Arabic-Indic, Persian, Devanagari, full-width) to ASCII.
func asciiDigit(r rune) (byte, bool) {
	for _, zero := range []rune{'0', '٠', '۰', '०', '０'} {
		if zero <= r && r <= zero+9 {
			return byte('0' + r - zero), true
		}
	}
	return 0, false
}

// looseDate collects the fields parseLoose finds.
type looseDate struct {
	year, month, day        int
	hour, min, sec, nsec    int
	haveTime, zoned, pm, am bool
	offset                  int
	yearDigits              int
}

// parseLoose reads dates no layout matches:
//
//   - month and day names in the languages of dateNames, in any order
//     and case, abbreviated or not, with or without dots, nominative or
//     genitive ("Seg, 24 Set 2018 19:42:40 -0300", "lun., 3 déc. 2018",
//     "3 декабря 2018 г., 10:00"), and CJK unit signs ("2018年12月3日");
//   - unpadded numeric dates and times ("2020/1/10 14:33:00", "2020-1-5",
//     "5.1.2020 9:03", "10h30");
//   - date-only values, read as midnight UTC.
//
// Numeric day and month order: a four-digit first field is a year and
// the order is year, month, day whatever the separator (ISO 8601); with
// the year last, dotted and dashed dates are day.month.year (the European
// and Indian use: no feed writes month-first with dots); slashed dates are
// read whichever way is unambiguous (a field over 12 is the day) and
// refused with ErrAmbiguousDate when both fields are 12 or less and
// differ, since "1/10/2020" is October in Europe and January in the US.
// A date without a year, a word the tables do not know, or two values for
// one field are refused: a wrong time is worse than none (the normalizer
// then uses the observed time and flags the entry).
func parseLoose(s string) (time.Time, error) {
	if len(s) > maxLooseLen {
		return time.Time{}, ErrNoTime
	}
	toks, ok := tokenizeDate(s)
	if !ok {
		return time.Time{}, ErrNoTime
	}
	d := looseDate{year: -1, month: -1, day: -1}
	maybeMonth := -1 // a word that names a month and a weekday ("mar")
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		next := func(k int) dateTok {
			if i+k < len(toks) {
				return toks[i+k]
			}
			return dateTok{}
		}
		switch t.kind {
		case 'n':
			n, err := strconv.Atoi(t.text)
			if err != nil || len(t.text) > 4 {
				return time.Time{}, ErrNoTime
			}
			switch nx := next(1); {
			case nx.kind == 's' && nx.sep == ':' && next(2).kind == 'n':
				used, err := d.readTime(toks[i:])
				if err != nil {
					return time.Time{}, err
				}
				i += used - 1
			case nx.kind == 'w' && nx.text == "h" && !nx.space && next(2).kind == 'n' && !d.haveTime:
				// French "10h30"
				d.haveTime, d.hour = true, n
				d.min, _ = strconv.Atoi(next(2).text)
				i += 2
			case nx.kind == 'w' && cjkUnits[nx.text] != 0:
				if !d.set(cjkUnits[nx.text], n, len(t.text)) {
					return time.Time{}, ErrNoTime
				}
				i++
			case nx.kind == 's' && (nx.sep == '-' || nx.sep == '/' || nx.sep == '.') && !nx.space &&
				next(2).kind == 'n' && !next(2).space && next(3).kind == 's' && next(3).sep == nx.sep &&
				!next(3).space && next(4).kind == 'n' && !next(4).space:
				if err := d.numericDate(t.text, next(2).text, next(4).text, nx.sep); err != nil {
					return time.Time{}, err
				}
				i += 4
			case len(t.text) == 4:
				if !d.set('Y', n, 4) {
					return time.Time{}, ErrNoTime
				}
			case len(t.text) <= 2 && d.day < 0:
				d.day = n
			case len(t.text) == 2 && d.year < 0:
				d.year, d.yearDigits = n, 2
			default:
				return time.Time{}, ErrNoTime
			}
		case 'w':
			w := t.text
			if nx := next(1); nx.kind == 'w' {
				if m, ok := monthNames[w+nameJoiner+nx.text]; ok {
					// the Levantine "كانون الثاني"
					if !d.set('M', m, 0) {
						return time.Time{}, ErrNoTime
					}
					i++
					continue
				}
			}
			m, isMonth := monthOf(w)
			isDay := weekdayNames[w]
			switch {
			case isMonth && isDay:
				maybeMonth = m
			case isMonth:
				if !d.set('M', m, 0) {
					return time.Time{}, ErrNoTime
				}
			case isDay:
			case (w == "am" || w == "pm") && d.haveTime:
				d.am, d.pm = w == "am", w == "pm"
			case (w == "a" || w == "p") && d.haveTime && next(1).sep == '.' && next(2).text == "m":
				d.am, d.pm = w == "a", w == "p" // "a.m."
				i += 2
			case w == "下" || w == "後" || w == "后" || w == "오후":
				d.pm = true
			case looseZones[w] != 0 || w == "utc" || w == "gmt" || w == "ut" || w == "z":
				if !d.zoned {
					d.zoned, d.offset = true, looseZones[w]
				}
				if nx := next(1); nx.kind == 's' && (nx.sep == '+' || nx.sep == '-') && next(2).kind == 'n' {
					// "GMT+3", "UTC-05:00"
					used, ok := d.readOffset(toks[i+1:], true)
					if !ok {
						return time.Time{}, ErrNoTime
					}
					i += used
				}
			case dateFillers[w], cjkUnits[w] != 0, strings.ContainsAny(w, cjkIgnored) && utf8.RuneCountInString(w) == 1:
				// a unit sign with no number before it is a weekday: "(月)", "月曜日"
			default:
				return time.Time{}, ErrNoTime
			}
		case 's':
			if (t.sep == '+' || t.sep == '-') && d.haveTime && !d.zoned && next(1).kind == 'n' && !next(1).space {
				used, ok := d.readOffset(toks[i:], false)
				if ok {
					i += used - 1
				}
			}
		}
	}
	if d.month < 0 {
		d.month = maybeMonth
	}
	return d.time()
}

// set gives a field its value; false when it already has another one.
func (d *looseDate) set(field byte, n, digits int) bool {
	var p *int
	switch field {
	case 'Y':
		p, d.yearDigits = &d.year, digits
	case 'M':
		p = &d.month
	case 'D':
		p = &d.day
	case 'h':
		p, d.haveTime = &d.hour, true
	case 'm':
		p = &d.min
	case 's':
		p = &d.sec
	}
	if *p >= 0 && *p != n && (field == 'Y' || field == 'M' || field == 'D') {
		return false
	}
	*p = n
	return true
}

// numericDate reads a dotted, dashed or slashed date; see parseLoose.
func (d *looseDate) numericDate(a, b, c string, sep rune) error {
	if d.year >= 0 || d.month >= 0 || d.day >= 0 {
		return ErrNoTime // two dates
	}
	x, _ := strconv.Atoi(a)
	y, _ := strconv.Atoi(b)
	z, _ := strconv.Atoi(c)
	switch {
	case len(a) == 4 && len(b) <= 2 && len(c) <= 2:
		d.year, d.month, d.day, d.yearDigits = x, y, z, 4
	case len(a) > 2 || len(b) > 2 || len(c) != 4 && len(c) != 2:
		return ErrNoTime
	case sep != '/':
		d.day, d.month, d.year, d.yearDigits = x, y, z, len(c)
	case x > 12 || x == y:
		d.day, d.month, d.year, d.yearDigits = x, y, z, len(c)
	case y > 12:
		d.month, d.day, d.year, d.yearDigits = x, y, z, len(c)
	default:
		return ErrAmbiguousDate
	}
	return nil
}

// readTime reads "h:mm", "h:mm:ss" and "h:mm:ss.fff" at the start of
// toks and returns how many tokens it used.
func (d *looseDate) readTime(toks []dateTok) (int, error) {
	if d.haveTime {
		return 0, ErrNoTime
	}
	d.haveTime = true
	d.hour, _ = strconv.Atoi(toks[0].text)
	d.min, _ = strconv.Atoi(toks[2].text)
	if len(toks[0].text) > 2 || len(toks[2].text) != 2 {
		return 0, ErrNoTime
	}
	used := 3
	if len(toks) >= 5 && toks[3].kind == 's' && toks[3].sep == ':' && toks[4].kind == 'n' && len(toks[4].text) == 2 {
		d.sec, _ = strconv.Atoi(toks[4].text)
		used = 5
		if len(toks) >= 7 && toks[5].kind == 's' && (toks[5].sep == '.' || toks[5].sep == ',') && !toks[6].space && toks[6].kind == 'n' {
			frac := toks[6].text
			if len(frac) > 9 {
				frac = frac[:9]
			}
			d.nsec, _ = strconv.Atoi(frac + strings.Repeat("0", 9-len(frac)))
			used = 7
		}
	}
	return used, nil
}

// readOffset reads "+0300", "-03:00" or "+3" at the start of toks (the
// sign first) and returns how many tokens it used; added is true after a
// zone name ("GMT+3"), whose offset it adds to.
func (d *looseDate) readOffset(toks []dateTok, added bool) (int, bool) {
	sign := 1
	if toks[0].sep == '-' {
		sign = -1
	}
	digits := toks[1].text
	var h, m int
	used := 2
	switch len(digits) {
	case 1, 2:
		h, _ = strconv.Atoi(digits)
		if len(toks) >= 4 && toks[2].kind == 's' && toks[2].sep == ':' && toks[3].kind == 'n' && len(toks[3].text) == 2 {
			m, _ = strconv.Atoi(toks[3].text)
			used = 4
		}
	case 4:
		h, _ = strconv.Atoi(digits[:2])
		m, _ = strconv.Atoi(digits[2:])
	default:
		return 0, false
	}
	if len(toks) > used && toks[used].kind == 's' && (toks[used].sep == '.' || toks[used].sep == '/') && !toks[used].space {
		return 0, false // the start of a date, not an offset
	}
	if h > 14 || m > 59 {
		return 0, false
	}
	off := sign * (h*3600 + m*60)
	if added {
		d.offset += off
	} else {
		d.offset = off
	}
	d.zoned = true
	return used, true
}

// time checks the fields and builds the UTC time.
func (d *looseDate) time() (time.Time, error) {
	if d.year < 0 || d.month < 1 || d.month > 12 || d.day < 1 {
		return time.Time{}, ErrNoTime
	}
	if d.yearDigits == 2 {
		// Go's rule for two-digit years: 69–99 are 1969–1999
		if d.year >= 69 {
			d.year += 1900
		} else {
			d.year += 2000
		}
	} else if d.yearDigits != 4 {
		return time.Time{}, ErrNoTime
	}
	if d.pm || d.am {
		if d.hour < 1 || d.hour > 12 {
			return time.Time{}, ErrNoTime
		}
		if d.hour == 12 {
			d.hour = 0
		}
		if d.pm {
			d.hour += 12
		}
	}
	if d.hour > 23 || d.min > 59 || d.sec > 59 {
		return time.Time{}, ErrNoTime
	}
	t := time.Date(d.year, time.Month(d.month), d.day, d.hour, d.min, d.sec, d.nsec, time.UTC)
	if t.Day() != d.day {
		return time.Time{}, ErrNoTime // 31 June
	}
	return t.Add(-time.Duration(d.offset) * time.Second), nil
}
