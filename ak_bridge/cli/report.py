"""``ak-bridge report``: the pilot report, as text, JSON, one HTML file and CSV files.

Times are UTC, given and printed in one style, ISO 8601: ``2026-11-28`` for a day,
``2026-11-28T18:04:32Z`` for an instant. ``--until`` a day includes that whole day.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click

from ak_bridge.cli import Failed, _settings, _store, cli
from ak_bridge.ops.report_csv import write_csv
from ak_bridge.ops.report_figures import stamp
from ak_bridge.ops.report_html import render_html
from ak_bridge.ops.report_json import backlog_now, report_json
from ak_bridge.ops.report_pdf import PdfUnavailable, render_pdf
from ak_bridge.ops.report_text import render_text
from ak_bridge.ops.reports import pilot_report


class Moment(click.ParamType):
    """A day (2026-11-28) or an instant (2026-11-28T18:04:32Z), in UTC: (datetime, is a day)."""

    name = "DATE|DATETIME"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> tuple[datetime, bool]:
        if isinstance(value, tuple):
            return value
        text = str(value).strip()
        try:
            if len(text) == 10:
                return datetime.fromisoformat(text).replace(tzinfo=UTC), True
            moment = datetime.fromisoformat(text.replace(" ", "T").removesuffix("Z"))
        except ValueError:
            self.fail(f"{value!r} is not a date (2026-11-28) or a UTC time (2026-11-28T18:04:32Z)")
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC), False


@cli.command()
@click.option("--since", type=Moment(), help="From this day or instant (UTC); default: the start.")
@click.option(
    "--until",
    type=Moment(),
    help="Up to this instant, or to the end of this day (UTC); default: now.",
)
@click.option("--json", "as_json", is_flag=True, help="The report as JSON on standard output.")
@click.option(
    "--html",
    "html_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the report as one self-contained HTML page (charts inline, printable).",
)
@click.option(
    "--csv",
    "csv_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write each table of the report as a CSV file into this directory.",
)
@click.option(
    "--pdf",
    "pdf_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the same page as an A4 PDF (needs the pdf extra: WeasyPrint).",
)
@click.pass_context
def report(
    ctx: click.Context,
    since: tuple[datetime, bool] | None,
    until: tuple[datetime, bool] | None,
    as_json: bool,
    html_file: Path | None,
    csv_dir: Path | None,
    pdf_file: Path | None,
) -> None:
    """Pilot report over a period, per trade lane and per partner.

    Messages per day by document type, delivery latency (median, 95th and 99th percentile,
    histogram), dead letters, refusals by code and box, Box 4 decisions per goods item,
    time to the customs decision, verification turnaround and overdue replies, shadow-mode
    deliveries, with a summary paragraph on top. Then the backlog of each partner now.
    """
    now = datetime.now(UTC)
    start = since[0] if since else None
    end = (until[0] + timedelta(days=1) if until[1] else until[0]) if until else now
    if start is not None and start >= end:
        raise click.UsageError(
            f"--since {stamp(start)} is not before --until {stamp(end)}: the period is empty"
        )
    settings = _settings(ctx)
    store = _store(ctx)
    shadow = frozenset(p.id for p in settings.partners.values() if p.shadow)
    rep = pilot_report(store, end, start, shadow_partners=shadow, now=now)
    if html_file is not None:
        html_file.parent.mkdir(parents=True, exist_ok=True)
        html_file.write_text(render_html(rep), encoding="utf-8")
        click.echo(f"report written to {html_file}", err=True)
    if pdf_file is not None:
        try:
            pdf = render_pdf(rep)
        except PdfUnavailable as exc:
            raise Failed(str(exc)) from None
        pdf_file.parent.mkdir(parents=True, exist_ok=True)
        pdf_file.write_bytes(pdf)
        click.echo(f"report written to {pdf_file}", err=True)
    if csv_dir is not None:
        paths = write_csv(rep, csv_dir)
        click.echo(f"{len(paths)} CSV file(s) written to {csv_dir}", err=True)
    if as_json:
        shape = report_json(rep, backlog_now(store, now))
        click.echo(json.dumps(shape, indent=2, default=str))
        return
    if html_file is not None or csv_dir is not None or pdf_file is not None:
        return
    click.echo(render_text(rep))
    backlog = backlog_now(store, now)
    click.echo("Backlog now")
    if not backlog:
        click.echo("  nothing waiting")
    for row in backlog:
        click.echo(
            f"  {row['partner']:12} {row['waiting']:6} waiting, oldest received "
            f"{row['oldest']} ({row['age_days']} day(s) ago), breaker {row['breaker']}"
        )
