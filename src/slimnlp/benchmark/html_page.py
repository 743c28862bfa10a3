"""The benchmark as one self-contained HTML page (styles inline, plots as base64 data URIs).

    from slimnlp.benchmark.html_page import write_html
    write_html(results, {"plot": Path("runs/x/bench/accuracy_vs_latency.png")}, "runs/x/bench/report.html")

One file that opens anywhere (a browser, an MLflow artifact view, an e-mail attachment) with no
network and no sibling files. The tables are the same cells as results.md
(`slimnlp.benchmark.tables`), so the two never disagree.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import Any

from slimnlp.benchmark import tables
from slimnlp.benchmark.plots import PLOT_TITLES

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; max-width: 1400px; }
table { border-collapse: collapse; margin: 1rem 0; font-size: 0.85rem; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.5rem; text-align: right; }
th { background: #f0f0f0; } td:first-child, th:first-child { text-align: left; }
.verdict { background: #fff4d6; border-left: 4px solid #e0a800; padding: 0.5rem 1rem; }
.scroll { overflow-x: auto; } img.plot { max-width: 100%; display: block; margin: 1rem 0; }
"""


def _table(table_id: str, header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f'<div class="scroll"><table id="{table_id}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _image(kind: str, path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    title = PLOT_TITLES.get(kind, kind.replace("confusion:", "Confusion matrix: "))
    return (
        f"<figure><img class='plot' id='img-{html.escape(kind.replace(':', '-'))}' "
        f"alt='{html.escape(title)}' src='data:image/png;base64,{data}'>"
        f"<figcaption>{html.escape(title)}</figcaption></figure>"
    )


def _section(section: dict[str, Any]) -> str:
    """A section an earlier step left for the report (`slimnlp.benchmark.sections`)."""
    parts = [f"<h2>{html.escape(section['title'])}</h2>"]
    if section.get("text"):
        parts.append(f"<p>{html.escape(section['text'])}</p>")
    if section.get("header"):
        table_id = "section-" + "".join(c if c.isalnum() else "-" for c in section["title"].lower())
        parts.append(_table(table_id, section["header"], section["rows"]))
    for name, path in section.get("images", {}).items():
        if Path(path).is_file():
            parts.append(_image(f"{section['title']}: {name}", Path(path)))
    return "".join(parts)


def render_html(results: dict[str, Any], images: dict[str, Path]) -> str:
    """The page: verdicts, the best student vs the baselines, method, tables, plots."""
    summary = results.get("summary") or {}
    parts = ["<h1>slimnlp benchmark</h1>"]
    if results.get("decision"):  # left by the promote step (slimnlp.promote.report)
        decision = results["decision"]
        parts.append(
            f"<h2 id='decision'>Decision</h2><p class='verdict'>{html.escape(decision['headline'])}</p>"
        )
        parts.append("<ul>" + "".join(f"<li>{html.escape(x)}</li>" for x in decision["lines"]) + "</ul>")
    parts += [f"<p class='verdict'>{html.escape(v)}</p>" for v in summary.get("verdicts", [])]
    if summary.get("best_student"):
        parts.append(f"<h2>{html.escape(summary['best_student'])} vs the baselines</h2>")
        parts.append(_table("versus", tables.VERSUS_HEADER, tables.versus_rows(results)))
    parts.append("<h2>All variants</h2>" + _table("variants", *tables.main_table(results)))
    main_plots = [k for k in PLOT_TITLES if k in images]
    parts += [_image(kind, images[kind]) for kind in main_plots]
    parts += [_section(section) for section in results.get("sections", [])]
    header, rows = tables.length_table(results)
    if header:
        parts.append("<h2>p50 latency (ms) by sequence length</h2>" + _table("lengths", header, rows))
    if results.get("step_energy"):
        parts.append(
            "<h2>Energy of the pipeline steps</h2>" + _table("steps", *tables.step_energy_table(results))
        )
    parts.append(
        "<h2>Per-class precision / recall / F1</h2>" + _table("per-class", *tables.per_class_table(results))
    )
    parts += [_image(kind, path) for kind, path in images.items() if kind.startswith("confusion:")]
    parts.append(
        "<h2>Method</h2><ul>"
        + "".join(f"<li>{html.escape(x)}</li>" for x in tables.method_lines(results))
        + "</ul>"
    )
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>slimnlp benchmark</title>"
        f"<style>{STYLE}</style></head><body>{''.join(parts)}</body></html>\n"
    )


def write_html(results: dict[str, Any], images: dict[str, Path], path: str | Path) -> Path:
    """Write the page to `path`; `images` maps plot kinds (as in write_plots) to PNG files."""
    path = Path(path)
    path.write_text(render_html(results, images), encoding="utf-8")
    return path
