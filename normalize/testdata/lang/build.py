# Builds feeds.jsonl, the feed and channel part of the language-detection
# evaluation (normalize/lang_eval_test.go), from real captures already in
# the repository. Run from this directory:
#   python3 build.py
# Each row is labelled with the language of its source: a publisher that
# writes in one language (the lang column of testdata/captures/README.md,
# the feed's own <language>, the channel's language). Nothing is labelled
# by reading the text or by running a detector. Files are read with
# Python's own XML and JSON parsers, not with the project's code.
import json, os, re, sys
import xml.etree.ElementTree as ET

ROOT = os.path.join("..", "..", "..")
CAPTURES = os.path.join(ROOT, "testdata", "captures")
FEEDS = os.path.join(ROOT, "eval", "testdata", "feeds")

# file -> language of its publisher. Left out: aktuality (sk) and nuus (af),
# whose languages are not among the default candidates; the miniflux
# fixtures (hand-written); daringfireball-page.html and the feed-rs JSON
# (not feeds); antichristone (a channel that mixes Russian and English).
SOURCES = [
    (CAPTURES, "bbc-rss20.xml", "en"),
    (CAPTURES, "daringfireball-jsonfeed.json", "en"),
    (CAPTURES, "debian-rss10.xml", "en"),
    (CAPTURES, "dustri-atom.xml", "en"),
    (CAPTURES, "googlealerts-atom.xml", "en"),
    (CAPTURES, "inessential-jsonfeed10.json", "en"),
    (CAPTURES, "influxdata-jsonfeed11.json", "en"),
    (CAPTURES, "livemint-rss20.xml", "en"),
    (CAPTURES, "russcox-atom.xml", "en"),
    (CAPTURES, "userland-rss092-sample.xml", "en"),
    (CAPTURES, "writetheweb-rss091-sample.xml", "en"),
    (CAPTURES, "youtube-atom.xml", "en"),
    (FEEDS, "aljazeera-0424.xml", "en"),
    (FEEDS, "aljazeera-0926.xml", "en"),
    (FEEDS, "bbc-world-0926.xml", "en"),
    (FEEDS, "nyt-world-0926.xml", "en"),
    (FEEDS, "nyt-home-0926.xml", "en"),
    (FEEDS, "mehr-0926.xml", "en"),
    (CAPTURES, "golem-rss20-iso8859-1.xml", "de"),
    (CAPTURES, "heise-atom.atom", "de"),
    (CAPTURES, "heise-rss090.rdf", "de"),
    (CAPTURES, "orf-rss10.xml", "de"),
    (CAPTURES, "stadtfeuerwehr-rss091-iso8859-1.xml", "de"),
    (CAPTURES, "lecerclepsy-rss20-latin1-undeclared.xml", "fr"),
    (CAPTURES, "ilgiornale-rss20.xml", "it"),
    (CAPTURES, "ilmessaggero-rss20.xml", "it"),
    (CAPTURES, "uol-rss20-latin1-undeclared.xml", "pt"),
    (CAPTURES, "citydog-rss20.xml", "ru"),
    (CAPTURES, "ibash-rss20-windows1251.xml", "ru"),
    (CAPTURES, "urdu-rss20.xml", "ur"),
    (CAPTURES, "kc0011-rss20-gb2312.rss", "zh"),
]
# bodies are cut at a space before this many characters: the detector
# reads the first 160 runes of the cleaned text
MAXBODY = 2000
CHANNELS = [("habr_com.html", "ru"), ("prg_memes.html", "ru")]


def local(tag):
    return tag.rsplit("}", 1)[-1]


def child(el, name):
    for c in el:
        if local(c.tag) == name:
            return c
    return None


def text(el):
    return "" if el is None else "".join(el.itertext())


def xml_root(data):
    enc = None
    m = re.match(rb'^\s*<\?xml[^>]*encoding=["\']([A-Za-z0-9_-]+)', data)
    if data.startswith(b"\xef\xbb\xbf"):
        enc, data = "utf-8", data[3:]
    elif m:
        enc = m.group(1).decode().lower()
    if enc is None:
        try:
            data.decode("utf-8")
            enc = "utf-8"
        except UnicodeDecodeError:
            enc = "cp1252"  # the two undeclared Latin-1 captures
    if enc == "gb2312":
        enc = "gb18030"
    s = re.sub(r'^\s*<\?xml[^>]*\?>', '', data.decode(enc))
    return ET.fromstring(s)


def items(path):
    """(id, title, body) of every item; body as the feed gives it (HTML)."""
    data = open(path, "rb").read()
    if path.endswith(".json"):
        for it in json.loads(data).get("items", []):
            yield it.get("id", ""), it.get("title", ""), it.get("content_html", "") or it.get("content_text", "")
        return
    root = xml_root(data)
    if local(root.tag) == "feed":
        for e in root:
            if local(e.tag) == "entry":
                body = child(e, "content") or child(e, "summary")
                yield text(child(e, "id")), text(child(e, "title")), text(body)
        return
    src = root if local(root.tag) == "RDF" else child(root, "channel")
    for it in src:
        if local(it.tag) == "item":
            body = text(child(it, "encoded")) or text(child(it, "description"))
            ident = text(child(it, "guid")).strip() or text(child(it, "link")).strip()
            yield ident, text(child(it, "title")), body


rows, seen = [], set()
for folder, name, lang in SOURCES:
    for n, (ident, title, body) in enumerate(items(os.path.join(folder, name))):
        title, body = title.strip(), body.strip()
        # the two Al Jazeera polls share items; an item counts once
        key = (lang, ident or title, title)
        if (not title and not body) or key in seen:
            continue
        seen.add(key)
        if len(body) > MAXBODY:
            body = body[:body.rfind(" ", 0, MAXBODY)]  # more than detection reads
        rows.append({"id": "%s#%d" % (name, n), "lang": lang, "title": title, "text": body, "format": "html"})
tme = json.load(open(os.path.join(CAPTURES, "tme", "expected.json")))
for page in tme:
    lang = dict(CHANNELS).get(page["file"])
    if lang is None:
        continue
    for p in page["posts"]:
        if p["text"].strip():
            rows.append({"id": "%s#%d" % (page["file"], p["id"]), "lang": lang, "title": "", "text": p["text"], "format": "text"})

with open("feeds.jsonl", "w") as f:
    for r in rows:
        f.write(json.dumps(r, ensure_ascii=False) + "\n")
counts = {}
for r in rows:
    counts[r["lang"]] = counts.get(r["lang"], 0) + 1
print(len(rows), "rows", counts, file=sys.stderr)
