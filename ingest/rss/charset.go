package rss

import (
	"bytes"
	"errors"
	"fmt"
	"mime"
	"regexp"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/html/charset"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/unicode"
)

// ErrCharset is returned for a body in a character set that is not known.
var ErrCharset = errors.New("rss: unknown character set")

var xmlDeclEncoding = regexp.MustCompile(`(?i)(encoding\s*=\s*["'])([A-Za-z0-9._:\-]+)(["'])`)

// GuessedCharset is the character set a body that declares none and is
// not valid UTF-8 is read in. Windows-1252 is a superset of ISO-8859-1's
// printable range (WHATWG decodes the "iso-8859-1" label with it too), and
// undeclared non-UTF-8 feeds are overwhelmingly Western European.
const GuessedCharset = "windows-1252"

// decoded is a body in UTF-8 and how it got there.
type decoded struct {
	body []byte
	// guessed is set when the body declared no character set and was
	// not valid UTF-8, so it was read as GuessedCharset.
	guessed bool
	// repaired is set when invalid bytes were replaced with U+FFFD.
	repaired bool
}

// toUTF8 decodes a feed body to UTF-8. The character set comes from a byte
// order mark, else the Content-Type header, else the XML declaration, else
// UTF-8 (RFC 7303's order). One exception, common in the wild: a server
// that labels every response ISO-8859-1 while the document declares and
// is valid UTF-8 is believed on the document's word. A body that declares
// nothing anywhere and is not valid UTF-8 is read as GuessedCharset, and
// the result says so. The XML declaration is rewritten to say UTF-8 so the
// parser does not decode a second time. Invalid UTF-8 that remains under a
// declared UTF-8 is replaced with U+FFFD rather than failing the whole
// feed; the result reports that it happened.
func toUTF8(body []byte, contentType string) (decoded, error) {
	label := ""
	switch {
	case bytes.HasPrefix(body, []byte{0xEF, 0xBB, 0xBF}):
		body, label = body[3:], "utf-8"
	case bytes.HasPrefix(body, []byte{0xFE, 0xFF}):
		label = "utf-16be"
	case bytes.HasPrefix(body, []byte{0xFF, 0xFE}):
		label = "utf-16le"
	}
	decl := declaredEncoding(body)
	if label == "" {
		if _, params, err := mime.ParseMediaType(contentType); err == nil {
			label = strings.Trim(params["charset"], `"' `)
		}
		if label != "" && decl != "" && isUTF8Label(decl) && !isUTF8Label(label) && isLatin1Default(label) && utf8.Valid(body) {
			label = decl
		}
	}
	if label == "" {
		label = decl
	}
	if label == "" && !utf8.Valid(body) {
		out, err := charmap.Windows1252.NewDecoder().Bytes(body)
		if err != nil {
			return decoded{}, fmt.Errorf("rss: decode %s: %w", GuessedCharset, err)
		}
		return decoded{body: out, guessed: true}, nil
	}
	if label == "" || isUTF8Label(label) {
		if label != "" && decl != "" && !isUTF8Label(decl) {
			body = rewriteDecl(body)
		}
		if utf8.Valid(body) {
			return decoded{body: body}, nil
		}
		return decoded{body: bytes.ToValidUTF8(body, []byte("\uFFFD")), repaired: true}, nil
	}
	var out []byte
	var err error
	switch strings.ToLower(label) {
	case "utf-16be", "utf-16le", "utf-16":
		endian := unicode.BigEndian
		if strings.EqualFold(label, "utf-16le") {
			endian = unicode.LittleEndian
		}
		out, err = unicode.UTF16(endian, unicode.ExpectBOM).NewDecoder().Bytes(body)
	default:
		enc, _ := charset.Lookup(label)
		if enc == nil {
			if utf8.Valid(body) {
				return decoded{body: rewriteDecl(body)}, nil
			}
			return decoded{}, fmt.Errorf("%w %q", ErrCharset, label)
		}
		out, err = enc.NewDecoder().Bytes(body)
	}
	if err != nil {
		return decoded{}, fmt.Errorf("rss: decode %s: %w", label, err)
	}
	out = rewriteDecl(out)
	if !utf8.Valid(out) {
		return decoded{body: bytes.ToValidUTF8(out, []byte("\uFFFD")), repaired: true}, nil
	}
	return decoded{body: out}, nil
}

// declaredEncoding is the encoding of the XML declaration, if any.
func declaredEncoding(body []byte) string {
	head := bytes.TrimLeft(body[:min(len(body), 512)], " \t\r\n")
	if !bytes.HasPrefix(head, []byte("<?xml")) {
		return ""
	}
	end := bytes.Index(head, []byte("?>"))
	if end < 0 {
		return ""
	}
	if m := xmlDeclEncoding.FindSubmatch(head[:end]); m != nil {
		return string(m[2])
	}
	return ""
}

func rewriteDecl(body []byte) []byte {
	lead := len(body) - len(bytes.TrimLeft(body, " \t\r\n"))
	if !bytes.HasPrefix(body[lead:], []byte("<?xml")) {
		return body
	}
	end := bytes.Index(body[:min(len(body), lead+512)], []byte("?>"))
	if end < 0 {
		return body
	}
	decl := xmlDeclEncoding.ReplaceAll(body[:end], []byte("${1}UTF-8${3}"))
	out := make([]byte, 0, len(body)+8)
	return append(append(out, decl...), body[end:]...)
}

func isUTF8Label(l string) bool {
	l = strings.ToLower(l)
	return l == "utf-8" || l == "utf8"
}

// isLatin1Default names the labels servers put on responses by default.
func isLatin1Default(l string) bool {
	switch strings.ToLower(l) {
	case "iso-8859-1", "latin1", "iso8859-1", "windows-1252", "us-ascii", "ascii":
		return true
	}
	return false
}
