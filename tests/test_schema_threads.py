"""Schemas are built once, safely, when a fresh worker's threads all ask at once.

libxml2 sets up its built-in schema types on the first schema it parses; two threads
parsing schemas at that moment fail with XMLSchemaParseError ("the given type is not a
built-in type"). A fresh gunicorn worker's threads, answering their first requests
together, did exactly that: the benchmark's partner answered SOAP faults. Each run is a
fresh interpreter, where no schema has been parsed yet.
"""

from __future__ import annotations

import subprocess
import sys

RACE = """
import threading
from ak_bridge.adapters.web import soap
from ak_bridge.security import xmlio
from ak_bridge.standard.contracts import CONTRACTS
paths = ["akstd/eformak-1.0.xsd", "akstd/eformak-1.1.xsd", "akstd/eformak-messages-1.0.xsd",
         "akstd/eformak-messages-1.1.xsd", "kcs/unipass-co-1.0.xsd"]
contracts = list(CONTRACTS.values())
go = threading.Barrier(8)
errors = []
def build(i):
    go.wait()
    try:
        xmlio.load_schema(paths[i % len(paths)])
        soap._schema_of_wsdl(contracts[i % len(contracts)].wsdl)
    except Exception as exc:
        errors.append(repr(exc))
threads = [threading.Thread(target=build, args=(i,)) for i in range(8)]
for t in threads: t.start()
for t in threads: t.join()
print(errors[:1] if errors else "ok")
"""


def test_threads_building_schemas_at_once_all_get_them() -> None:
    for _ in range(30):  # the race is a race: a few fresh interpreters
        out = subprocess.run(
            [sys.executable, "-c", RACE], capture_output=True, text=True, timeout=60
        )
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == "ok", out.stdout
