"""Bounded-time fuzzing of everything in ak-bridge that reads untrusted input.

Run ``scripts/fuzz [--seconds N]`` (default 60); ``tests/test_fuzz.py`` runs it for ~5 s.
It lives under ``tests/`` because it needs hypothesis, a test extra: the installed package
must not depend on it.

Targets, each fed Hypothesis-generated inputs round-robin until the time is up:

* ``parse_untrusted``  random bytes, and mutated seeds (valid envelopes and documents, the
  hostile corpus) with hostile tokens spliced in;
* ``soap.unwrap``      mutated valid SOAP requests of both contracts, then reading header,
  document and query as the endpoint does;
* ``<codec>.decode``   every codec: valid documents whose text nodes (XML) or leaves (JSON)
  are replaced by hostile values, so that decoding, not parsing, is what gets exercised;
* ``endpoints``        the Flask app (test client) of a real bridge configuration:
  mutated requests, and valid requests carrying mutated documents that are *re-signed*
  with the partner's key, so the input reaches decoding, the rules and the store.

A crash is any exception that is not a ``Rejected`` (parsers, codecs) or an answer that is
a 500 without a typed code (endpoints). Crashes are collected, not raised, so the run stays
bounded (no shrinking); each is printed with its input and the line that raised.
"""

from __future__ import annotations

import argparse
import base64
import copy
import json
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from lxml import etree

from ak_bridge import create_app
from ak_bridge.adapters.web import soap
from ak_bridge.core.errors import Rejected
from ak_bridge.formats import Codec, build_codecs
from ak_bridge.security import xmlio
from ak_bridge.sim.certificates import sample_form_ak
from ak_bridge.sim.topology import Topology, build_topology
from ak_bridge.standard.contracts import AMS, KCS, SoapContract

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hostile_corpus import (  # noqa: E402
    ENDPOINT_PARTNER,
    Materials,
    error_code,
    is_internal_error,
    load_manifest,
)

CHUNK = 20  # examples per target per round: small, so the time bound is kept closely
TODAY = datetime.now(UTC).date()

HOSTILE_TOKENS = [
    b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>',
    b"&e;",
    b"&amp;",
    b"&#0;",
    b"&#xD800;",
    b"&#x10FFFF;",
    b"<?pi x?>",
    b"<![CDATA[",
    b"]]>",
    b"<!--",
    b"-->",
    b"\x00",
    b"\xff\xfe",
    b"\xef\xbb\xbf",
    b"\xed\xa0\x80",  # a UTF-8-encoded surrogate
    b"<",
    b">",
    b"&",
    b'"',
    b"'",
    b"</",
    b"<a>" * 300,
    b' xmlns=""',
    b' xmlns:soapenv="urn:x"',
    b'<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="/etc/passwd"/>',
    b"<soapenv:Body>",
    b"</soapenv:Body>",
]
HOSTILE_TEXT = [
    "",
    " ",
    "-1",
    "0",
    "9" * 40,
    "1e999",
    "NaN",
    "Infinity",
    "2026-02-30",
    "2026-01-01T24:00:00",
    "12026-01-01T00:00:00Z",
    "XX",
    "KR",
    "A" * 5000,
    "한국 ที่ Việt",
    "\u202e",
    "../../etc/passwd",
    "%s%s%n",
    "'; DROP TABLE messages; --",
    "9",
    "5",
    "1",
    "FORM_D",
]
JSON_LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(HOSTILE_TEXT),
    st.text(max_size=40),
)
JSON_VALUES = st.recursive(
    JSON_LEAVES,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)


# --------------------------------------------------------------------------- mutation


@st.composite
def mutated(draw: st.DrawFn, seeds: list[bytes]) -> bytes:
    """A seed with 1-6 byte-level edits: flips, splices of hostile tokens, cuts, copies."""
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 6))):
        op = draw(
            st.sampled_from(["flip", "insert", "token", "delete", "duplicate", "truncate", "text"])
        )
        pos = draw(st.integers(0, len(data)))
        if op == "flip" and data:
            data[min(pos, len(data) - 1)] ^= 1 << draw(st.integers(0, 7))
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=16))
        elif op == "token":
            data[pos:pos] = draw(st.sampled_from(HOSTILE_TOKENS))
        elif op == "delete":
            del data[pos : pos + draw(st.integers(1, 64))]
        elif op == "duplicate":
            data[pos:pos] = data[pos : pos + draw(st.integers(1, 256))]
        elif op == "truncate":
            del data[pos:]
        else:  # replace the text of one node, keeping the XML well-formed
            start = data.find(b">", pos)
            end = data.find(b"<", start + 1) if start >= 0 else -1
            if start >= 0 and end > start:
                text = _escape(draw(st.sampled_from(HOSTILE_TEXT) | st.text(max_size=30)))
                data[start + 1 : end] = text
    return bytes(data)


