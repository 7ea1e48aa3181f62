"""A bench's result block in a docs page, between `<!-- name:start -->` and `<!-- name:end -->`:
replaced in place when the page has it, appended otherwise."""

from __future__ import annotations

from pathlib import Path


def write_block(doc: Path, name: str, block: str, *, title: str = "") -> None:
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    text = doc.read_text() if doc.exists() else title
    wrapped = f"{start}\n{block}\n{end}"
    if start in text:
        text = text[: text.index(start)] + wrapped + text[text.index(end) + len(end) :]
    else:
        text = text.rstrip() + "\n\n" + wrapped + "\n"
    doc.write_text(text)
