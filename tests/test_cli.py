"""The admin CLI against a real store: list, show, retry, audit verify, report."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from ak_bridge.adapters.store.sqlite import SqliteStore
from ak_bridge.cli import cli
from ak_bridge.core.model import DeliveryStatus
from ak_bridge.service.ports import AuditEvent, iso
from ak_bridge.service.records import DeliveryRecord, MessageRecord

MAIN = """\
[service]
database = "var/ak_bridge.db"

[identity]
key_file = "var/pki/bridge-key.pem"
cert_file = "var/pki/bridge-cert.pem"
"""

PARTNERS = """\
[partners.ID-SKA]
country = "ID"
channel = "soap"
endpoint = "https://id.example/soap"
wsdl = "ams/akbridge-ams-1.0.wsdl"
certificates = ["var/pki/ID-SKA.pem"]

[partners.VN-ECOSYS]
country = "VN"
channel = "rest"
endpoint = "https://vn.example/rest"
certificates = ["var/pki/VN-ECOSYS.pem"]

[partners.VN-ECOSYS.retry]
max_attempts = 10
"""


@dataclass
class Bridge:
    config: Path
    store: SqliteStore
    now: datetime
    delivery: dict[str, int]  # message id -> its one delivery

    def run(self, *args: str) -> Result:
        return CliRunner().invoke(cli, ["--config", str(self.config), *args])

    def run_input(self, answer: str, *args: str) -> Result:
        return CliRunner().invoke(cli, ["--config", str(self.config), *args], input=answer)

    def snapshot(self) -> tuple[list[dict], int]:
        rows = [self.store.delivery(d) for d in sorted(self.delivery.values())]
        return rows, len(self.store.audit_events(limit=10_000))

    def status(self, mid: str) -> str:
        return self.store.delivery(self.delivery[mid])["status"]


def _accept(store: SqliteStore, mid: str, dest: str, ref: str, created: datetime) -> int:
    store.accept(
        MessageRecord(
            id=mid,
            direction="in",
            sender="KR-KCS",
            receiver=dest,
            via="soap",
            document_type="FORM_AK",
            function="9",
            partner_message_id=f"kcs-{mid}",
            issuing_country="KR",
            reference_no=ref,
            business_key=f"KR|{ref}|9",
            created_at=created,
        ),
        [
            DeliveryRecord(
                message_id=mid,
                destination=dest,
                channel="soap" if dest == "ID-SKA" else "rest",
                status="pending",
                order_key=f"KR|{ref}",
                payload=b"<CO/>",
                content_type="text/xml",
                next_attempt_at=created,
                created_at=created,
                updated_at=created,
            )
        ],
        [
            AuditEvent(created, "received", mid, "KR-KCS", detail="via soap"),
            AuditEvent(created, "queued", mid, dest, detail=f"for {dest}"),
        ],
    )
    return store.deliveries_for(mid)[0]["id"]


@pytest.fixture
def bridge(tmp_path: Path):
    """Five messages: delivered, waiting, two dead letters, one pending for ten days."""
    root = tmp_path / "deploy"
    cfg = root / "config"
    cfg.mkdir(parents=True)
    (cfg / "ak_bridge.toml").write_text(MAIN)
    (cfg / "partners.toml").write_text(PARTNERS)
    (root / "var" / "pki").mkdir(parents=True)
    for name in ("ID-SKA.pem", "VN-ECOSYS.pem"):
        (root / "var" / "pki" / name).write_text("-----BEGIN CERTIFICATE-----\n")

    store = SqliteStore.open(root / "var" / "ak_bridge.db")
    now = datetime.now(UTC).replace(microsecond=0)
    t = now - timedelta(hours=1)
    ids = {
        "M-DELIVERED": _accept(store, "M-DELIVERED", "ID-SKA", "KR-2026-000001", t),
        "M-WAITING": _accept(store, "M-WAITING", "VN-ECOSYS", "KR-2026-000002", t),
        "M-DEAD-ID": _accept(store, "M-DEAD-ID", "ID-SKA", "KR-2026-000003", t),
        "M-DEAD-VN": _accept(store, "M-DEAD-VN", "VN-ECOSYS", "KR-2026-000004", t),
    }
    assert len(store.claim_due(t, t + timedelta(minutes=2), "w", 10)) == 4

    def finish(mid: str, outcome: DeliveryStatus, **kw) -> None:
        assert store.finish_attempt(
            ids[mid], "w", started_at=t, duration_ms=250, outcome=outcome, now=t, **kw
        )

    finish("M-DELIVERED", DeliveryStatus.DELIVERED, http_status=200)
    finish(
        "M-WAITING",
        DeliveryStatus.WAITING_RETRY,
        next_attempt_at=now + timedelta(minutes=10),
        failure_class="timeout",
        detail="read timed out after 10 s",
        event=AuditEvent(t, "retry_scheduled", "M-WAITING", "VN-ECOSYS", detail="attempt 1"),
    )
    finish(
        "M-DEAD-ID",
        DeliveryStatus.DEAD,
        http_status=500,
        failure_class="fault",
        detail="SOAP fault: box 7 rejected",
        event=AuditEvent(t, "dead_letter", "M-DEAD-ID", "ID-SKA", "schema_violation", "7"),
    )
    finish("M-DEAD-VN", DeliveryStatus.DEAD, failure_class="transport", detail="refused")
    ids["M-PENDING"] = _accept(
        store, "M-PENDING", "VN-ECOSYS", "KR-2026-000005", now - timedelta(days=10)
    )
    yield Bridge(cfg, store, now, ids)
    store.close()


def listed(result: Result) -> set[str]:
    """The message ids in the rows of the ``messages`` table."""
    rows = [line.split() for line in result.output.splitlines()[1:-1]]
    assert all(len(r) >= 9 and r[1].isdigit() for r in rows), result.output
    return {r[2] for r in rows}


# -- help ----------------------------------------------------------------------------------


def _every_command(group: click.Group, prefix: tuple[str, ...] = ()) -> list[list[str]]:
    out = [list(prefix)]
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            out += _every_command(command, (*prefix, name))
        else:
            out.append([*prefix, name])
    return out


EVERY_COMMAND = _every_command(cli)


def test_every_command_the_issues_ask_for_exists() -> None:
    names = {" ".join(c) for c in EVERY_COMMAND}
    asked = {
        "serve",
        "worker",
        "demo",
        "messages",
        "show",
        "retry",
        "validate",
        "translate",
        "certs",
        "audit verify",
        "cancel",
        "export",
        "purge",
        "report",
    }
    assert asked <= names, asked - names


@pytest.mark.parametrize("command", EVERY_COMMAND, ids=lambda c: " ".join(c) or "ak-bridge")
def test_help(command: list[str]) -> None:
    for flag in ("--help", "-h"):
        result = CliRunner().invoke(cli, [*command, flag])
        assert result.exit_code == 0, result.output
        assert "Usage:" in result.output
        assert len(result.output.splitlines()) > 3


def test_bad_config_is_exit_1(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["--config", str(tmp_path / "nowhere"), "messages"])
    assert result.exit_code == 1
    assert "configuration error" in result.output and "ak_bridge.toml" in result.output


# -- messages ------------------------------------------------------------------------------


def test_messages_lists_every_delivery(bridge: Bridge) -> None:
    result = bridge.run("messages")
    assert result.exit_code == 0, result.output
    assert listed(result) == set(bridge.delivery)
    assert "5 delivery(ies)" in result.output
    assert "KR-2026-000003" in result.output


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--status", "dead"], {"M-DEAD-ID", "M-DEAD-VN"}),
        (
            ["--status", "dead", "--status", "waiting_retry"],
            {"M-DEAD-ID", "M-DEAD-VN", "M-WAITING"},
        ),
        (["--status", "pending"], {"M-PENDING"}),
        (["--partner", "VN-ECOSYS"], {"M-WAITING", "M-DEAD-VN", "M-PENDING"}),
        (["--partner", "ID-SKA", "--status", "dead"], {"M-DEAD-ID"}),
        (["--reference", "KR-2026-000003"], {"M-DEAD-ID"}),
        (["--failure-class", "timeout"], {"M-WAITING"}),
        (["--partner", "KR-KCS", "--status", "pending"], {"M-PENDING"}),  # the sender's side
    ],
)
def test_messages_filters(bridge: Bridge, args: list[str], expected: set[str]) -> None:
    result = bridge.run("messages", *args)
    assert result.exit_code == 0, result.output
    assert listed(result) == expected
    assert f"{len(expected)} delivery(ies)" in result.output


def test_messages_since(bridge: Bridge) -> None:
    since = (bridge.now - timedelta(days=1)).strftime("%Y-%m-%d %H:%M:%S")
    result = bridge.run("messages", "--since", since)
    assert result.exit_code == 0, result.output
    assert listed(result) == set(bridge.delivery) - {"M-PENDING"}


def test_messages_bad_status_is_usage_error(bridge: Bridge) -> None:
    assert bridge.run("messages", "--status", "lost").exit_code == 2


def test_messages_csv(bridge: Bridge) -> None:
    result = bridge.run("messages", "--csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert {r["message_id"]: r["status"] for r in rows} == {
        "M-DELIVERED": "delivered",
        "M-WAITING": "waiting_retry",
        "M-DEAD-ID": "dead",
        "M-DEAD-VN": "dead",
        "M-PENDING": "pending",
    }
    dead = next(r for r in rows if r["message_id"] == "M-DEAD-ID")
    assert int(dead["delivery_id"]) == bridge.delivery["M-DEAD-ID"]
    assert dead["destination"] == "ID-SKA" and dead["reference_no"] == "KR-2026-000003"
    assert dead["last_failure_class"] == "fault" and dead["attempts"] == "1"


def test_messages_csv_filtered_and_empty(bridge: Bridge) -> None:
    rows = list(
        csv.DictReader(io.StringIO(bridge.run("messages", "--csv", "--status", "dead").stdout))
    )
    assert sorted(r["message_id"] for r in rows) == ["M-DEAD-ID", "M-DEAD-VN"]
    empty = bridge.run("messages", "--csv", "--status", "cancelled")
    assert empty.exit_code == 0
    assert list(csv.reader(io.StringIO(empty.stdout)))[0][:3] == [
        "delivery_id",
        "message_id",
        "direction",
    ]


# -- show ----------------------------------------------------------------------------------


def test_show_waiting_message(bridge: Bridge) -> None:
    result = bridge.run("show", "M-WAITING")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "message   M-WAITING  (FORM_AK, function 9)" in out
    assert "CO        KR KR-2026-000002" in out
    d = bridge.store.delivery(bridge.delivery["M-WAITING"])
    assert (
        f"delivery {d['id']} to VN-ECOSYS (rest): waiting_retry, attempt 1 of 10 (1 in all)" in out
    )
    assert f"waiting: next attempt at {d['next_attempt_at']}" in out
    assert "after timeout: read timed out after 10 s" in out
    assert "attempt 1 at" in out and "waiting_retry timeout" in out and "250 ms" in out
    audit = out.split("\naudit\n", 1)[1]
    assert [line.split()[1] for line in audit.splitlines()] == [
        "received",
        "queued",
        "retry_scheduled",
    ]


def test_show_dead_letter(bridge: Bridge) -> None:
    out = bridge.run("show", "M-DEAD-ID").output
    assert "dead, attempt 1 of 8 (1 in all)" in out
    assert "dead letter (fault): SOAP fault: box 7 rejected" in out
    assert "dead_letter [schema_violation box 7]" in out
    assert "waiting:" not in out


def test_show_unknown_message_is_exit_1(bridge: Bridge) -> None:
    result = bridge.run("show", "M-NOPE")
    assert result.exit_code == 1
    assert "no message M-NOPE" in result.output


# -- retry ---------------------------------------------------------------------------------


def test_retry_without_a_selection_is_usage_error(bridge: Bridge) -> None:
    before = bridge.snapshot()
    result = bridge.run("retry")
    assert result.exit_code == 2
    assert "--all" in result.output
    assert bridge.snapshot() == before


def test_retry_dry_run_changes_nothing(bridge: Bridge) -> None:
    before = bridge.snapshot()
    result = bridge.run("retry", "--dry-run", "--all")
    assert result.exit_code == 0, result.output
    for mid in ("M-WAITING", "M-DEAD-ID", "M-DEAD-VN"):
        assert f"would retry delivery {bridge.delivery[mid]} ({mid} to" in result.output
    assert "M-DELIVERED" not in result.output and "M-PENDING" not in result.output
    assert "3 delivery(ies) would be queued for retry (dry run)" in result.output
    assert bridge.snapshot() == before


def test_retry_all_requeues_dead_and_waiting_keeping_message_ids(bridge: Bridge) -> None:
    before = {r["id"]: r for r in bridge.snapshot()[0]}
    result = bridge.run("retry", "--all", "--operator", "olga")
    assert result.exit_code == 0, result.output
    assert "3 delivery(ies) queued for retry" in result.stdout

    for mid in ("M-WAITING", "M-DEAD-ID", "M-DEAD-VN"):
        [d] = bridge.store.deliveries_for(mid)  # the same message, no new one
        assert d["id"] == bridge.delivery[mid] and d["status"] == "pending"
        assert d["next_attempt_at"] <= datetime.now(UTC)
        requeued = [e for e in bridge.store.audit_for(mid) if e["event"] == "requeued"]
        assert [e["actor"] for e in requeued] == ["olga"]
    for mid in ("M-DELIVERED", "M-PENDING"):
        assert bridge.store.delivery(bridge.delivery[mid]) == before[bridge.delivery[mid]]
    assert len(bridge.store.find_messages()) == 5
    assert bridge.store.verify_audit() == []
    # they are due again, in one sweep
    due = bridge.store.claim_due(datetime.now(UTC), datetime.now(UTC), "w2", 10)
    assert {r["message_id"] for r in due} >= {"M-WAITING", "M-DEAD-ID", "M-DEAD-VN"}


@pytest.mark.parametrize(
    ("args", "requeued"),
    [
        (["M-DEAD-ID"], {"M-DEAD-ID"}),
        (["M-DEAD-ID", "M-WAITING"], {"M-DEAD-ID", "M-WAITING"}),
        (["--partner", "ID-SKA"], set()),  # its only failure is a dead letter
        (["--partner", "ID-SKA", "--include-dead"], {"M-DEAD-ID"}),
        (["--partner", "VN-ECOSYS"], {"M-WAITING"}),
        (["--partner", "VN-ECOSYS", "--include-dead"], {"M-WAITING", "M-DEAD-VN"}),
        (["--failure-class", "timeout"], {"M-WAITING"}),
        (["--failure-class", "transport", "M-DEAD-ID"], {"M-DEAD-VN", "M-DEAD-ID"}),
    ],
)
def test_retry_selection(bridge: Bridge, args: list[str], requeued: set[str]) -> None:
    before = {mid: bridge.status(mid) for mid in bridge.delivery}
    result = bridge.run("retry", *args)
    assert result.exit_code == 0, result.output
    done = f"{len(requeued)} delivery(ies) queued for retry" if requeued else "nothing to retry"
    assert done in result.stdout
    after = {mid: bridge.status(mid) for mid in bridge.delivery}
    assert after == {mid: "pending" if mid in requeued else s for mid, s in before.items()}


def test_retry_by_delivery_number(bridge: Bridge) -> None:
    result = bridge.run("retry", str(bridge.delivery["M-DEAD-VN"]))
    assert result.exit_code == 0, result.output
    assert bridge.status("M-DEAD-VN") == "pending"
    assert bridge.status("M-DEAD-ID") == "dead"


def test_retry_of_a_delivered_message_does_nothing(bridge: Bridge) -> None:
    before = bridge.snapshot()
    result = bridge.run("retry", "M-DELIVERED")
    assert result.exit_code == 0
    assert "nothing to retry" in result.output
    assert bridge.snapshot() == before


@pytest.mark.parametrize("ident", ["M-NOPE", "424242"])
def test_retry_of_unknown_id_is_exit_1(bridge: Bridge, ident: str) -> None:
    before = bridge.snapshot()
    result = bridge.run("retry", ident)
    assert result.exit_code == 1
    assert f"no message or delivery {ident}" in result.output
    assert bridge.snapshot() == before


# -- audit verify --------------------------------------------------------------------------


def test_audit_verify_intact(bridge: Bridge) -> None:
    result = bridge.run("audit", "verify")
    assert result.exit_code == 0, result.output
    assert "audit trail intact" in result.output


@pytest.mark.parametrize(
    "tamper",
    [
        "UPDATE audit SET detail = 'via rest' WHERE seq = 1",
        "DELETE FROM audit WHERE seq = 3",
        "INSERT INTO audit (at, event, actor, prev_hash, hash)"
        " VALUES ('2026-01-01T00:00:00.000000Z', 'delivered', 'system', 'x', 'y')",
    ],
    ids=["edited", "deleted", "inserted"],
)
def test_audit_verify_fails_after_tampering(bridge: Bridge, tamper: str) -> None:
    with closing(sqlite3.connect(bridge.store.path)) as conn:
        conn.execute(tamper)
        conn.commit()
    result = bridge.run("audit", "verify")
    assert result.exit_code == 1
    assert "seq " in result.output and "audit trail broken" in result.output


# -- report --------------------------------------------------------------------------------


def test_report(bridge: Bridge) -> None:
    result = bridge.run("report")
    assert result.exit_code == 0, result.output
    partners = result.output.split("\nPer receiving partner\n")[1].split("\n\n")[0]
    rows = {line.split()[0]: line.split() for line in partners.splitlines()[1:]}
    # partner, deliveries, delivered, still waiting, dead letters
    assert rows["ID-SKA"][1:5] == ["2", "1", "0", "1"]
    assert rows["VN-ECOSYS"][1:5] == ["3", "0", "2", "1"]
    assert "fault 1" in result.output and "transport 1" in result.output
    backlog = result.output.split("Backlog now")[1].split()
    assert backlog[:3] == ["VN-ECOSYS", "2", "waiting,"]  # ID-SKA has nothing unfinished
    assert "(10 day(s) ago)" in result.output


def test_report_json_and_period(bridge: Bridge) -> None:
    data = json.loads(bridge.run("report", "--json").output)
    assert data["command"] == "report"
    (waiting,) = data["backlog"]  # the same figures as the text's "Backlog now"
    assert (waiting["partner"], waiting["waiting"], waiting["age_days"]) == ("VN-ECOSYS", 2, 10)
    by_partner = {p["partner"]: p for p in data["partners"]}
    assert by_partner["ID-SKA"]["by_status"] == {"delivered": 1, "dead": 1}
    assert by_partner["ID-SKA"]["latency"]["p50_s"] == 0.0
    since = (bridge.now - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    recent = json.loads(bridge.run("report", "--json", "--since", since).output)
    assert recent["period"]["since"] == since  # printed as given
    # the pending delivery is ten days old: outside the period
    assert sum(p["deliveries"] for p in recent["partners"]) == 4


# -- cancel, export, purge -------------------------------------------------------------


def test_cancel_needs_a_reason_and_a_selection(bridge: Bridge) -> None:
    assert bridge.run("cancel", "--all").exit_code == 2  # --reason is required
    assert bridge.run("cancel", "--reason", "x").exit_code == 2  # nothing selected


def test_cancel_dry_run_then_cancel_keeps_rows_and_audits(bridge: Bridge) -> None:
    before = bridge.snapshot()
    result = bridge.run("cancel", "--partner", "VN-ECOSYS", "--reason", "CO revoked", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "3 delivery(ies) would be cancelled (dry run)" in result.output
    assert bridge.snapshot() == before

    result = bridge.run(
        "cancel", "--partner", "VN-ECOSYS", "--reason", "CO revoked", "--yes", "--operator", "ana"
    )
    assert result.exit_code == 0, result.output
    assert "3 delivery(ies) cancelled" in result.output
    for mid in ("M-WAITING", "M-DEAD-VN", "M-PENDING"):
        assert bridge.status(mid) == "cancelled"
        (event,) = [e for e in bridge.store.audit_for(mid) if e["event"] == "cancelled"]
        assert event["actor"] == "ana" and "CO revoked" in event["detail"]
    assert bridge.status("M-DELIVERED") == "delivered"
    # a cancelled delivery is never claimed, and retry does not bring it back
    later = bridge.now + timedelta(days=1)
    assert bridge.store.claim_due(later, later + timedelta(minutes=2), "w", 10) == []
    assert "nothing to retry" in bridge.run("retry", "M-WAITING").output


def test_export_writes_csv_to_a_file(bridge: Bridge, tmp_path: Path) -> None:
    out = tmp_path / "export.csv"
    result = bridge.run("export", str(out), "--status", "dead")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(out.open()))
    assert sorted(r["message_id"] for r in rows) == ["M-DEAD-ID", "M-DEAD-VN"]
    assert {r["last_failure_class"] for r in rows} == {"fault", "transport"}


def test_purge_removes_documents_of_old_finished_messages_only(bridge: Bridge) -> None:
    # M-DELIVERED and the dead letters are finished but one hour old; nothing is 1 day old.
    assert (
        "0 message(s) would be purged"
        in bridge.run("purge", "--older-than-days", "1", "--dry-run").output
    )
    with closing(sqlite3.connect(bridge.store.path)) as db, db:
        db.execute("UPDATE messages SET created_at = ?", [iso(bridge.now - timedelta(days=400))])
        db.execute("UPDATE messages SET raw = x'3c434f2f3e'")
    result = bridge.run("purge", "--older-than-days", "365")
    assert result.exit_code == 0, result.output
    # finished: delivered and the two dead letters; waiting and pending ones are kept whole
    assert "3 message(s) purged" in result.output
    for mid in ("M-DELIVERED", "M-DEAD-ID", "M-DEAD-VN"):
        m = bridge.store.message(mid)
        assert m["raw"] is None and m["purged_at"] is not None
        assert bridge.store.deliveries_for(mid)[0]["payload"] == b""
        assert bridge.store.attempts_for(bridge.delivery[mid])  # the attempts stay
    assert bridge.store.message("M-WAITING")["raw"] == b"<CO/>"
    assert "purged    " in bridge.run("show", "M-DELIVERED").output
    assert bridge.run("audit", "verify").exit_code == 0


def test_the_admin_scripts_run_the_cli(bridge: Bridge) -> None:
    """scripts/retry-failed and scripts/admin are thin wrappers over the installed command."""
    import os
    import subprocess

    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "AK_BRIDGE_CONFIG": str(bridge.config)}
    out = subprocess.run(
        [str(root / "scripts" / "retry-failed"), "--all", "--dry-run"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert "would be queued for retry (dry run)" in out.stdout
    out = subprocess.run(
        [str(root / "scripts" / "admin"), "messages", "--status", "dead"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert "M-DEAD-ID" in out.stdout and "M-DELIVERED" not in out.stdout


def test_purge_keeps_a_co_under_verification_on_legal_hold(bridge: Bridge) -> None:
    with closing(sqlite3.connect(bridge.store.path)) as db, db:
        db.execute("UPDATE messages SET created_at = ?", [iso(bridge.now - timedelta(days=400))])
        db.execute(
            "INSERT INTO certificates (issuing_country, reference_no, state, updated_at)"
            " VALUES ('KR', 'KR-2026-000001', 'VERIFICATION_REQUESTED', ?)",
            [iso(bridge.now)],
        )
    result = bridge.run("purge", "--older-than-days", "365")
    assert "2 message(s) purged" in result.output  # the two dead letters, not M-DELIVERED
    assert bridge.store.message("M-DELIVERED")["purged_at"] is None


def test_read_only_commands_need_no_key_passphrase(
    bridge: Bridge, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """messages and report run with the passphrase variable unset; signing says which is missing."""
    monkeypatch.delenv("AKB_UNSET_PASS", raising=False)
    main = bridge.config / "ak_bridge.toml"
    main.write_text(
        main.read_text().replace(
            "[identity]\n", '[identity]\nkey_passphrase_env = "AKB_UNSET_PASS"\n'
        )
    )
    for args in (["messages"], ["report"], ["show", "M-DELIVERED"]):
        result = bridge.run(*args)
        assert result.exit_code == 0, (args, result.output)
    anchored = bridge.run("audit", "anchor", "--out", str(tmp_path / "anchor.json"))
    assert anchored.exit_code == 1
    assert "AKB_UNSET_PASS is not set" in anchored.output
    assert "Traceback" not in anchored.output


def test_purge_vacuum_gives_the_space_back(bridge: Bridge) -> None:
    """Purging frees pages inside the file; --vacuum is what makes the file smaller."""
    path = Path(bridge.store.path)
    big = b"<CO>" + b"x" * 400_000 + b"</CO>"
    with closing(sqlite3.connect(path)) as db, db:
        db.execute("UPDATE messages SET created_at = ?", [iso(bridge.now - timedelta(days=400))])
        db.execute("UPDATE messages SET raw = ?", [big])
    bridge.store.close()
    with closing(sqlite3.connect(path)) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    before = path.stat().st_size
    assert bridge.run("purge", "--older-than-days", "365").exit_code == 0
    bridge.store.close()
    with closing(sqlite3.connect(path)) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    kept = path.stat().st_size
    assert kept >= before  # the pages are free inside the file, not given back
    result = bridge.run("purge", "--older-than-days", "365", "--vacuum")
    assert result.exit_code == 0 and "VACUUM" in result.output
    assert path.stat().st_size < before - 3 * 400_000  # three documents' worth given back
    assert bridge.run("audit", "verify").exit_code == 0