def _escape(text: str) -> bytes:
    return text.replace("&", "&amp;").replace("<", "&lt;").encode("utf-8", errors="replace")


def _mutate_tree(element: etree._Element, draw: st.DrawFn) -> etree._Element:
    """A copy of an XML document with some text nodes replaced or elements removed."""
    tree = copy.deepcopy(element)
    nodes = [n for n in tree.iter() if isinstance(n.tag, str)]
    for _ in range(draw(st.integers(1, 4))):
        node = nodes[draw(st.integers(0, len(nodes) - 1))]
        action = draw(st.sampled_from(["text", "text", "remove", "duplicate", "attribute"]))
        if action == "text":
            value = draw(st.sampled_from(HOSTILE_TEXT) | st.text(max_size=30))
            node.text = "".join(c for c in value if _xml_char(c))
        elif action == "remove" and node.getparent() is not None:
            node.getparent().remove(node)
            nodes = [n for n in tree.iter() if isinstance(n.tag, str)]
        elif action == "duplicate" and node.getparent() is not None:
            node.addnext(copy.deepcopy(node))
        elif action == "attribute":
            node.set(
                draw(st.sampled_from(["Id", "unitCode", "x"])),
                draw(st.sampled_from(HOSTILE_TEXT[:12])),
            )
    return tree


@st.composite
def restructured(draw: st.DrawFn, seeds: list[bytes]) -> bytes:
    """A well-formed seed with element texts replaced, elements dropped or doubled.

    Byte edits mostly break well-formedness (and land in the long base64 document);
    these reach the schema and the header fields behind it.
    """
    root = etree.fromstring(draw(st.sampled_from(seeds)))
    return etree.tostring(_mutate_tree(root, draw))


def _xml_char(c: str) -> bool:
    o = ord(c)
    return o in (9, 10, 13) or 0x20 <= o <= 0xD7FF or 0xE000 <= o <= 0xFFFD or o >= 0x10000


def _mutate_json(value: Any, draw: st.DrawFn, depth: int = 0) -> Any:
    """A copy of a JSON document with one leaf replaced, a key dropped or one added."""
    if isinstance(value, dict) and value:
        key = draw(st.sampled_from(sorted(value)))
        out = dict(value)
        action = draw(st.sampled_from(["descend", "descend", "replace", "drop", "add"]))
        if action == "descend":
            out[key] = _mutate_json(value[key], draw, depth + 1)
        elif action == "replace":
            out[key] = draw(JSON_VALUES)
        elif action == "drop":
            del out[key]
        else:
            out[draw(st.text(max_size=10))] = draw(JSON_VALUES)
        return out
    if isinstance(value, list) and value:
        i = draw(st.integers(0, len(value) - 1))
        out_list = list(value)
        out_list[i] = _mutate_json(value[i], draw, depth + 1)
        return out_list
    return draw(JSON_VALUES)


# --------------------------------------------------------------------------- report


@dataclass
class Crash:
    target: str
    error: str
    where: str
    sample: str

    def __str__(self) -> str:
        return f"[{self.target}] {self.error}\n    at {self.where}\n    input: {self.sample}"


@dataclass
class Report:
    ran: Counter[str] = field(default_factory=Counter)
    crashes: dict[tuple[str, str, str], Crash] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return sum(self.ran.values())

    def crash(
        self, target: str, exc: BaseException | None, sample: object, error: str = ""
    ) -> None:
        where = ""
        if exc is not None:
            frames = traceback.extract_tb(exc.__traceback__)
            ours = [f for f in frames if "ak_bridge" in f.filename] or frames
            where = f"{ours[-1].filename}:{ours[-1].lineno} ({ours[-1].name})" if ours else "?"
            error = f"{type(exc).__name__}: {str(exc)[:200]}"
        key = (target, error.split(":")[0], where)
        if key not in self.crashes:
            self.crashes[key] = Crash(target, error, where, repr(sample)[:400])

    def summary(self) -> str:
        per = ", ".join(f"{name} {n}" for name, n in sorted(self.ran.items()))
        head = f"fuzz: {self.total} inputs in {self.seconds:.1f} s ({per})"
        lines = [f"{head}; {len(self.crashes)} crash(es)"]
        lines += [str(c) for c in self.crashes.values()]
        return "\n".join(lines)


