"""The pieces of a self-contained HTML page: tables, embedded pictures, sections, the page itself.

Everything the page shows is inside the file: pictures are PNGs embedded as
``data:`` URIs, the style sheet is inline, there is no script, no font and
no link to anywhere else, so the page opens the same offline, from an
e-mail attachment or years later.
"""

from __future__ import annotations

import base64
import html
import io

import numpy as np

__all__ = ["table", "image", "figure_image", "pixels_image", "section", "page", "note"]

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
       margin: 2rem auto; max-width: 70rem; padding: 0 1rem; color: #222; line-height: 1.4; }
h1 { font-size: 1.6rem; margin-bottom: 0.2rem; }
h2 { font-size: 1.2rem; border-bottom: 1px solid #ccc; padding-bottom: 0.2rem; margin-top: 2rem; }
.lead { color: #555; margin-top: 0; }
table { border-collapse: collapse; margin: 0.5rem 0; font-size: 0.85rem; }
th, td { border: 1px solid #ddd; padding: 0.2rem 0.5rem; text-align: right; }
th { background: #f3f3f3; }
td.text, th.text { text-align: left; }
pre { background: #f7f7f7; padding: 0.6rem; overflow-x: auto; font-size: 0.75rem; }
img { max-width: 100%; image-rendering: auto; }
img.pixels { image-rendering: pixelated; }
figure { display: inline-block; margin: 0.3rem; text-align: center; font-size: 0.75rem; vertical-align: top; }
.note { color: #865; font-style: italic; }
td.diag { font-weight: bold; }
"""


def _cell(value, header: bool = False, bold: bool = False) -> str:
    tag = "th" if header else "td"
    text = "" if value is None else str(value)
    numeric = text.replace(",", "").replace("%", "").replace(".", "", 1).lstrip("-").isdigit()
    classes = " ".join(c for c, on in (("text", not numeric), ("diag", bold)) if on)
    css = f' class="{classes}"' if classes else ""
    return f"<{tag}{css}>{html.escape(text)}</{tag}>"


def table(header, rows, table_id: str, row_headers: bool = False, diagonal: bool = False) -> str:
    """An HTML table; every cell is escaped text.

    Parameters
    ----------
    header : sequence of str
    rows : sequence of sequences
        Cell values (formatted with ``str``).
    table_id : str
        The table's ``id`` (what tests and links use).
    row_headers : bool
        Make the first cell of each row a ``<th>``.
    diagonal : bool
        Mark cell ``i`` of row ``i`` (after the row header): a confusion matrix's diagonal.
    """
    head = "<tr>" + "".join(_cell(h, header=True) for h in header) + "</tr>"
    body = []
    for i, row in enumerate(rows):
        cells = (_cell(v, header=row_headers and j == 0, bold=diagonal and j - 1 == i) for j, v in enumerate(row))
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f'<table id="{html.escape(table_id)}"><thead>{head}</thead><tbody>{"".join(body)}</tbody></table>'


def image(png: bytes, alt: str, css_class: str = "", width: int | None = None) -> str:
    """An ``<img>`` holding ``png`` as a data URI."""
    uri = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
    extra = f' class="{css_class}"' if css_class else ""
    extra += f' width="{int(width)}"' if width else ""
    return f'<img src="{uri}" alt="{html.escape(alt)}"{extra}>'


def figure_image(fig, alt: str, dpi: int = 80) -> str:
    """A matplotlib figure as an embedded PNG (the figure is closed if pyplot holds it)."""
    import sys

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.close(fig)
    return image(buffer.getvalue(), alt)


def pixels_image(chw: np.ndarray, alt: str, scale: int = 3) -> str:
    """One (C, H, W) image, stretched to its own min..max, as an embedded PNG ``scale`` times larger."""
    from PIL import Image

    from ..viz.grid import grid_to_uint8, make_grid

    grid = make_grid(np.asarray(chw, dtype=np.float32), normalize=True)  # one image: its own range, grey -> RGB
    picture = Image.fromarray(grid_to_uint8(grid))
    picture = picture.resize((picture.width * scale, picture.height * scale), Image.Resampling.NEAREST)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return image(buffer.getvalue(), alt, css_class="pixels")


def note(text: str) -> str:
    return f'<p class="note">{html.escape(text)}</p>'


def section(title: str, section_id: str, *parts: str) -> str:
    return f'<section id="{html.escape(section_id)}"><h2>{html.escape(title)}</h2>{"".join(parts)}</section>'


def page(title: str, lead: str, sections) -> str:
    """The whole document."""
    return ("<!DOCTYPE html>\n"
            '<html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
            f'<body><h1>{html.escape(title)}</h1><p class="lead">{html.escape(lead)}</p>'
            + "".join(sections) + "</body></html>\n")
