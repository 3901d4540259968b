package normalize

import (
	"net/url"
	"slices"
	"strings"
)

// trackingParams are query parameters that identify a campaign, a click
// or a share, never the resource. The list is ours, reviewed against the
// global rules of ClearURLs (github.com/ClearURLs/Rules, data.min.json)
// and AdGuard's URL tracking filter (github.com/AdguardTeam/AdguardFilters,
// TrackParamFilter), keeping the parameters news sites and their
// newsletters, social posts and ad campaigns add. Names are matched
// case-insensitively; trackingPrefixes covers the families. A name listed
// false was considered and kept, because some site uses it for content.
// Last reviewed 2026-12.
var trackingParams = map[string]bool{
	// ad clicks
	"fbclid": true, "gclid": true, "dclid": true, "gbraid": true, "wbraid": true, "gclsrc": true,
	"msclkid": true, "yclid": true, "twclid": true, "ttclid": true, "li_fat_id": true,
	"igshid": true, "igsh": true, "srsltid": true, "epik": true, "rb_clickid": true, "s_kwcid": true, "ef_id": true,
	// newsletters and mail
	"mc_cid": true, "mc_eid": true, "mc_tc": true, "mkt_tok": true, "_hsenc": true, "_hsmi": true,
	"__hssc": true, "__hstc": true, "__hsfp": true, "hsctatracking": true, "ml_subscriber": true,
	"ml_subscriber_hash": true, "oly_anon_id": true, "oly_enc_id": true, "vero_conv": true, "vero_id": true,
	"wickedid": true, "sc_cid": true, "et_rid": true, "et_cid": true, "elqtrack": true, "elqtrackid": true,
	// analytics and campaign ids
	"_ga": true, "_gl": true, "_openstat": true, "cmpid": true, "icid": true, "ncid": true, "ocid": true,
	"ito": true, "s_cid": true, "smid": true, "taid": true, "traffic_source": true, "maca": true,
	"wt_mc": true, "wtmc": true, "wt_zmc": true, "wtrid": true, "xtor": true, "xtref": true,
	"tracking_source": true, "cmp": true, "cid": false, "mbid": true, "c_id": true, "campaign_id": true,
	"guccounter": true, "guce_referrer": true, "guce_referrer_sig": true, "spm": true, "scm": true,
	"__twitter_impression": true, "_branch_match_id": true, "ceneo_spo": true, "echobox": true,
	"dicbo": true, "sr_share": true, "fb_source": true, "fb_ref": true, "action_object_map": true,
	"action_type_map": true, "action_ref_map": true, "gs_l": true, "os_ehash": true,
	// referrers and shares
	"ref": true, "ref_src": true, "ref_url": true, "referrer": true, "share": true, "shared": true,
	"rss": true, "utm": true, "amp": true, "outputtype": true, "feature": false, "s": false, "feed": false,
}

// trackingPrefixes are the parameter families dropped by prefix: Urchin
// (utm_), AT Internet (at_), Webtrends (wt.), Google Analytics (ga_),
// HubSpot ads (hsa_), Matomo and Piwik, comScore (ns_), internal and
// outbound campaign tags (itm_, otm_), Facebook actions and VN tags.
var trackingPrefixes = []string{
	"utm_", "at_", "wt.", "ga_", "hsa_", "mtm_", "pk_", "piwik_", "matomo_", "ns_",
	"itm_", "otm_", "hmb_", "fb_action_", "vn_",
}

// hostParams are parameters that track on one host only: x.com's share
// marks, YouTube's share id.
var hostParams = map[string]map[string]bool{
	"x.com":       {"s": true, "t": true, "ref_src": true},
	"youtube.com": {"si": true, "feature": true, "pp": true},
}

func isTracking(key, host string) bool {
	k := strings.ToLower(key)
	if trackingParams[k] || hostParams[host][k] {
		return true
	}
	for _, p := range trackingPrefixes {
		if strings.HasPrefix(k, p) {
			return true
		}
	}
	return false
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

// CanonicalURL returns the canonical form of a link: lower-case scheme and
// host, no default port, no fragment, no tracking parameters, sorted query,
// known redirectors unwrapped (see unwrapRedirect), known mobile/AMP hosts
// unwrapped, twitter.com → x.com and t.me/s/<channel>/<id> →
// t.me/<channel>/<id>. Path and query keep the escaping the source
// published ("*" stays "*"), except a literal "&amp;", which is decoded once. A string that is not an absolute http(s) URL
// is returned trimmed and otherwise untouched.
func CanonicalURL(raw string) string { return canonicalURL(raw, 0) }

// webURL reports whether s is an absolute http(s) URL with a host: the
// only links an entry passes on.
func webURL(s string) bool {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return false
	}
	scheme := strings.ToLower(u.Scheme)
	return scheme == "http" || scheme == "https"
}

// maxUnwrap bounds nested redirectors (a Google link to a Facebook link to
// an article); deeper ones are left wrapped.
const maxUnwrap = 4

