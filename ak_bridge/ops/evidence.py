"""Evidence pack: everything about one CO, in one file anyone can verify offline, years later.

A retroactive verification or a customs dispute asks "what exactly did you receive, from
whom, what did you send, and when?". The pack answers it without the bridge:

    manifest.json            what is in the pack, with the SHA-256 of every file
    manifest.sig.xml         the bridge's XMLDSig over the manifest (a signed-JSON manifest)
    certificates/*.pem       the pinned partner certificates and the bridge's own
    messages/<id>/received   each document exactly as received (signed by the partner)
    messages/<id>/sent-<n>   each document exactly as sent (signed by the bridge)
    messages/<id>/attempts.json, audit.json   every delivery attempt and audit event
    messages/<id>/receipt.xml  the signed receipt the sender was given (partners with
                             ``sign_receipts``), byte for byte

``verify_pack`` checks the manifest's signature, every file's hash, every received and sent
XML signature against the certificates in the pack (at the time it was received), and that
each audit row's hash follows from its content and its predecessor's hash.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from ak_bridge.core.audit import audit_hash
from ak_bridge.core.errors import AkBridgeError
from ak_bridge.core.model import certificate_name
from ak_bridge.security.signing import Signer, TrustedCert, Verifier
from ak_bridge.service.ports import Store, from_iso, iso

PACK_FORMAT = "ak-bridge-evidence/1"


def build_pack(
    store: Store,
    signer: Signer,
    bridge_cert: bytes,
    partner_certs: Mapping[str, Iterable[bytes]],
    issuing_country: str,
    reference_no: str,
    now: datetime,
    issuing_body: str = "",
) -> bytes:
    """A zip of everything the bridge holds about one CO (of ``issuing_body``: 1.1, part of
    its key), signed by the bridge."""
    cert = store.certificate(issuing_country, reference_no, issuing_body)
    if cert is None:
        raise AkBridgeError(
            f"no certificate {certificate_name(issuing_country, reference_no, issuing_body)}"
        )
    files: dict[str, bytes] = {"certificates/AK-BRIDGE.pem": bridge_cert}
    for partner, pems in partner_certs.items():
        for n, pem in enumerate(pems, start=1):
            files[f"certificates/{partner}-{n}.pem"] = pem
    messages = []
    for m in _chain_messages(store, cert):
        row = store.message(m["id"])
        assert row is not None
        base = f"messages/{row['id']}"
        entry: dict[str, Any] = {
            "id": row["id"],
            "sender": row["sender"],
            "via": row["via"],
            "document_type": row["document_type"],
            "function": row["function"],
            "reference_no": row["reference_no"],
            "received_at": iso(row.created_at),
            "purged_at": iso(row.purged_at) if row.purged_at else None,
            "sent": [],
        }
        if row["raw"]:
            files[f"{base}/received"] = bytes(row["raw"])
            entry["received"] = f"{base}/received"
        receipt = store.signed_receipt(row.id)
        if receipt is not None:
            files[f"{base}/receipt.xml"] = receipt
            entry["receipt"] = f"{base}/receipt.xml"
        attempts = []
        for d in store.deliveries_for(row["id"]):
            if d["payload"]:
                name = f"{base}/sent-{d['id']}"
                files[name] = bytes(d["payload"])
                entry["sent"].append(
                    {
                        "file": name,
                        "to": d["destination"],
                        "status": d["status"],
                        "content_type": d["content_type"],
                    }
                )
            attempts += [
                a.plain() | {"destination": d.destination} for a in store.attempts_for(d.id)
            ]
        files[f"{base}/attempts.json"] = _json(attempts)
        files[f"{base}/audit.json"] = _json([a.plain() for a in store.audit_for(row.id)])
        messages.append(entry)
    manifest = {
        "format": PACK_FORMAT,
        "certificate": {
            k: cert[k]
            for k in (
                "issuing_country",
                "reference_no",
                "state",
                "importing_country",
                "issue_date",
                "replaced_by",
            )
        }
        | ({"issuing_body": cert.issuing_body} if cert.issuing_body else {}),
        "made_at": iso(now),
        "messages": messages,
        "files": {name: hashlib.sha256(data).hexdigest() for name, data in sorted(files.items())},
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in sorted(files.items()):
            zf.writestr(name, data)
        zf.writestr("manifest.json", _json(manifest))
        zf.writestr("manifest.sig.xml", signer.sign_json(manifest))
    return buf.getvalue()


def _chain_messages(store: Store, cert: Mapping[str, Any]) -> list[dict]:
    """The CO's messages and those of the CO it replaced, oldest first."""
    country, body = cert["issuing_country"], cert["issuing_body"]
    rows = store.messages_for_certificate(country, cert["reference_no"], body)
    for ref in store.predecessors(country, cert["reference_no"], body):
        rows += store.messages_for_certificate(country, ref, body)
    return sorted(rows, key=lambda r: r["created_at"])