# --------------------------------------------------------------------------- targets


@dataclass
class Fixture:
    """What the targets need: a configuration, its app, seeds and genuine signers."""

    topology: Topology
    materials: Materials
    codecs: Mapping[str, Codec]
    client: Any
    seeds: list[bytes]
    rest_body: bytes  # one valid REST body, fixed: a seed must not change between inputs
    envelopes: dict[str, list[bytes]]  # contract name -> valid requests
    documents: dict[str, etree._Element | dict]  # codec name -> a valid encoded document


def _fixture(workdir: Path) -> Fixture:
    topology = build_topology(workdir / "exchange", start_partners=())
    materials = Materials(topology)
    app = create_app(topology.settings)
    app.logger.disabled = True  # a crash is reported by the fuzzer, not as a log storm
    codecs = build_codecs(topology.settings.format_mappings)
    envelopes = {
        c.name: [
            materials.valid_soap_request(c, ENDPOINT_PARTNER[f"soap/{c.name}"]) for _ in range(2)
        ]
        for c in (KCS, AMS)
    }
    documents = {}
    co = sample_form_ak("KR-2026-AK-000001", "KR", "ID", TODAY)
    for name, codec in codecs.items():
        documents[name] = codec.encode(co)
    seeds = [e for es in envelopes.values() for e in es]
    seeds += [etree.tostring(d) for d in documents.values() if isinstance(d, etree._Element)]
    for item in load_manifest():
        if item.kind in ("xml", "soap"):
            raw = materials.fill(item, "soap/kcs")
            if len(raw) < 200_000:
                seeds.append(raw)
    rest_body = materials.rest_body()
    seeds.append(rest_body)
    return Fixture(
        topology, materials, codecs, app.test_client(), seeds, rest_body, envelopes, documents
    )


def _settings(n: int) -> settings:
    return settings(
        max_examples=n,
        deadline=None,
        database=None,
        derandomize=False,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )


def _targets(fx: Fixture, report: Report) -> list[Callable[[], None]]:
    """One Hypothesis-driven function per target, each running ``CHUNK`` inputs per call.

    No clock inside: Hypothesis requires that what is drawn depends only on what was drawn
    before, so the time bound is kept between chunks, by :func:`run`.
    """

    def guard(name: str, fn: Callable[[], None], sample: object) -> None:
        report.ran[name] += 1
        try:
            fn()
        except Rejected:
            pass
        except Exception as exc:  # the point of fuzzing: anything else is a crash
            report.crash(name, exc, sample)

    @_settings(CHUNK)
    @given(st.binary(max_size=2048) | mutated(fx.seeds))
    def parse(data: bytes) -> None:
        guard("parse_untrusted", lambda: xmlio.parse_untrusted(data), data)

    @_settings(CHUNK)
    @given(
        st.sampled_from([KCS, AMS]).flatmap(
            lambda c: st.tuples(
                st.just(c), mutated(fx.envelopes[c.name]) | restructured(fx.envelopes[c.name])
            )
        )
    )
    def unwrap(case: tuple[SoapContract, bytes]) -> None:
        contract, data = case

        def run() -> None:
            element = soap.unwrap(data, contract)
            if etree.QName(element).localname == contract.submit:
                soap.read_envelope(element, contract)
                soap.read_document(element, contract)
            else:
                soap.read_query(element, contract)

        guard("soap.unwrap", run, data)

    @_settings(CHUNK)
    @given(st.sampled_from(sorted(fx.codecs)), st.data())
    def decode(name: str, data: st.DataObject) -> None:
        codec, original = fx.codecs[name], fx.documents[name]
        if isinstance(original, dict):
            doc: Any = _mutate_json(original, data.draw)
            guard(f"{name}.decode", lambda: codec.decode(doc), doc)
        else:
            tree = _mutate_tree(original, data.draw)
            raw = etree.tostring(tree)
            guard(f"{name}.decode", lambda: codec.decode(xmlio.parse_untrusted(raw)), raw)

    @_settings(CHUNK)
    @given(
        st.sampled_from(
            ["soap-bytes", "soap-resigned", "rest-json", "rest-resigned", "rest-bytes", "status"]
        ),
        st.data(),
    )
    def endpoints(kind: str, data: st.DataObject) -> None:
        path, body, headers = _endpoint_request(fx, kind, data.draw)
        report.ran["endpoints"] += 1
        try:
            if kind == "status":
                resp = fx.client.get(path, headers=headers)
            else:
                resp = fx.client.post(path, data=body, headers=headers)
        except Exception as exc:
            report.crash("endpoints", exc, (path, body[:300]))
            return
        endpoint = "rest" if path.startswith("/rest") else f"soap/{path.rsplit('/', 1)[1]}"
        sample = (path, body[:300])
        if resp.status_code >= 500 and is_internal_error(endpoint, resp.status_code, resp.data):
            report.crash("endpoints", None, sample, f"HTTP {resp.status_code} internal error")
        elif kind != "status" and resp.status_code >= 400 and not error_code(endpoint, resp.data):
            # Submissions are always answered with a typed code; a status path that no
            # route matches may get Flask's plain 404.
            report.crash("endpoints", None, sample, f"HTTP {resp.status_code} untyped")

    return [parse, unwrap, decode, endpoints]


