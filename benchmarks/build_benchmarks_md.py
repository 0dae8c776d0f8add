"""Rebuild BENCHMARKS.md: the summary below plus every docs/benchmarks/<part>.md, in order.

Each part's engineer keeps their own detailed file (figure, command, date, machine); this script
only stitches them together so there is one place to read.  Run: python benchmarks/build_benchmarks_md.py
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PARTS = ["ingestion", "recommendations", "support", "advertising", "analytics", "resilience", "security", "storefront"]


def demote_headings(markdown: str) -> str:
    """One level down, so each part sits under the document's title; code blocks untouched."""
    out, in_fence = [], False
    for line in markdown.splitlines():
        if line.startswith("```"):
            in_fence = not in_fence
        out.append("#" + line if line.startswith("#") and not in_fence else line)
    return "\n".join(out)


def main() -> None:
    summary = (ROOT / "docs" / "benchmarks" / "SUMMARY.md").read_text()
    sections = [summary.rstrip()]
    for part in PARTS:
        text = (ROOT / "docs" / "benchmarks" / f"{part}.md").read_text().rstrip()
        sections.append(demote_headings(text))
    (ROOT / "BENCHMARKS.md").write_text("\n\n---\n\n".join(sections) + "\n")


if __name__ == "__main__":
    main()
