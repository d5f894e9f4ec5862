"""The issuing body is part of a CO's identity (issue 11, standard 1.1).

In Korea both KCS and the Korea Chamber of Commerce and Industry issue COs, and their numbers
are independent: two bodies' COs with one number are two certificates. '' means "not named"
(every 1.0 document, every row stored before), so those keep their identity.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest
from store_rows import T0, cert_row, delivery_row, message_row

from ak_bridge.adapters.store import migrations, open_database
from ak_bridge.service.ports import AuditEvent, StateChanged, Store, iso
from ak_bridge.service.records import CertificateChange

REF = "KR-2026-000777"


@pytest.fixture
def store(database: str) -> Store:
    return open_database(database)


def put(store: Store, mid: str, body: str, ref: str = REF, **fields: object) -> None:
    store.accept(
        dataclasses.replace(message_row(mid, ref=ref), issuing_body=body),
        [delivery_row(mid)],
        [AuditEvent(T0, "received", mid, "KR-KCS")],
        [cert_row(ref, issuing_body=body, last_message_id=mid, **fields)],
        {("KR", body, ref): None},
    )


# -- the store, on both backends --------------------------------------------------------------


def test_two_bodies_cos_with_one_number_are_two_certificates(store: Store) -> None:
    put(store, "M-KCS", "KCS", importing_country="TH")
    put(store, "M-KCCI", "KCCI", importing_country="VN")
    assert store.certificate("KR", REF) is None  # none names no body
    assert store.certificate("KR", REF, "KCS")["importing_country"] == "TH"
    assert store.certificate("KR", REF, "KCCI")["importing_country"] == "VN"
    assert store.certificates_numbered("KR", REF) == ["KCCI", "KCS"]
    assert [m.id for m in store.messages_for_certificate("KR", REF, "KCCI")] == ["M-KCCI"]
    assert store.messages_for_certificate("KR", REF) == []
    # the state expectation is per body: KCCI's CO exists, so "none yet" no longer holds
    with pytest.raises(StateChanged):
        put(store, "M-KCCI-2", "KCCI")
    put(store, "M-NONE", "")  # the CO that names no body is a third one
    assert store.certificates_numbered("KR", REF) == ["", "KCCI", "KCS"]


def test_a_delivery_moves_only_the_co_of_its_own_body(store: Store) -> None:
    put(store, "M-KCS", "KCS")
    put(store, "M-KCCI", "KCCI")
    with store.write() as tx:  # a change decided from the delivered message (body unknown)
        store._change_certificate(  # type: ignore[attr-defined]
            tx, CertificateChange("KR", REF, "ISSUED", "TRANSMITTED", "M-KCCI"), T0
        )
    assert store.certificate("KR", REF, "KCCI")["state"] == "TRANSMITTED"
    assert store.certificate("KR", REF, "KCS")["state"] == "ISSUED"


def test_a_replacement_chain_stays_within_its_body(store: Store) -> None:
    put(store, "A", "KCS", ref="KR-OLD", state="REPLACED", replaced_by="KR-NEW")
    put(store, "B", "KCCI", ref="KR-OLD", state="REPLACED", replaced_by="KR-NEW")
    put(store, "C", "KCS", ref="KR-NEW")
    assert store.predecessors("KR", "KR-NEW", "KCS") == ["KR-OLD"]
    assert store.predecessors("KR", "KR-NEW") == []


def test_the_previous_schema_upgrades_and_its_cos_keep_their_identity(
    database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    mine = next(m for m in migrations.MIGRATIONS if "issuing body" in m.name)
    before = tuple(m for m in migrations.MIGRATIONS if m.version < mine.version)
    with monkeypatch.context() as patched:
        patched.setattr(migrations, "MIGRATIONS", before)
        patched.setattr(migrations, "LATEST", before[-1].version)
        old = open_database(database)
        with old.write() as tx:  # rows as the previous release wrote them
            tx.run(
                "INSERT INTO messages (id, direction, sender, via, document_type, function,"
                " issuing_country, reference_no, created_at) VALUES"
                " ('M0', 'in', 'KR-KCS', 'soap', 'FORM_AK', '9', 'KR', ?, ?)",
                [REF, iso(T0)],
            )
            tx.run(
                "INSERT INTO certificates (issuing_country, reference_no, state, replaced_by,"
                " updated_at) VALUES ('KR', 'KR-0', 'REPLACED', ?, ?), ('KR', ?, 'ISSUED',"
                " NULL, ?)",
                [REF, iso(T0), REF, iso(T0)],
            )
        old.close()
    store = _opened_without_check(database)
    applied = store.upgrade(datetime.now(UTC))
    assert applied == [m.version for m in migrations.MIGRATIONS if m.version >= mine.version]
    assert store.schema_version() == migrations.LATEST
    cert = store.certificate("KR", REF)
    assert cert is not None and cert.issuing_body == "" and cert.state == "ISSUED"
    assert store.predecessors("KR", REF) == ["KR-0"]
    assert [m.issuing_body for m in store.messages_for_certificate("KR", REF)] == [""]
    put(store, "M-KCCI", "KCCI")  # another body's CO with the number: now its own CO
    assert store.certificates_numbered("KR", REF) == ["", "KCCI"]
    with store.read() as tx:
        if database.startswith("postgres"):
            sql = "SELECT indexname AS name FROM pg_indexes WHERE tablename = 'certificates'"
        else:
            sql = (
                "SELECT name FROM sqlite_master WHERE tbl_name = 'certificates' AND type = 'index'"
            )
        indexes = tx.rows(sql)
    assert "certificates_replaced_by" in {r["name"] for r in indexes}


def _opened_without_check(database: str) -> Store:
    """This release's store over an older database, as ``ak-bridge db upgrade`` opens it."""
    if database.startswith("postgres"):
        from ak_bridge.adapters.store.postgres import PostgresStore

        return PostgresStore.open(database, check=False)
    from ak_bridge.adapters.store.sqlite import SqliteStore

    return SqliteStore.open(database, check=False)
