"""The pilot report as a PDF: the HTML page printed on A4 by WeasyPrint (the ``pdf`` extra).

Why WeasyPrint: it prints the same page, inline SVG charts included, with no browser; the
HTML's ``@page`` and print CSS decide the layout. It needs Pango from the system (Debian:
``libpango-1.0-0 libpangoft2-1.0-0``) and a font (``fonts-dejavu-core``).
"""

from __future__ import annotations

from ak_bridge.ops.report_html import render_html
from ak_bridge.ops.reports import PilotReport


class PdfUnavailable(Exception):
    """WeasyPrint or the system libraries it needs are not installed."""


def render_pdf(report: PilotReport) -> bytes:
    try:
        import weasyprint
    except (ImportError, OSError) as exc:  # OSError: Pango missing
        raise PdfUnavailable(
            "a PDF needs the pdf extra (pip install 'ak-bridge[pdf]') and Pango "
            f"(Debian: apt-get install libpango-1.0-0 libpangoft2-1.0-0): {exc}"
        ) from exc
    pdf = weasyprint.HTML(string=render_html(report)).write_pdf()
    assert pdf is not None
    return bytes(pdf)
