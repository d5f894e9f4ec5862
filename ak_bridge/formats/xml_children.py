"""Children of an element by tag, indexed once: the codecs' lookups without ElementPath.

Why: a certificate has some 70 fields, and the mapped and UNI-PASS codecs found each with an
``Element.find`` (an ElementPath search); those searches were the largest single cost of the
accept path after marshmallow. One pass over an element's children gives the first child of
each tag, which is what ``find`` returns, so each field becomes a dict look-up.

An index lives for one read or one write of one document (it holds the elements alive, so
lxml hands out the same proxy objects while it exists).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from lxml import etree


class Children:
    """First child per tag of each element asked about, built on first use."""

    def __init__(self) -> None:
        self._index: dict[etree._Element, dict[Any, etree._Element]] = {}

    def of(self, element: etree._Element) -> dict[Any, etree._Element]:
        index = self._index.get(element)
        if index is None:
            index = self._index[element] = {}
            for child in element:
                index.setdefault(child.tag, child)  # the first, as ``find`` gives
        return index

    def find(self, element: etree._Element, tags: Iterable[str]) -> etree._Element | None:
        """The element at the path of Clark-notation ``tags`` below ``element``, or None."""
        node: etree._Element | None = element
        for tag in tags:
            node = self.of(node).get(tag)
            if node is None:
                return None
        return node

    def ensure(self, element: etree._Element, tags: Iterable[str]) -> etree._Element:
        """The element at ``tags``, made (and indexed) where missing: writing a document."""
        node = element
        for tag in tags:
            index = self.of(node)
            child = index.get(tag)
            if child is None:
                child = index[tag] = etree.SubElement(node, tag)
            node = child
        return node


def text_of(element: etree._Element) -> str:
    """All the text inside ``element`` (XPath ``string()``), without a generator for the
    usual element that has no children."""
    if len(element) == 0:
        return element.text or ""
    return "".join(element.itertext())
