"""Where an accepted certificate's time goes: cProfile over the whole WSGI request (issue 14).

The bridge's Flask app in this process (no sockets, so only the bridge's own work is
profiled), fed pre-signed KCS SOAP submissions; prints the top functions by their own time
and by cumulative time. Figures only.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_capacity import bodies_for  # noqa: E402

from ak_bridge import create_app  # noqa: E402
from ak_bridge.adapters.web import soap  # noqa: E402
from ak_bridge.sim.topology import build_topology  # noqa: E402
from ak_bridge.standard.contracts import KCS  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=400)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ak-bench-prof-") as tmp:
        topo = build_topology(Path(tmp) / "prof", start_partners=())
        try:
            client = create_app(topo.settings).test_client()
            headers = {"Content-Type": soap.CONTENT_TYPE, **topo.systems["KR-KCS"].auth_headers()}
            for body in bodies_for(topo, "PWARM", 20):
                client.post(KCS.path, data=body, headers=headers)
            bodies = bodies_for(topo, "PROF", args.messages)
            prof = cProfile.Profile()
            t0 = time.perf_counter()
            prof.enable()
            for body in bodies:
                resp = client.post(KCS.path, data=body, headers=headers)
                assert resp.status_code == 200, resp.data[:300]
            prof.disable()
            per = (time.perf_counter() - t0) / args.messages * 1000
        finally:
            topo.stop()
    print(f"profile: {args.messages} SOAP submissions in-process, {per:.2f} ms each under cProfile")
    for order in ("tottime", "cumulative"):
        out = io.StringIO()
        pstats.Stats(prof, stream=out).strip_dirs().sort_stats(order).print_stats(args.top)
        lines = out.getvalue().splitlines()
        start = next(i for i, line in enumerate(lines) if line.lstrip().startswith("ncalls"))
        print(f"\nby {order}:")
        print("\n".join(lines[start : start + args.top + 1]))


if __name__ == "__main__":
    main()
