#!/usr/bin/env python3
"""dashboard_dom.py DOM_FILE: the wvcoord dashboard, as Chromium's --dump-dom left it after its
scripts ran, summarised as JSON for the integration test to check with jq. It reads the page's
test hooks (ids, data attributes, classes); it is not a general HTML tool."""
import html.parser
import json
import sys

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}


class Node:
    def __init__(self, tag, attrs, parent):
        self.tag, self.attrs, self.parent, self.children = tag, dict(attrs), parent, []

    def classes(self):
        return (self.attrs.get("class") or "").split()

    def text(self):
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def walk(self):
        for c in self.children:
            if isinstance(c, Node):
                yield c
                yield from c.walk()

    def find_all(self, pred):
        return [n for n in self.walk() if pred(n)]

    def find(self, pred):
        return next((n for n in self.walk() if pred(n)), None)


class Parser(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {}, None)
        self.cur = self.root

    def handle_starttag(self, tag, attrs):
        node = Node(tag, attrs, self.cur)
        self.cur.children.append(node)
        if tag not in VOID:
            self.cur = node

    def handle_endtag(self, tag):
        n = self.cur
        while n is not None and n.tag != tag:
            n = n.parent
        if n is not None and n.parent is not None:
            self.cur = n.parent

    def handle_data(self, data):
        self.cur.children.append(data)


def by_id(root, ident):
    return root.find(lambda n: n.attrs.get("id") == ident)


def has_class(cls):
    return lambda n: cls in n.classes()


def text_of(node, default=None):
    return " ".join(node.text().split()) if node is not None else default


def first_text(node, cls):
    return text_of(node.find(has_class(cls))) if node is not None else None


def chips(node):
    """data-key (or data-name) -> data-phase of the phase chips under node."""
    out = {}
    for c in node.find_all(lambda n: "phase" in n.classes() and "data-phase" in n.attrs):
        out[c.attrs.get("data-key") or c.attrs.get("data-name", "")] = c.attrs["data-phase"]
    return out


def summary(root):
    body = root.find(lambda n: n.tag == "body")
    battrs = body.attrs if body is not None else {}
    conn = by_id(root, "conn")
    banner = by_id(root, "banner")
    rows = []
    nodes = by_id(root, "nodes")
    for tr in nodes.find_all(lambda n: n.tag == "tr" and "data-key" in n.attrs) if nodes else []:
        key_cell = tr.find(has_class("key"))
        short = key_cell.find(lambda n: n.tag == "span") if key_cell else None
        ups = tr.find(has_class("upgrades"))
        rows.append({
            "key": tr.attrs["data-key"],
            "title": short.attrs.get("title") if short else None,
            "short": text_of(short),
            "silent": tr.attrs.get("data-silent"),
            "live": tr.attrs.get("data-live"),
            "classes": tr.classes(),
            "silent_badge": tr.find(has_class("silent-mark")) is not None,
            "node": tr.attrs.get("data-node"),
            "health": tr.attrs.get("data-health"),
            "role": first_text(tr, "role"),
            "address": first_text(tr, "address"),
            "height": first_text(tr, "height"),
            "lag": first_text(tr, "lag"),
            "version": first_text(tr, "version"),
            "heard": first_text(tr, "heard"),
            "phases": chips(ups) if ups else {},
        })
    upgrades = []
    for sec in root.find_all(lambda n: "data-upgrade" in n.attrs):
        bar = sec.find(lambda n: n.attrs.get("role") == "progressbar")
        mark = sec.find(has_class("quorum-mark"))
        voters = sec.find(has_class("voters"))
        upgrades.append({
            "name": sec.attrs["data-upgrade"],
            "height": sec.attrs.get("data-height"),
            "state": sec.attrs.get("data-state"),
            "ready": first_text(sec, "ready"),
            "validators": first_text(sec, "validators"),
            "quorum": first_text(sec, "quorum"),
            "progress": first_text(sec, "progress-text"),
            "bar_now": bar.attrs.get("aria-valuenow") if bar else None,
            "quorum_mark": mark.attrs.get("style") if mark else None,
            "sha256": [t.attrs.get("data-sha256") for t in sec.find_all(has_class("triple"))],
            "nodes": chips(voters) if voters else {},
        })
    problems = by_id(root, "problems")
    return {
        "updates": int(battrs.get("data-updates") or 0),
        "conn": conn.attrs.get("data-state") if conn else None,
        "banner": None if banner is None or "hidden" in banner.attrs else text_of(banner),
        "chain": text_of(by_id(root, "chain")),
        "validators": text_of(by_id(root, "validators")),
        "quorum": text_of(by_id(root, "quorum")),
        "tolerated": text_of(by_id(root, "tolerated")),
        "live": text_of(by_id(root, "live-count")),
        "network_height": text_of(by_id(root, "network-height")),
        "rows": rows,
        "upgrades": upgrades,
        "problems": [text_of(li) for li in problems.find_all(lambda n: n.tag == "li")]
        if problems else [],
    }


def main():
    parser = Parser()
    with open(sys.argv[1], encoding="utf-8", errors="replace") as f:
        parser.feed(f.read())
    parser.close()
    json.dump(summary(parser.root), sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
