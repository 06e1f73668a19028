"""One table writer for every task: the same rows as CSV (raw numbers), Markdown and LaTeX (formatted cells).

A table is a list of row dictionaries and a list of :class:`Column` s. The CSV holds the raw value of every
``csv_keys`` entry (all column keys by default), so other tools read exact numbers; Markdown and LaTeX show the
formatted cells. LaTeX cells are converted from the Markdown text by :func:`latex_cell` (±, Greek letters, sub- and
superscripts used in our labels), so a column is written once.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

_LATEX_REPLACEMENTS = (
    ("\\", r"\textbackslash{}"),
    ("&", r"\&"),
    ("%", r"\%"),
    ("#", r"\#"),
    ("m_SD", r"$m_\mathrm{SD}$"),
    ("_", r"\_"),
    ("±", r"$\pm$"),
    ("−", "$-$"),
    ("≥", r"$\geq$"),
    ("≤", r"$\leq$"),
    ("→", r"$\to$"),
    ("—", "--"),
    ("–", "--"),
    ("χ²", r"$\chi^2$"),
    ("τ32", r"$\tau_{32}$"),
    ("σ", r"$\sigma$"),
    ("μ", r"$\mu$"),
    ("τ", r"$\tau$"),
    ("ε", r"$\epsilon$"),
    ("α", r"$\alpha$"),
    ("β", r"$\beta$"),
    ("ξ", r"$\xi$"),
    ("Z₀", r"$Z_0$"),
    ("₀", "$_0$"),
    ("²", "$^2$"),
    ("**", ""),
)


_LATEX_PATTERN = re.compile("|".join(re.escape(p) for p, _ in sorted(_LATEX_REPLACEMENTS, key=lambda r: -len(r[0]))))
_LATEX = dict(_LATEX_REPLACEMENTS)


def latex_cell(text: str) -> str:
    """A Markdown cell as LaTeX text: special characters escaped, the unicode symbols of our labels as math.

    One pass over the text (the longest listed symbol wins where several start at the same place), so a
    replacement is never escaped again.
    """
    return _LATEX_PATTERN.sub(lambda match: _LATEX[match.group(0)], text)


def _infinity(value: Any) -> str | None:
    """``inf``/``-inf`` for an infinite value (a float, or the ``"inf"`` strings of strict JSON), else None."""
    if value in ("inf", "-inf"):
        return str(value)
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return None


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def number(value: Any, digits: int = 3, *, missing: str = "–") -> str:
    """A number with ``digits`` significant digits (``inf`` for an infinity, ``missing`` for None or NaN)."""
    if _missing(value):
        return missing
    return _infinity(value) or f"{value:.{digits}g}"


def with_error(value: Any, error: Any, decimals: int = 3, *, missing: str = "–") -> str:
    """``value ± error`` with a fixed number of decimals (the error left out when it is undefined or infinite).

    Example:
        >>> with_error(0.98123, 0.0042, 3), with_error("inf", None, 0), with_error(None, None)
        ('0.981 ± 0.004', 'inf', '–')
    """
    if _missing(value):
        return missing
    if _infinity(value):
        return _infinity(value)
    if _missing(error) or _infinity(error):
        return f"{value:.{decimals}f}"
    return f"{value:.{decimals}f} ± {error:.{decimals}f}"


@dataclass(frozen=True)
class Column:
    """One displayed column.

    Attributes:
        title: Header in Markdown (converted with :func:`latex_cell` for LaTeX unless ``latex`` is given).
        cell: The displayed text of a row, or the key whose value is shown as ``str``.
        latex: Header in LaTeX, when the automatic conversion is not good enough.
        align: LaTeX column alignment (``l``, ``c`` or ``r``).
    """

    title: str
    cell: Callable[[Mapping[str, Any]], str] | str
    latex: str | None = None
    align: str = "c"

    def text(self, row: Mapping[str, Any]) -> str:
        """The displayed cell of ``row``."""
        return self.cell(row) if callable(self.cell) else str(row[self.cell])


def _csv_value(value: Any) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    text = str(value)
    return f'"{text}"' if any(c in text for c in ',"\n') else text


def write_table(
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[Column],
    *,
    csv: str | Path | None = None,
    md: str | Path | None = None,
    tex: str | Path | None = None,
    html: str | Path | None = None,
    csv_keys: Sequence[str] | None = None,
    note: str | None = None,
) -> None:
    """Write one table in any of the four formats.

    Args:
        rows: One mapping per row.
        columns: Displayed columns (Markdown and LaTeX).
        csv: CSV path: raw values of ``csv_keys`` (empty for None/NaN).
        md: Markdown path.
        tex: LaTeX path (a ``tabular`` environment to include with ``input``).
        html: HTML path: a page with the table, which the Snakemake report shows in place (it only offers CSV
            files for download).
        csv_keys: Keys written to the CSV, in order (default: the keys of the first row).
        note: A sentence printed under the Markdown table and as a LaTeX comment line (definitions, units).
    """
    if csv is not None:
        keys = list(csv_keys) if csv_keys is not None else list(rows[0]) if rows else []
        lines = [",".join(keys)] + [",".join(_csv_value(row.get(k)) for k in keys) for row in rows]
        _write(csv, lines)
    if md is not None:
        _write(md, markdown_lines(rows, columns, note))
    if tex is not None:
        _write(tex, latex_lines(rows, columns, note))
    if html is not None:
        _write(html, html_lines(rows, columns, note, title=Path(html).stem))


def markdown_lines(rows: Sequence[Mapping[str, Any]], columns: Sequence[Column], note: str | None = None) -> list[str]:
    """The table in Markdown, one line per entry (header, rule, rows, then the note after a blank line)."""
    lines = ["| " + " | ".join(c.title for c in columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(column.text(row) for column in columns) + " |" for row in rows]
    return [*lines, "", note] if note else lines


def latex_lines(rows: Sequence[Mapping[str, Any]], columns: Sequence[Column], note: str | None = None) -> list[str]:
    """The table as a LaTeX ``tabular`` (the note as a comment line after it)."""
    header = " & ".join(c.latex if c.latex is not None else latex_cell(c.title) for c in columns)
    lines = [r"\begin{tabular}{" + "".join(c.align for c in columns) + "}", r"\hline", header + r" \\", r"\hline"]
    lines += [" & ".join(latex_cell(column.text(row)) for column in columns) + r" \\" for row in rows]
    lines += [r"\hline", r"\end{tabular}"]
    return [*lines, "% " + note.replace("\n", " ")] if note else lines


_HTML_STYLE = (
    "body{font-family:sans-serif;margin:1em}table{border-collapse:collapse}"
    "th,td{border:1px solid #bbb;padding:0.25em 0.6em;text-align:right}th{background:#eee}"
    "td:first-child,th:first-child{text-align:left}"
)


def html_lines(
    rows: Sequence[Mapping[str, Any]], columns: Sequence[Column], note: str | None = None, *, title: str = "table"
) -> list[str]:
    """The table as a standalone HTML page (cells escaped; the note as a paragraph under it)."""
    cell = escape
    lines = [
        "<!DOCTYPE html>",
        f'<html><head><meta charset="utf-8"><title>{cell(title)}</title><style>{_HTML_STYLE}</style></head><body>',
        "<table>",
        "<tr>" + "".join(f"<th>{cell(c.title)}</th>" for c in columns) + "</tr>",
    ]
    lines += ["<tr>" + "".join(f"<td>{cell(c.text(row))}</td>" for c in columns) + "</tr>" for row in rows]
    lines.append("</table>")
    if note:
        lines.append(f"<p>{cell(note)}</p>")
    return [*lines, "</body></html>"]


def _write(path: str | Path, lines: Sequence[str]) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text("\n".join(lines) + "\n")
