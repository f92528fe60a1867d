"""Headless Chromium for reading rendered pages: the DOM after layout, as a reader's browser has it."""
from __future__ import annotations

import shutil
import subprocess
import tempfile
from html.parser import HTMLParser
from pathlib import Path

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]


def chromium() -> str:
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    assert binary, "chromium is not installed: `apt-get install chromium chromium-driver` (.ci/run does)"
    return binary


def render(page: Path, *, screenshot: Path | None = None) -> str:
    """The page's DOM as Chromium rendered it (offline: a file URL, background networking off)."""
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        args = [chromium(), *FLAGS, f"--user-data-dir={profile}"]
        if screenshot is not None:
            subprocess.run([*args, f"--screenshot={screenshot}", "--window-size=1400,2000", page.as_uri()],
                           capture_output=True, timeout=120, check=True)
        run = subprocess.run([*args, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120,
                             check=True)
    return run.stdout


class Element:
    def __init__(self, tag: str, attrs: dict[str, str]) -> None:
        self.tag, self.attrs, self.children, self.text_parts = tag, attrs, [], []

    @property
    def text(self) -> str:
        return "".join(self.text_parts).strip()

    def find_all(self, **attrs: str | None) -> list[Element]:
        """Descendants having each attribute (value None: any value)."""
        found = []
        for child in self.children:
            if all(k in child.attrs and (v is None or child.attrs[k] == v) for k, v in attrs.items()):
                found.append(child)
            found += child.find_all(**attrs)
        return found

    def field(self, name: str) -> str:
        hits = self.find_all(**{"data-field": name})
        assert len(hits) == 1, f"{len(hits)} elements with data-field={name}"
        return hits[0].text


VOID = {"meta", "br", "img", "input", "link", "hr", "col", "area", "base", "source", "wbr"}


class _Tree(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#root", {})
        self.stack = [self.root]

    def handle_starttag(self, tag, attrs):
        element = Element(tag, {k.replace("_", "-"): v or "" for k, v in attrs})
        self.stack[-1].children.append(element)
        if tag not in VOID:
            self.stack.append(element)

    def handle_startendtag(self, tag, attrs):
        self.stack[-1].children.append(Element(tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag):
        for depth in range(len(self.stack) - 1, 0, -1):
            if self.stack[depth].tag == tag:
                del self.stack[depth:]
                return

    def handle_data(self, data):
        for element in self.stack:
            element.text_parts.append(data)


def parse(dom: str) -> Element:
    tree = _Tree()
    tree.feed(dom)
    return tree.root