def _endpoint_request(fx: Fixture, kind: str, draw: st.DrawFn) -> tuple[str, bytes, dict[str, str]]:
    m = fx.materials
    if kind in ("soap-bytes", "soap-resigned"):
        contract = draw(st.sampled_from([KCS, AMS]))
        partner_id = ENDPOINT_PARTNER[f"soap/{contract.name}"]
        headers = {**m.auth_headers(partner_id), "Content-Type": soap.CONTENT_TYPE}
        if kind == "soap-bytes":
            seeds = fx.envelopes[contract.name]
            return contract.path, draw(mutated(seeds) | restructured(seeds)), headers
        system = m.system(partner_id)
        co = m.fresh_co(partner_id)
        tree = _mutate_tree(system.codec.encode(co), draw)
        signed = system.signer.sign(tree)
        return (
            contract.path,
            soap.submit_request(contract, m.envelope(partner_id, co), signed),
            headers,
        )
    headers = {**m.auth_headers("VN-ECOSYS"), "Content-Type": "application/json"}
    if kind == "status":
        country = draw(st.sampled_from(["KR", "ID", "VN", "XX", "", "%00"]))
        ref = draw(st.text(max_size=30).filter(lambda s: "?" not in s and "#" not in s))
        return f"/rest/v1/certificates/{country}/{ref or 'x'}", b"", headers
    if kind == "rest-json":
        header, document, signature = m.rest_parts()
        body = {
            "header": header,
            "document": document,
            "signature": base64.b64encode(signature).decode(),
        }
        return "/rest/v1/documents", json.dumps(_mutate_json(body, draw)).encode(), headers
    if kind == "rest-resigned":
        header, document, _ = m.rest_parts()
        doc = _mutate_json(document, draw)
        signature = m.system("VN-ECOSYS").signer.sign_json(doc) if isinstance(doc, dict) else b""
        body = {
            "header": header,
            "document": doc,
            "signature": base64.b64encode(signature).decode(),
        }
        return "/rest/v1/documents", json.dumps(body).encode(), headers
    return "/rest/v1/documents", draw(mutated([fx.rest_body])), headers


def run(seconds: float, workdir: Path | None = None) -> Report:
    """Fuzz every target round-robin for about ``seconds``; never raises on a crash."""
    report = Report()
    with tempfile.TemporaryDirectory(prefix="ak-bridge-fuzz-") as tmp:
        fx = _fixture(Path(workdir or tmp))
        started = time.monotonic()
        deadline = started + seconds
        targets = _targets(fx, report)
        try:
            while time.monotonic() < deadline:
                for target in targets:
                    target()
        finally:
            fx.topology.stop()
            fx.client.application.extensions["ak_bridge"].store.close()
        report.seconds = time.monotonic() - started
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="how long to fuzz (default 60)")
    args = parser.parse_args(argv)
    report = run(args.seconds)
    print(report.summary())
    return 1 if report.crashes else 0


if __name__ == "__main__":
    sys.exit(main())
