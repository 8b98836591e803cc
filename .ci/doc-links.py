#!/usr/bin/env python3
"""Checks the repository's markdown: every relative link in every *.md file (target/ and .git/
skipped) names a file or directory that exists inside the repository, and every `#anchor` into
a markdown file matches one of its headings (GitHub's slugs). README.md, the front door, must
stay within 185 lines and name no path outside the repository (`../`).

Prints each problem as `file:line: what` and exits 1, or prints one OK line. Standard library
only, so CI runs it before anything is built.
"""
import re
import sys
import unicodedata
from pathlib import Path
from urllib.parse import unquote

ROOT = Path(__file__).resolve().parent.parent
SKIP_DIRS = {"target", ".git"}
README_MAX_LINES = 185

# [text](dest "title") and ![alt](dest); the text may hold one level of brackets.
INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*(<[^>]*>|[^)\s]+)(?:\s+(?:\"[^\"]*\"|'[^']*'))?\s*\)")
# [label]: dest
REFERENCE_DEF = re.compile(r"^ {0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)")
CODE_SPAN = re.compile(r"(`+)(.+?)\1")
FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
HTML_ANCHOR = re.compile(r"<a\s+(?:name|id)=\"([^\"]+)\"", re.IGNORECASE)
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def markdown_files():
    for path in sorted(ROOT.rglob("*.md")):
        rel = path.relative_to(ROOT)
        if not any(part in SKIP_DIRS for part in rel.parts[:-1]):
            yield path


def prose_lines(text):
    """(line number, line) for every line outside fenced code blocks."""
    fence = None
    for number, line in enumerate(text.splitlines(), 1):
        m = FENCE.match(line)
        if m:
            marker = m.group(1)
            if fence is None:
                fence = marker
            elif marker[0] == fence[0] and len(marker) >= len(fence):
                fence = None
            continue
        if fence is None:
            yield number, line


def slug(heading):
    """GitHub's anchor for a heading: the rendered text, lowercased, punctuation other than
    '-' and '_' dropped, each space a '-'."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link reads as its text
    text = re.sub(r"<[^>]+>", "", text)  # inline HTML
    text = text.replace("`", "").replace("*", "")
    kept = []
    for ch in text.strip().lower():
        if ch in " -_" or unicodedata.category(ch)[0] in "LNM":
            kept.append(ch)
    return "".join(kept).replace(" ", "-")


ANCHOR_CACHE = {}


def anchors_of(path):
    if path not in ANCHOR_CACHE:
        seen = {}
        anchors = set()
        for _, line in prose_lines(path.read_text(encoding="utf-8")):
            for name in HTML_ANCHOR.findall(line):
                anchors.add(name)
            m = HEADING.match(line)
            if not m:
                continue
            base = slug(m.group(2))
            n = seen.get(base, 0)
            seen[base] = n + 1
            anchors.add(base if n == 0 else f"{base}-{n}")
        ANCHOR_CACHE[path] = anchors
    return ANCHOR_CACHE[path]


def links_in(text):
    for number, line in prose_lines(text):
        m = REFERENCE_DEF.match(line)
        if m:
            yield number, m.group(1)
            continue
        for m in INLINE_LINK.finditer(CODE_SPAN.sub("", line)):
            yield number, m.group(1)


def check_link(md, dest):
    """What is wrong with one link's destination, or None."""
    dest = dest.strip("<>")
    if SCHEME.match(dest) or dest.startswith("//"):
        return None  # a URL: not this script's business
    target, _, anchor = dest.partition("#")
    target = unquote(target)
    if not target:
        resolved = md
    elif target.startswith("/"):
        resolved = (ROOT / target.lstrip("/")).resolve()
    else:
        resolved = (md.parent / target).resolve()
    if resolved != ROOT and ROOT not in resolved.parents:
        return f"link {dest!r} points outside the repository"
    if not resolved.exists():
        return f"link {dest!r}: no such file {resolved.relative_to(ROOT)}"
    if anchor and resolved.is_file() and resolved.suffix == ".md":
        if unquote(anchor) not in anchors_of(resolved):
            return f"link {dest!r}: no heading with anchor #{anchor} in {resolved.relative_to(ROOT)}"
    return None


def check_readme(readme):
    problems = []
    text = readme.read_text(encoding="utf-8")
    lines = text.splitlines()
    if len(lines) > README_MAX_LINES:
        problems.append((1, f"README.md has {len(lines)} lines; the front door keeps to {README_MAX_LINES}"))
    for number, line in enumerate(lines, 1):
        if "../" in line:
            problems.append((number, "README.md names a path outside the repository ('../')"))
    return problems


def main():
    problems = []
    files = links = 0
    for md in markdown_files():
        files += 1
        rel = md.relative_to(ROOT)
        for number, dest in links_in(md.read_text(encoding="utf-8")):
            links += 1
            what = check_link(md, dest)
            if what:
                problems.append(f"{rel}:{number}: {what}")
    readme = ROOT / "README.md"
    if readme.exists():
        problems += [f"README.md:{n}: {what}" for n, what in check_readme(readme)]
    else:
        problems.append("README.md: missing")
    for p in problems:
        print(p)
    if problems:
        print(f"doc-links: {len(problems)} problem(s) in {files} markdown files")
        return 1
    print(f"doc-links: OK ({files} markdown files, {links} links)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
