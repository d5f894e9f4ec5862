"""signxml's verifier with C14N that is correct whatever libxml2 the install resolves.

Why: with lxml 6.1 / libxml2 2.14, inclusive C14N of an element that is *not* the document
root emits a spurious ``xmlns=""`` on its grandchildren when the element sits in a default
namespace, e.g. ``<SignedInfo xmlns="...xmldsig#">`` -> ``<Transforms xmlns="">``. signxml
5.2.0 canonicalises SignedInfo that way, so the default shape of xmlsec1, the JDK and .NET
(unprefixed ``Signature`` with inclusive C14N) failed as "does not verify". Upstream:
https://github.com/XML-Security/signxml/issues/275 (fix in PR #286, not released).

The bug does not touch C14N of a document's root element, so we canonicalise every node as
the root of its own copy. ``tostring`` of a sub-element writes every namespace declaration in
scope onto it, which is exactly the namespace axis inclusive C14N renders on an apex element;
exclusive C14N renders only the visibly used ones, unchanged by the copy. xml:* attributes
inherited from ancestors are not carried over; dsig_policy refuses that (rare) shape.
Remove this module when a signxml release carries the fix and the tests pass without it.
"""

from __future__ import annotations

from typing import Any

from lxml import etree
from signxml import XMLVerifier


def _as_root(node: Any, parser: etree.XMLParser | None) -> Any:
    """``node`` unchanged when it is already a root (or not an element), else a rooted copy."""
    if not isinstance(node, etree._Element) or node.getparent() is None:
        return node
    return etree.fromstring(etree.tostring(node, with_tail=False), parser=parser)


class RootedC14nVerifier(XMLVerifier):
    """XMLVerifier whose C14N step always canonicalises a document root (see module doc)."""

    def _c14n(self, nodes: Any, algorithm: Any, inclusive_ns_prefixes: Any = None) -> bytes:
        items = nodes if isinstance(nodes, list) else [nodes]
        parser = getattr(self, "_parser", None)  # set by verify()
        rooted = [_as_root(n, parser) for n in items]
        return super()._c14n(rooted, algorithm, inclusive_ns_prefixes=inclusive_ns_prefixes)