func canonicalURL(raw string, depth int) string {
	raw = strings.TrimSpace(raw)
	// "&amp;" in a link is the publisher escaping it twice (the feed's XML
	// already decoded one level): a browser would request "amp;date=…".
	// Decoded once here, so that renderers escape it once and links work.
	raw = strings.ReplaceAll(raw, "&amp;", "&")
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "HTTP" && u.Scheme != "HTTPS") {
		return raw
	}
	if depth < maxUnwrap {
		if inner, ok := unwrapRedirect(raw, u); ok {
			return canonicalURL(inner, depth+1)
		}
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
			return canonicalURL("https://youtube.com/watch?"+q.Encode(), depth+1)
		}
	}
	if (host == "google.com" || strings.HasPrefix(host, "google.")) && strings.HasPrefix(u.Path, "/amp/s/") {
		// Google's AMP viewer: google.com/amp/s/<host>/<path>
		if inner, err := url.Parse("https://" + strings.TrimPrefix(u.Path, "/amp/s/")); err == nil && inner.Host != "" {
			inner.RawQuery = u.RawQuery
			return canonicalURL(inner.String(), depth+1)
		}
	}
	if strings.HasSuffix(host, ".cdn.ampproject.org") {
		// https://example-com.cdn.ampproject.org/c/s/example.com/path → https://example.com/path
		p := strings.TrimPrefix(u.EscapedPath(), "/")
		for _, pre := range []string{"c/s/", "v/s/", "c/", "v/"} {
			if strings.HasPrefix(p, pre) {
				if inner, err := url.Parse("https://" + strings.TrimPrefix(p, pre)); err == nil && inner.Host != "" {
					inner.RawQuery = u.RawQuery
					return canonicalURL(inner.String(), depth+1)
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
	// The path is edited as the source escaped it, so that a character it
	// did not escape ("*", "'", "(") is not escaped now.
	path := u.EscapedPath()
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
	if p, err := url.PathUnescape(path); err == nil {
		u.Path, u.RawPath = p, path
	}
	u.RawQuery = tidyQuery(u.RawQuery, host)
	u.ForceQuery = false
	return u.String()
}

// tidyQuery canonicalizes a query kept as written. Space can end it once
// what followed is gone: a cut fragment ("…?q=1  #top"), or parameters
// canonicalQuery drops ("?q=1 &utm_source=x"). Such space would end the
// link, and TrimSpace would remove it on the next call, so it is trimmed
// here until nothing changes, and canonicalizing twice is once.
func tidyQuery(q, host string) string {
	for range 4 {
		t := strings.TrimRight(q, " \t\n\r\v\f")
		if t != "" {
			t = canonicalQuery(t, host)
		}
		if t == q {
			break
		}
		q = t
	}
	return q
}

// unwrapRedirect finds the link a redirector stands for: Google's
// /url?q=, Facebook's and Instagram's l.php?u= and /?u=, VK's away.php?to=,
// YouTube's /redirect?q=, LinkedIn's redir, Outlook safe links, Telegram's
// instant view (t.me/iv?url=), a feedproxy/feedburner link that names its
// target, and a publisher's "…/*https://real.site/article" form (taken as
// written, not re-escaped). news.google.com links are not redirectors
// that name their target (the article id is opaque) and stay as they are.
func unwrapRedirect(raw string, u *url.URL) (string, bool) {
	if i := strings.Index(raw, "/*http"); i >= 0 && i > strings.Index(raw, "://") {
		inner := raw[i+2:]
		if strings.HasPrefix(inner, "http://") || strings.HasPrefix(inner, "https://") {
			return inner, true
		}
	}
	host := strings.TrimPrefix(strings.ToLower(u.Hostname()), "www.")
	path := u.Path
	var keys []string
	switch {
	case host == "news.google.com":
		return "", false
	case (host == "google.com" || strings.HasPrefix(host, "google.")) && path == "/url":
		keys = []string{"q", "url"}
	case (host == "l.facebook.com" || host == "lm.facebook.com" || host == "m.facebook.com" || host == "facebook.com") && path == "/l.php":
		keys = []string{"u"}
	case host == "l.instagram.com" && (path == "" || path == "/"):
		keys = []string{"u"}
	case (host == "vk.com" || host == "m.vk.com") && path == "/away.php":
		keys = []string{"to"}
	case (host == "youtube.com" || host == "m.youtube.com") && path == "/redirect":
		keys = []string{"q"}
	case host == "linkedin.com" && strings.HasPrefix(path, "/redir/"):
		keys = []string{"url"}
	case strings.HasSuffix(host, ".safelinks.protection.outlook.com"):
		keys = []string{"url"}
	case host == "t.me" && path == "/iv":
		keys = []string{"url"}
	case host == "feedproxy.google.com" || strings.HasSuffix(host, "feedburner.com"):
		keys = []string{"url", "u", "link"}
	default:
		return "", false
	}
	q := u.Query()
	for _, k := range keys {
		v := strings.TrimSpace(q.Get(k))
		if strings.HasPrefix(v, "//") {
			v = "https:" + v
		}
		if t, err := url.Parse(v); err == nil && t.Host != "" && (t.Scheme == "http" || t.Scheme == "https") {
			return v, true
		}
	}
	return "", false
}

// queryParam is one key=value pair of a query, unescaped, and the pair as
// the source wrote it.
type queryParam struct{ key, value, raw string }

// canonicalQuery is the query without tracking parameters, sorted by key
// and then value, each pair as the source escaped it (re-escaping would
// publish a link the source never wrote, and some servers read "%2C" and
// "," differently). It reads the pairs as url.ParseQuery does
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
		if isTracking(k, host) {
			continue
		}
		params = append(params, queryParam{k, v, pair})
	}
	if len(params) == 0 {
		return ""
	}
	slices.SortFunc(params, func(a, b queryParam) int {
		if c := strings.Compare(a.key, b.key); c != 0 {
			return c
		}
		if c := strings.Compare(a.value, b.value); c != 0 {
			return c
		}
		return strings.Compare(a.raw, b.raw) // "a=%41" and "a=A"
	})
	var b strings.Builder
	for _, p := range params {
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.raw)
	}
	return b.String()
}
