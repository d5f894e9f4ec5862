"""Canonical JSON as docs/integration-guide.md section 2.2 defines it (no ak_bridge code).

Sorted keys at every level, separators exactly "," and ":", non-ASCII as UTF-8 (never
\\u-escaped), UTF-8 bytes without BOM or newline.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any


def canonical_json(document: Any) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8"
    )


def sha256_hex(document: Any) -> str:
    return hashlib.sha256(canonical_json(document)).hexdigest()
