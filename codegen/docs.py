"""Model documentation (HTML fragments) turned into plain-text docstrings."""

from __future__ import annotations

import html
import re
import textwrap
from html.parser import HTMLParser

_BLOCK = frozenset({"p", "ul", "ol", "li", "dl", "dt", "dd", "br", "note", "important", "div"})


class _TextCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[str] = []
        self.current: list[str] = []
        self.prefix = ""

    def _flush(self) -> None:
        text = re.sub(r"\s+", " ", "".join(self.current)).strip()
        self.current = []
        if text:
            self.blocks.append(self.prefix + text)
            self.prefix = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCK:
            self._flush()
            if tag == "li":
                self.prefix = "- "

    def handle_endtag(self, tag: str) -> None:
        if tag in _BLOCK:
            self._flush()

    def handle_data(self, data: str) -> None:
        self.current.append(data)


def html_to_text(fragment: str, width: int = 88) -> str:
    """Plain paragraphs (list items as ``- ``), wrapped to ``width`` columns."""
    if not fragment:
        return ""
    parser = _TextCollector()
    parser.feed(fragment)
    parser.close()
    parser._flush()
    out: list[str] = []
    for block in parser.blocks:
        block = html.unescape(block)
        indent = "  " if block.startswith("- ") else ""
        out.append(
            textwrap.fill(
                block,
                width=width,
                subsequent_indent=indent,
                break_long_words=False,
                break_on_hyphens=False,
            )
        )
    return "\n\n".join(out)


def docstring(text: str, indent: str) -> str:
    """A triple-quoted docstring literal for ``text`` (escaped), indented for its block."""
    if not text:
        return ""
    body = text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    if body.endswith('"'):
        body += " "
    lines = body.split("\n")
    if len(lines) == 1:
        return f'{indent}"""{lines[0]}"""\n'
    joined = "\n".join(f"{indent}{line}" if line else "" for line in lines[1:])
    return f'{indent}"""{lines[0]}\n{joined}\n{indent}"""\n'
