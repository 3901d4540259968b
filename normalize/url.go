package normalize

import (
	"net/url"
	"slices"
	"strings"
)

// trackingParams are query parameters that identify a campaign or click,
// never the resource.
var trackingParams = map[string]bool{
	"fbclid": true, "gclid": true, "dclid": true, "msclkid": true, "yclid": true,
	"igshid": true, "mc_cid": true, "mc_eid": true, "ref": true, "ref_src": true,
	"ref_url": true, "cmpid": true, "ocid": true, "smid": true, "cid": false,
	"_ga": true, "guccounter": true, "spm": true, "share": false, "s": false,
	"rss": true, "feed": false, "at_medium": true, "at_campaign": true,
	"taid": true, "ns_mchannel": true, "ns_source": true, "ns_campaign": true,
	"ns_linkname": true, "ns_fee": true, "wt.mc_id": true, "xtor": true,
	"utm": true, "amp": true, "outputtype": true,
}

// mobileHosts maps mobile and AMP hosts to the canonical host.
var hostAliases = map[string]string{
	"twitter.com":         "x.com",
	"mobile.twitter.com":  "x.com",
	"mobile.x.com":        "x.com",
	"m.facebook.com":      "facebook.com",
	"m.youtube.com":       "youtube.com",
	"telegram.me":         "t.me",
	"m.bbc.co.uk":         "bbc.co.uk",
	"m.bbc.com":           "bbc.com",
	"amp.theguardian.com": "theguardian.com",
	"mobile.reuters.com":  "reuters.com",
	"m.allafrica.com":     "allafrica.com",
	"amp.cnn.com":         "cnn.com",
	"edition.cnn.com":     "cnn.com",
	"m.lenta.ru":          "lenta.ru",
	"m.ria.ru":            "ria.ru",
	"m.dw.com":            "dw.com",
	"m.aljazeera.com":     "aljazeera.com",
	"m.wikipedia.org":     "wikipedia.org",
	"mobile.nytimes.com":  "nytimes.com",
	"m.vk.com":            "vk.com",
	"m.interfax.ru":       "interfax.ru",
	"m.tass.ru":           "tass.ru",
}

// xParams are query parameters x.com adds to shared links.
var xParams = map[string]bool{"s": true, "t": true, "ref_src": true}

// CanonicalURL returns the canonical form of a link: lower-case scheme and
// host, no default port, no fragment, no tracking parameters, sorted query,
// known mobile/AMP hosts unwrapped, twitter.com → x.com and
// t.me/s/<channel>/<id> → t.me/<channel>/<id>. A string that is not an
// absolute http(s) URL is returned trimmed and otherwise untouched.
func CanonicalURL(raw string) string {
	raw = strings.TrimSpace(raw)
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "HTTP" && u.Scheme != "HTTPS") {
		return raw
	}
	u.Scheme = strings.ToLower(u.Scheme)
	host := strings.ToLower(u.Hostname())
	port := u.Port()
	if (u.Scheme == "http" && port == "80") || (u.Scheme == "https" && port == "443") {
		port = ""
	}
	if host = strings.TrimRight(host, "."); host == "" {
		return raw // "http://..": no host to canonicalize
	}
	// "www." goes while what follows is still a dotted name: every such
	// prefix at once, or a second call would strip one more ("www.www.x.com"),
	// and never the last label ("www.com" is a domain of its own).
	for strings.HasPrefix(host, "www.") && strings.Contains(host[len("www."):], ".") {
		host = host[len("www."):]
	}
	if alias, ok := hostAliases[host]; ok {
		host = alias
	}
	if host == "youtu.be" {
		// youtu.be/<id> is youtube.com/watch?v=<id>, not youtube.com/<id>
		if id := strings.Trim(u.Path, "/"); id != "" && !strings.Contains(id, "/") {
			q := u.Query()
			q.Set("v", id)
			return CanonicalURL("https://youtube.com/watch?" + q.Encode())
		}
	}
	if (host == "google.com" || strings.HasPrefix(host, "google.")) && strings.HasPrefix(u.Path, "/amp/s/") {
		// Google's AMP viewer: google.com/amp/s/<host>/<path>
		if inner, err := url.Parse("https://" + strings.TrimPrefix(u.Path, "/amp/s/")); err == nil && inner.Host != "" {
			inner.RawQuery = u.RawQuery
			return CanonicalURL(inner.String())
		}
	}
	if strings.HasSuffix(host, ".cdn.ampproject.org") {
		// https://example-com.cdn.ampproject.org/c/s/example.com/path → https://example.com/path
		p := strings.TrimPrefix(u.EscapedPath(), "/")
		for _, pre := range []string{"c/s/", "v/s/", "c/", "v/"} {
			if strings.HasPrefix(p, pre) {
				if inner, err := url.Parse("https://" + strings.TrimPrefix(p, pre)); err == nil && inner.Host != "" {
					inner.RawQuery = u.RawQuery
					return CanonicalURL(inner.String())
				}
			}
		}
	}
	if port != "" {
		u.Host = host + ":" + port
	} else {
		u.Host = host
	}
	u.Fragment, u.RawFragment = "", ""
	u.User = nil
	path := u.Path
	// t.me/s/<channel>/… is the web preview of t.me/<channel>/…; strip the
	// prefix only in front of a channel, and until none is left, so that
	// canonicalizing twice changes nothing.
	for host == "t.me" && strings.HasPrefix(path, "/s/") && len(path) > 3 && path[3] != '/' {
		path = path[len("/s"):]
	}
	for _, amp := range []string{"/amp/", "/amp", ".amp"} {
		if strings.HasSuffix(path, amp) && len(path) > len(amp) {
			path = strings.TrimSuffix(path, amp)
			break
		}
	}
	if path == "/" {
		path = ""
	}
	u.Path, u.RawPath = path, ""
	if u.RawQuery != "" {
		u.RawQuery = canonicalQuery(u.RawQuery, host)
	}
	u.ForceQuery = false
	return u.String()
}

// queryParam is one key=value pair of a query, unescaped.
type queryParam struct{ key, value string }

// canonicalQuery is the query without tracking parameters, sorted by key
// and then value, re-escaped. It reads the pairs as url.ParseQuery does
// (pairs with ";" or a bad escape are dropped, as Query drops them) but
// into a small slice instead of a map of slices.
func canonicalQuery(raw, host string) string {
	var stack [8]queryParam
	params := stack[:0]
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		if pair == "" || strings.Contains(pair, ";") {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		k, err := url.QueryUnescape(k)
		if err != nil {
			continue
		}
		if v, err = url.QueryUnescape(v); err != nil {
			continue
		}
		lk := strings.ToLower(k)
		if strings.HasPrefix(lk, "utm_") || trackingParams[lk] || (host == "x.com" && xParams[lk]) {
			continue
		}
		params = append(params, queryParam{k, v})
	}
	if len(params) == 0 {
		return ""
	}
	slices.SortFunc(params, func(a, b queryParam) int {
		if c := strings.Compare(a.key, b.key); c != 0 {
			return c
		}
		return strings.Compare(a.value, b.value)
	})
	var b strings.Builder
	for _, p := range params {
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(p.key))
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(p.value))
	}
	return b.String()
}
