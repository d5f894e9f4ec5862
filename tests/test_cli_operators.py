"""Issue 13's CLI fixes: checked filters, refusals, either-side partners, confirmation,
the operator's name in the audit, a whole CSV header, one JSON shape."""

from __future__ import annotations

import csv
import io
import json
import os
from datetime import timedelta

import pytest
from test_cli import Bridge, listed
from test_cli import bridge as bridge  # noqa: F401 (the fixture, by import)

from ak_bridge.service.ports import AuditEvent
from ak_bridge.service.selection import LISTING_FIELDS


@pytest.mark.parametrize(
    ("args", "hint"),
    [
        (["messages", "--partner", "VN"], "unknown partner 'VN': did you mean VN-ECOSYS?"),
        (["messages", "--status", "daed"], "unknown state 'daed': did you mean dead?"),
        (["messages", "--document-type", "FORM-AK"], "did you mean FORM_AK?"),
        (
            ["retry", "--failure-class", "falut"],
            "unknown failure class 'falut': did you mean fault?",
        ),
        (["retry", "--partner", "ID-SK"], "unknown partner 'ID-SK': did you mean ID-SKA?"),
        (["cancel", "--partner", "ID-SK", "--reason", "x", "--yes"], "did you mean ID-SKA?"),
        (["export", "--partner", "VN"], "did you mean VN-ECOSYS?"),
        (["refusals", "--partner", "VN"], "did you mean VN-ECOSYS?"),
        (
            ["messages", "--since", "2026-02-01", "--until", "2026-01-01"],
            "the period is empty",
        ),
    ],
)
def test_a_typo_is_exit_2_with_did_you_mean(bridge: Bridge, args: list[str], hint: str) -> None:
    before = bridge.snapshot()
    result = bridge.run(*args)
    assert result.exit_code == 2, result.output
    assert hint in result.output
    assert "nothing to" not in result.output
    assert bridge.snapshot() == before


