"""``ak-bridge sandbox --as PARTNER``: a running bridge to integrate against (issue 10, part 5).

Prints the endpoint, the partner's token, key and certificate, and where it wrote signed
SOAP and REST requests for every message type the partner may send; serves until Ctrl-C
(or ``--seconds``). Test keys only: never a production identity.
"""

from __future__ import annotations

import signal
import tempfile
import threading
import time
from pathlib import Path

import click

from ak_bridge.cli import cli


@cli.command()
@click.option(
    "--as", "partner", required=True, help="The partner you play: KR-KCS, ID-SKA, VN-ECOSYS."
)
@click.option(
    "--workdir",
    type=click.Path(file_okay=False),
    default=None,
    help="Where to put the PKI, config, database and requests (default: a temp dir).",
)
@click.option("--seconds", type=float, default=None, help="Stop after this long (default: Ctrl-C).")
def sandbox(partner: str, workdir: str | None, seconds: float | None) -> None:
    """Run a bridge with simulated partners on loopback, for an integrator playing PARTNER."""
    from ak_bridge.sim import sandbox as sb

    if partner not in sb.PARTNERS:
        raise click.BadParameter(f"one of {', '.join(sb.PARTNERS)}", param_hint="--as")
    tmp = None if workdir else tempfile.TemporaryDirectory(prefix="ak-bridge-sandbox-")
    root = Path(workdir) if workdir else Path(tmp.name)  # type: ignore[union-attr]
    box = sb.start(root / "sandbox", partner)
    for line in box.banner():
        click.echo(line)
    click.echo("ready (Ctrl-C stops)", nl=True)
    # Ctrl-C stops it even when it was started with SIGINT ignored (``nohup … &`` in a shell
    # without job control hands that on, and Python then never raises KeyboardInterrupt)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    stop = threading.Event()
    loop = threading.Thread(target=sb.deliver_forever, args=(box, stop), daemon=True)
    loop.start()
    try:
        deadline = None if seconds is None else time.monotonic() + seconds
        while deadline is None or time.monotonic() < deadline:
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        loop.join(timeout=5)
        box.topology.stop()
        if tmp is not None:
            tmp.cleanup()
