"""A receipt means deliverable: what the destination could not take is refused at the door.

Viet Nam sends (REST, its own JSON) to Korea, whose UNI-PASS format is rendered and checked
inside accept; the answers are typed, name the box, and store nothing.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from ak_bridge.service.exchange import Exchange
from ak_bridge.sim.certificates import sample_form_ak
from ak_bridge.sim.topology import Topology

TODAY = datetime.now(UTC).date() - timedelta(days=1)


def send_json(topology: Topology, co, edit=None):  # noqa: ANN001, ANN202 - test helper
    """Viet Nam's document for ``co``, changed by ``edit`` before it is signed."""
    vn = topology.systems["VN-ECOSYS"]
    doc = vn.codec.encode(co)
    if edit is not None:
        edit(doc)
    envelope = vn.envelope_for(co, f"VN-{co.reference_no}")
    return vn.submit_rest(topology.bridge_url, envelope, doc, vn.signer.sign_json(doc))


def stored(bridge: Exchange) -> int:
    return len(bridge.store.find_messages())


def test_a_package_count_the_destination_cannot_carry_is_refused_not_dead_lettered(
    topology: Topology, bridge: Exchange
) -> None:
    co = sample_form_ak("VN-KR 26/01/00901", "VN", "KR", TODAY)
    item = dataclasses.replace(co.items[0], package_count=1_000_000_000)  # UNI-PASS: 9 digits
    resp = send_json(topology, dataclasses.replace(co, items=(item, *co.items[1:])))
    assert resp.status_code == 422, resp.text
    error = resp.json()["error"]
    assert (error["code"], error["box"]) == ("translation_failed", "7")
    assert "unipass" in error["message"]
    assert stored(bridge) == 0
    assert bridge.store.audit_events("rejected")[0].code == "translation_failed"
    ok = send_json(topology, co)  # the same CO with a count UNI-PASS takes
    assert ok.status_code == 200 and ok.json()["status"] == "accepted"


@pytest.mark.parametrize(
    ("what", "edit", "box"),
    [
        (
            "a package type with a trailing newline",
            lambda d: d["hangHoa"][0].update(loaiKien="CT\n"),
            "7",
        ),
        (
            "a reference number with a trailing newline",
            lambda d: d.update(soCO=d["soCO"] + "\n"),
            "header",
        ),
        ("JSON 1 as a boolean", lambda d: d.update(capSau=1), "marking"),
    ],
)
def test_a_trailing_newline_is_not_a_valid_code(
    topology: Topology,
    bridge: Exchange,
    what: str,
    edit,
    box: str,  # noqa: ANN001
) -> None:
    co = sample_form_ak("VN-KR 26/01/00902", "VN", "KR", TODAY)
    resp = send_json(topology, co, edit)
    assert resp.status_code == 400, (what, resp.text)
    error = resp.json()["error"]
    assert (error["code"], error["box"]) == ("schema_violation", box), what
    assert stored(bridge) == 0


class _Mangling:
    """A destination codec whose read gives back something other than what was written."""

    def __init__(self, inner, mangle) -> None:  # noqa: ANN001 - test double
        self.inner, self.mangle = inner, mangle
        self.name, self.kind, self.marker = inner.name, inner.kind, inner.marker

    def encode(self, co, data=None):  # noqa: ANN001, ANN201
        return self.inner.encode(co, data)

    def read(self, payload):  # noqa: ANN001, ANN201
        data = self.inner.read(payload)
        self.mangle(data)
        return data


def test_what_reads_back_different_is_judged_by_the_canonical_schema() -> None:
    """The dict comparison only skips the schema when nothing changed: a value the
    destination reads back differently, and the schema refuses, is refused with its box;
    one that reads back differently but valid passes, as a full decode would let it."""
    from ak_bridge.core.errors import TranslationFailed
    from ak_bridge.formats import AkStdCodec, encode_for

    co = sample_form_ak("KR-RT-1", "KR", "ID", TODAY)
    bad = _Mangling(AkStdCodec(), lambda d: d["items"][0].update(package_count=-1))
    with pytest.raises(TranslationFailed) as caught:
        encode_for(bad, co)
    assert caught.value.box == "7"
    fine = _Mangling(AkStdCodec(), lambda d: d.update(remarks="read back with a remark"))
    assert encode_for(fine, co) is not None
