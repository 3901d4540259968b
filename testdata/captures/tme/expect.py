#!/usr/bin/env python3
"""Reads captured t.me/s pages with Python's html.parser (not goquery, not
our code) and writes what a reader of each page sees: every message block's
id, its <time datetime>, its own link, and its text as a browser lays it out
(white-space: normal; only <br> breaks a line)."""
import datetime, html, html.parser, json, re, sys, os

VOID = {"br", "img", "meta", "link", "input", "source", "hr", "wbr", "area", "base", "col", "embed", "param", "track"}

class Page(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack = []      # (tag, classes, attrs)
        self.posts = []
        self.cur = None      # post being read
        self.text_depth = None  # stack depth of the post's own text div
        self.malformed = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        cls = (a.get("class") or "").split()
        if tag == "div" and "tgme_widget_message" in cls:
            m = re.fullmatch(r"([A-Za-z0-9_]{1,64})/([0-9]{1,12})", (a.get("data-post") or "").strip())
            if m:
                self.cur = {"channel": m.group(1), "id": int(m.group(2)), "published": None, "link": None, "text": None, "depth": len(self.stack)}
                self.posts.append(self.cur)
            else:
                self.malformed += 1
                self.cur = None
        in_reply = any("tgme_widget_message_reply" in c for _, c, _ in self.stack)
        if self.cur is not None and tag == "div" and "tgme_widget_message_text" in cls and not in_reply and self.cur["text"] is None and self.text_depth is None:
            self.text_depth = len(self.stack)
            self.buf = []
        if self.cur is not None and tag == "a" and "tgme_widget_message_date" in cls and self.cur["link"] is None:
            self.cur["link"] = html.unescape(a.get("href", "")).replace("&amp;", "&")
        if self.cur is not None and tag == "time" and "datetime" in a and self.cur["published"] is None:
            self.cur["published"] = a["datetime"].strip()
        if self.text_depth is not None and tag == "br":
            self.buf.append("\n")
        if tag not in VOID:
            self.stack.append((tag, cls, a))

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        while self.stack:
            t, _, _ = self.stack.pop()
            if self.text_depth is not None and len(self.stack) == self.text_depth:
                self.cur["text"] = layout("".join(self.buf))
                self.text_depth = None
            if t == tag:
                break

    def handle_data(self, data):
        if self.text_depth is not None:
            self.buf.append(re.sub(r"[ \t\n\r\f]+", " ", data))

def layout(s):
    # spaces around a line break go; runs of spaces are one; edges trimmed
    s = re.sub(r" +", " ", s)
    s = re.sub(r" *\n *", "\n", s)
    return s.strip(" \n")

def main(d):
    out = []
    for name in sorted(os.listdir(d)):
        if not name.endswith(".html"):
            continue
        p = Page()
        p.feed(open(os.path.join(d, name), encoding="utf-8").read())
        posts = []
        for q in p.posts:
            # published_at as the pipeline writes it: RFC 3339 in UTC; an
            # empty datetime stays empty (the test expects the observed time)
            when = q["published"]
            if when:
                when = datetime.datetime.fromisoformat(when).astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
            posts.append({"id": q["id"], "channel": q["channel"], "published_at": when, "link": q["link"], "text": q["text"]})
        out.append({"file": name, "malformed": p.malformed, "posts": posts})
    with open(os.path.join(d, "expected.json"), "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, indent=1)
        f.write("\n")

main(sys.argv[1])