def verify_pack(data: bytes) -> list[str]:
    """Every problem found (empty: the pack is intact and every signature verifies)."""
    problems: list[str] = []
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        manifest = json.loads(zf.read("manifest.json"))
        signature = zf.read("manifest.sig.xml")
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        return [f"not an evidence pack: {exc}"]
    bridge = _certs(zf, [n for n in zf.namelist() if n == "certificates/AK-BRIDGE.pem"])
    try:
        Verifier(bridge, now=lambda: from_iso(manifest["made_at"])).verify_json(manifest, signature)
    except AkBridgeError as exc:
        problems.append(f"manifest signature: {exc}")
    for name, digest in manifest.get("files", {}).items():
        try:
            actual = hashlib.sha256(zf.read(name)).hexdigest()
        except KeyError:
            problems.append(f"{name}: missing")
            continue
        if actual != digest:
            problems.append(f"{name}: content does not match the manifest")
    partners = _certs(
        zf, [n for n in zf.namelist() if n.startswith("certificates/") and "AK-BRIDGE" not in n]
    )
    for m in manifest.get("messages", []):
        at = from_iso(m["received_at"])
        if m.get("received") and m["document_type"] != "FORM_D" and not _is_json(zf, m):
            problems += _check_signature(zf, m["received"], partners, at, "received")
        if m.get("receipt"):
            problems += _check_signature(zf, m["receipt"], bridge, at, "signed receipt")
        for sent in m.get("sent", []):
            if sent["content_type"] == "application/xml" and m["document_type"] != "FORM_D":
                problems += _check_signature(zf, sent["file"], bridge, at, "sent")
        problems += _check_audit(json.loads(zf.read(f"messages/{m['id']}/audit.json")))
    return problems


def _is_json(zf: zipfile.ZipFile, m: Mapping[str, Any]) -> bool:
    return zf.read(m["received"])[:1] in (b"{", b"[")


def _certs(zf: zipfile.ZipFile, names: list[str]) -> tuple[TrustedCert, ...]:
    return tuple(TrustedCert(zf.read(n)) for n in names)


def _check_signature(
    zf: zipfile.ZipFile, name: str, trusted: tuple[TrustedCert, ...], at: datetime, what: str
) -> list[str]:
    try:
        Verifier(trusted, now=lambda: at).verify(zf.read(name))
    except AkBridgeError as exc:
        return [f"{name} ({what}): {exc}"]
    return []


def _check_audit(rows: list[dict]) -> list[str]:
    return [
        f"audit row {r['seq']}: content does not match its hash"
        for r in rows
        if audit_hash(r["prev_hash"], r) != r["hash"]
    ]


def _json(obj: Any) -> bytes:
    return json.dumps(obj, indent=1, sort_keys=True, default=_jsonable).encode()


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return value.decode("utf-8", "replace")
    return str(value)
