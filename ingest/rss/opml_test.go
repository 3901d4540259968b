package rss

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseOPML(t *testing.T) {
	feeds, problems, err := ParseOPML(bytes.NewReader(readTestdata(t, "subscriptions.opml")))
	if err != nil {
		t.Fatal(err)
	}
	want := []OPMLFeed{
		{Title: "AllAfrica: Latest", URL: "https://allafrica.com/tools/headlines/rdf/latest/headlines.rdf", HTMLURL: "https://allafrica.com/", Tags: []string{"Africa"}},
		{Title: "BBC News - World", URL: "https://feeds.bbci.co.uk/news/world/rss.xml", Tags: []string{"World", "uk", "public"}},
		{Title: "Deutsche Welle", URL: "https://rss.dw.com/rdf/rss-en-world"},
	}
	if !reflect.DeepEqual(feeds, want) {
		t.Fatalf("feeds\n%+v\nwant\n%+v", feeds, want)
	}
	if len(problems) != 2 || problems[0].Reason != "listed twice" || problems[1].Reason != "not an http(s) URL" {
		t.Fatalf("problems %+v", problems)
	}
	if _, _, err := ParseOPML(strings.NewReader("<rss/>")); !errors.Is(err, ErrOPML) {
		t.Fatalf("non-OPML: %v", err)
	}
}
