"""The report's page: its blocks (a paragraph, a :class:`Table` of display strings, a
:class:`Figure` by file name) rendered as Markdown and as one self-contained HTML page."""

from __future__ import annotations

import base64
import html
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd


@dataclass(frozen=True)
class Table:
    """Rows of display strings, rendered both as Markdown and as HTML."""

    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]

    def markdown(self) -> str:
        def line(cells: tuple[str, ...]) -> str:
            return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

        rule = "| " + " | ".join("---" for _ in self.headers) + " |"
        return "\n".join([line(self.headers), rule, *(line(r) for r in self.rows)])

    def html(self) -> str:
        frame = pd.DataFrame(list(self.rows), columns=list(self.headers))
        return frame.to_html(index=False, escape=True, border=0)


@dataclass(frozen=True)
class Figure:
    caption: str
    name: str


Block = str | Table | Figure  # a paragraph (Markdown emphasis allowed), a table, a figure


def to_markdown(blocks: list[Block]) -> str:
    parts = []
    for block in blocks:
        if isinstance(block, Table):
            parts.append(block.markdown())
        elif isinstance(block, Figure):
            parts.append(f"## {block.caption}\n\n![{block.caption}]({block.name})")
        else:
            parts.append(block)
    return "\n\n".join(parts)


def to_html(blocks: list[Block], out: Path, title: str) -> str:
    """A self-contained page: the tables as HTML, every figure embedded as base64."""
    body = []
    for block in blocks:
        if isinstance(block, Table):
            body.append(block.html())
        elif isinstance(block, Figure):
            data = base64.b64encode((out / block.name).read_bytes()).decode()
            caption = html.escape(block.caption)
            body.append(
                f'<figure><img src="data:image/png;base64,{data}" alt="{caption}">'
                f"<figcaption>{caption}</figcaption></figure>"
            )
        elif block.startswith("## "):
            body.append(f"<h2>{html.escape(block[3:])}</h2>")
        else:
            text = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", html.escape(block))
            text = re.sub(r"`(.+?)`", r"<code>\1</code>", text)
            body.append(f"<p>{text}</p>")
    style = (
        "body{font-family:system-ui,sans-serif;margin:2em;max-width:1400px;color:#222}"
        "table{border-collapse:collapse;margin:1em 0;font-size:14px}"
        "th,td{border:1px solid #ccc;padding:4px 8px;text-align:left}"
        "th{background:#f0f0f0}img{max-width:100%;border:1px solid #eee}"
        "figure{margin:2em 0}figcaption{color:#555;font-size:14px}"
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
        f"</title><style>{style}</style></head><body><h1>{html.escape(title)}</h1>"
        + "\n".join(body)
        + "</body></html>"
    )