def test_messages_partner_matches_either_side_and_shows_time_type_failure(bridge: Bridge) -> None:
    result = bridge.run("messages", "--partner", "KR-KCS")  # the sender of every message
    assert listed(result) == set(bridge.delivery)
    header = result.output.splitlines()[0]
    assert "received" in header and "document" in header and "failure" in header
    line = next(x for x in result.output.splitlines() if "M-DEAD-ID" in x)
    assert "FORM_AK" in line and "fault: SOAP fault: box 7 rejected" in line
    assert line.startswith((bridge.now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"))


def test_messages_by_partner_message_id(bridge: Bridge) -> None:
    result = bridge.run("messages", "--partner-message-id", "kcs-M-DEAD-VN")
    assert listed(result) == {"M-DEAD-VN"}


def test_refusals_lists_code_box_partner_and_their_id(bridge: Bridge) -> None:
    for n, (partner, code) in enumerate(
        [("ID-SKA", "schema_violation"), ("VN-ECOSYS", "signature_invalid"), (None, "rejected")]
    ):
        bridge.store.audit(
            AuditEvent(
                bridge.now + timedelta(seconds=n),
                "rejected",
                partner=partner,
                code=code,
                box="7" if partner == "ID-SKA" else None,
                detail=f"soap message THEIR-{n}: broken",
            )
        )
    out = bridge.run("refusals").output
    assert "3 refusal(s)" in out
    row = next(x for x in out.splitlines() if "THEIR-0" in x).split()
    assert row[2:6] == ["schema_violation", "7", "ID-SKA", "THEIR-0"]
    only = bridge.run("refusals", "--partner", "VN-ECOSYS").output
    assert "THEIR-1" in only and "THEIR-0" not in only and "1 refusal(s)" in only
    by_id = json.loads(bridge.run("refusals", "--partner-message-id", "THEIR-2", "--json").output)
    assert by_id["count"] == 1 and by_id["items"][0]["code"] == "rejected"
    assert by_id["items"][0]["seq"] == bridge.store.audit_row()["seq"]


def test_every_json_output_has_one_shape(bridge: Bridge) -> None:
    for command in (["messages", "--json"], ["refusals", "--json"]):
        body = json.loads(bridge.run(*command).output)
        assert set(body) == {"command", "count", "items"}, command
        assert body["command"] == command[0] and body["count"] == len(body["items"])
    items = json.loads(bridge.run("messages", "--json", "--status", "dead").output)["items"]
    assert {i["message_id"] for i in items} == {"M-DEAD-ID", "M-DEAD-VN"}
    assert set(items[0]) == set(LISTING_FIELDS)


def test_export_of_nothing_still_writes_the_whole_header(bridge: Bridge) -> None:
    result = bridge.run("export", "--status", "cancelled")
    assert result.exit_code == 0, result.output
    assert list(csv.reader(io.StringIO(result.stdout))) == [list(LISTING_FIELDS)]


def test_bulk_cancel_asks_first(bridge: Bridge) -> None:
    # one delivery needs no prompt
    single = bridge.run("cancel", "M-DEAD-ID", "--reason", "one")
    assert single.exit_code == 0 and "1 delivery(ies) cancelled" in single.output
    before = bridge.snapshot()
    no = bridge.run_input("n\n", "cancel", "--all", "--reason", "test")
    assert no.exit_code == 1 and "cancel these 3 deliveries?" in no.output
    assert bridge.snapshot() == before
    yes = bridge.run_input("y\n", "cancel", "--all", "--reason", "test")
    assert yes.exit_code == 0 and "3 delivery(ies) cancelled" in yes.output


def test_the_audit_names_the_operator(bridge: Bridge, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AK_BRIDGE_OPERATOR", "minh")
    assert bridge.run("retry", "M-DEAD-ID").exit_code == 0
    monkeypatch.delenv("AK_BRIDGE_OPERATOR")
    assert bridge.run("retry", "M-DEAD-VN").exit_code == 0
    actors = {
        mid: [e["actor"] for e in bridge.store.audit_for(mid) if e["event"] == "requeued"]
        for mid in ("M-DEAD-ID", "M-DEAD-VN")
    }
    login = os.environ.get("USER") or __import__("getpass").getuser()
    assert actors == {"M-DEAD-ID": ["minh"], "M-DEAD-VN": [login]}
    assert "admin" not in actors.values()


def test_operators_add_list_disable(bridge: Bridge, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AK_BRIDGE_OPERATOR_PASSWORD", "long enough pass")
    added = bridge.run("operators", "add", "olga", "--role", "operator")
    assert added.exit_code == 0, added.output
    stored = bridge.store.operator("olga")
    assert stored["role"] == "operator" and stored["password_hash"].startswith("$argon2id$")
    assert "long enough pass" not in stored["password_hash"]
    assert bridge.run("operators", "add", "olga", "--role", "viewer").exit_code == 1
    assert bridge.run("operators", "add", "x", "--role", "admin").exit_code == 2
    monkeypatch.setenv("AK_BRIDGE_OPERATOR_PASSWORD", "short")
    assert bridge.run("operators", "add", "sam", "--role", "viewer").exit_code == 2
    monkeypatch.delenv("AK_BRIDGE_OPERATOR_PASSWORD")
    prompted = bridge.run_input(
        "prompted password\nprompted password\n", "operators", "add", "vera", "--role", "viewer"
    )
    assert prompted.exit_code == 0, prompted.output
    assert "prompted password" not in prompted.output
    body = json.loads(bridge.run("operators", "list", "--json").output)
    assert body["count"] == 2 and [o["name"] for o in body["items"]] == ["olga", "vera"]
    assert bridge.run("operators", "disable", "vera").exit_code == 0
    assert bridge.run("operators", "disable", "vera").exit_code == 1
    assert "disabled" in bridge.run("operators", "list").output
