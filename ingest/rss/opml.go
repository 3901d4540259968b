package rss

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"

	"golang.org/x/net/html/charset"
)

// OPMLFeed is one feed listed in an OPML file.
type OPMLFeed struct {
	Title string
	URL   string
	// HTMLURL is the site the feed belongs to, when given.
	HTMLURL string
	// Tags are the folders the feed sits in and its category attribute.
	Tags []string
}

// OPMLProblem is an outline that could not be taken, with why.
type OPMLProblem struct {
	Title  string
	URL    string
	Reason string
}

// ErrOPML is returned for a file that is not OPML.
var ErrOPML = errors.New("rss: not an OPML file")

type opmlOutline struct {
	Text     string        `xml:"text,attr"`
	Title    string        `xml:"title,attr"`
	XMLURL   string        `xml:"xmlUrl,attr"`
	HTMLURL  string        `xml:"htmlUrl,attr"`
	Category string        `xml:"category,attr"`
	Outlines []opmlOutline `xml:"outline"`
}

// ParseOPML reads the feeds of an OPML subscription list. Outlines with
// an unusable feed URL are returned as problems, not dropped silently;
// a URL listed twice is kept once.
func ParseOPML(r io.Reader) ([]OPMLFeed, []OPMLProblem, error) {
	var doc struct {
		XMLName xml.Name `xml:"opml"`
		Body    struct {
			Outlines []opmlOutline `xml:"outline"`
		} `xml:"body"`
	}
	dec := xml.NewDecoder(r)
	dec.CharsetReader = charset.NewReaderLabel
	dec.Strict = false
	if err := dec.Decode(&doc); err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrOPML, err)
	}
	var feeds []OPMLFeed
	var problems []OPMLProblem
	seen := map[string]bool{}
	var walk func(os []opmlOutline, folders []string)
	walk = func(os []opmlOutline, folders []string) {
		for _, o := range os {
			title := strings.TrimSpace(o.Title)
			if title == "" {
				title = strings.TrimSpace(o.Text)
			}
			if o.XMLURL == "" {
				if len(o.Outlines) > 0 && title != "" {
					walk(o.Outlines, append(folders[:len(folders):len(folders)], title))
				} else {
					walk(o.Outlines, folders)
				}
				continue
			}
			raw := strings.TrimSpace(o.XMLURL)
			u, err := url.Parse(raw)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				problems = append(problems, OPMLProblem{Title: title, URL: raw, Reason: "not an http(s) URL"})
				continue
			}
			if seen[u.String()] {
				problems = append(problems, OPMLProblem{Title: title, URL: raw, Reason: "listed twice"})
				continue
			}
			seen[u.String()] = true
			tags := append([]string(nil), folders...)
			for _, c := range strings.FieldsFunc(o.Category, func(r rune) bool { return r == ',' || r == '/' }) {
				if c = strings.TrimSpace(c); c != "" {
					tags = append(tags, c)
				}
			}
			feeds = append(feeds, OPMLFeed{Title: title, URL: u.String(), HTMLURL: strings.TrimSpace(o.HTMLURL), Tags: tags})
		}
	}
	walk(doc.Body.Outlines, nil)
	return feeds, problems, nil
}
