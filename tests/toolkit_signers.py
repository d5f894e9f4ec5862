"""Partners' own signing toolkits, driven by the tests: xmlsec1 and the JDK's javax.xml.crypto.

Both are independent of signxml, so a shape they produce and we verify is proven against
someone else's XMLDSig, not our own. A :class:`Shape` names one signature shape; each signer
turns (document, shape, key) into signed bytes. xmlsec1 is the Debian package ``xmlsec1``;
the Java signer (tests/toolkits/JdkXmlSigner.java) is compiled with ``javac`` into a
temporary directory once per test session.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass, replace
from pathlib import Path

from lxml import etree

from ak_bridge.sim.pki import PkiEntry

DS = "http://www.w3.org/2000/09/xmldsig#"
MORE = "http://www.w3.org/2001/04/xmldsig-more#"
ENVELOPED = DS + "enveloped-signature"
C14N = {
    "exc": "http://www.w3.org/2001/10/xml-exc-c14n#",
    "exc-comments": "http://www.w3.org/2001/10/xml-exc-c14n#WithComments",
    "inc": "http://www.w3.org/TR/2001/REC-xml-c14n-20010315",
    "inc-comments": "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments",
    "c14n11": "http://www.w3.org/2006/12/xml-c14n11",
}
DIGEST = {
    "sha256": "http://www.w3.org/2001/04/xmlenc#sha256",
    "sha512": "http://www.w3.org/2001/04/xmlenc#sha512",
    "sha1": DS + "sha1",
}
TOOLKITS_DIR = Path(__file__).parent / "toolkits"


@dataclass(frozen=True)
class Shape:
    """One signature shape; ``wrap`` None means the signer's own default wrapping."""

    method: str = "rsa-sha256"  # rsa-sha256 | rsa-sha512 | ecdsa-sha256 (| rsa-sha1, hmac-…)
    c14n: str = "exc"
    prefix: str = "ds"  # "ds" or "" (Signature in the default namespace)
    key_info: str = "cert"  # cert | cert+keyvalue | keyvalue | none
    root_id: str | None = None  # Reference URI="#<root_id>" instead of URI=""
    layout: str = "compact"  # compact | pretty | crlf
    wrap: int | None = None  # base64 columns: 64, 76, or 0 (one line)

    @property
    def id(self) -> str:
        parts = [self.method, self.c14n, self.prefix or "default-ns", f"keyinfo-{self.key_info}"]
        parts += [f"uri-#{self.root_id}" if self.root_id else 'uri-""', self.layout]
        parts += [f"b64-{self.wrap}"] if self.wrap is not None else []
        return ",".join(parts)

    @property
    def digest(self) -> str:
        return "sha512" if self.method.endswith("sha512") else "sha256"


def partner_default(method: str = "rsa-sha256") -> Shape:
    """What a Java/.NET partner sends untouched: default namespace, inclusive C14N, no
    certificate in KeyInfo, an Id reference, CRLF line endings."""
    return Shape(method, "inc", "", "none", "ak-doc-1", "crlf")


def matrix(key_type: str, *, ec_key_value: bool) -> list[Shape]:
    """The shapes partners' toolkits produce by default or commonly, one factor at a time.

    ``ec_key_value``: whether the signer can write an ECKeyValue (xmlsec1 1.2 cannot).
    """
    base = Shape(method="rsa-sha256" if key_type == "rsa" else "ecdsa-sha256")
    shapes = [replace(base, c14n=c, prefix=p) for c in C14N for p in ("ds", "")]
    if key_type == "rsa":
        shapes.append(replace(base, method="rsa-sha512"))
    key_infos = ["none"] + (
        ["keyvalue", "cert+keyvalue"] if key_type == "rsa" or ec_key_value else []
    )
    shapes += [replace(base, key_info=k) for k in key_infos]
    shapes += [
        replace(base, root_id="ak-doc-1"),
        replace(base, layout="pretty"),
        replace(base, layout="crlf"),
        replace(base, wrap=0),
        replace(base, wrap=64),
        replace(base, wrap=76),
        partner_default(base.method),
    ]
    return shapes


# --------------------------------------------------------------------------- layout


def pretty(document: bytes) -> bytes:
    """Re-indent a document (whitespace becomes signed content, as in a partner's file)."""
    parser = etree.XMLParser(remove_blank_text=True)
    root = etree.fromstring(document, parser)
    return etree.tostring(root, pretty_print=True, xml_declaration=True, encoding="UTF-8")


def crlf(document: bytes) -> bytes:
    """CRLF line endings, as a Windows toolchain writes them (parsers normalise them back)."""
    return document.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def rewrap(document: bytes, columns: int) -> bytes:
    """Re-wrap the base64 outside SignedInfo (SignatureValue, certificate, key values)."""
    root = etree.fromstring(document)
    for node in root.iter(
        f"{{{DS}}}SignatureValue",
        f"{{{DS}}}X509Certificate",
        f"{{{DS}}}Modulus",
        f"{{{DS}}}Exponent",
    ):
        flat = "".join((node.text or "").split())
        lines = [flat[i : i + columns] for i in range(0, len(flat), columns)] if columns else [flat]
        node.text = "\n" + "\n".join(lines) + "\n" if columns else flat
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def with_root_id(document: bytes, root_id: str | None) -> bytes:
    if root_id is None:
        return document
    root = etree.fromstring(document)
    root.set("Id", root_id)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


# --------------------------------------------------------------------------- xmlsec1


def xmlsec1_template(shape: Shape, *, transforms: str | None = None) -> str:
    """An unsigned Signature for ``xmlsec1 --sign`` to fill in."""
    p = "ds:" if shape.prefix else ""
    ns = f'xmlns:ds="{DS}"' if shape.prefix else f'xmlns="{DS}"'
    c14n = C14N[shape.c14n]
    method = shape.method if shape.method.startswith("http") else _method_uri(shape.method)
    if transforms is None:
        transforms = f'<{p}Transform Algorithm="{ENVELOPED}"/><{p}Transform Algorithm="{c14n}"/>'
    x509 = f"<{p}X509Data><{p}X509Certificate/></{p}X509Data>"
    key_info = {
        "cert": x509,
        "cert+keyvalue": f"{x509}<{p}KeyValue/>",
        "keyvalue": f"<{p}KeyValue/>",
        "none": "",
    }[shape.key_info]
    uri = f"#{shape.root_id}" if shape.root_id else ""
    return (
        f"<{p}Signature {ns}><{p}SignedInfo>"
        f'<{p}CanonicalizationMethod Algorithm="{c14n}"/>'
        f'<{p}SignatureMethod Algorithm="{method}"/>'
        f'<{p}Reference URI="{uri}"><{p}Transforms>{transforms}</{p}Transforms>'
        f'<{p}DigestMethod Algorithm="{DIGEST[shape.digest]}"/><{p}DigestValue/>'
        f"</{p}Reference></{p}SignedInfo><{p}SignatureValue/>"
        + (f"<{p}KeyInfo>{key_info}</{p}KeyInfo>" if key_info else "")
        + f"</{p}Signature>"
    )


def _method_uri(method: str) -> str:
    if method in ("rsa-sha1", "hmac-sha1"):
        return DS + method
    return MORE + method


def xmlsec1_sign(
    document: bytes,
    shape: Shape,
    entry: PkiEntry | None,
    workdir: Path,
    *,
    template: str | None = None,
    hmac_key: bytes | None = None,
) -> bytes:
    """Sign ``document`` with the xmlsec1 command line; layout and wrap applied as a partner's."""
    root = etree.fromstring(with_root_id(document, shape.root_id))
    root.append(etree.fromstring(template or xmlsec1_template(shape)))
    unsigned = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    if shape.layout == "pretty":
        unsigned = pretty(unsigned)
    workdir.mkdir(parents=True, exist_ok=True)
    source, target = workdir / "unsigned.xml", workdir / "signed.xml"
    source.write_bytes(unsigned)
    command = [shutil.which("xmlsec1") or "xmlsec1", "--sign", "--output", str(target)]
    if hmac_key is not None:
        (workdir / "hmac.key").write_bytes(hmac_key)
        command += ["--hmackey", str(workdir / "hmac.key")]
    else:
        assert entry is not None
        command += ["--privkey-pem", f"{entry.key_file},{entry.cert_file}"]
    if shape.root_id:
        namespace = root.tag[1:].split("}")[0]
        command += ["--id-attr:Id", f"{namespace}:{etree.QName(root).localname}"]
    done = subprocess.run([*command, str(source)], capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-2000:]
    return _finish(target.read_bytes(), shape)


def _finish(signed: bytes, shape: Shape) -> bytes:
    if shape.wrap is not None:
        signed = rewrap(signed, shape.wrap)
    if shape.layout == "crlf":
        signed = crlf(signed)
    return signed


# --------------------------------------------------------------------------- JDK


class JdkSigner:
    """tests/toolkits/JdkXmlSigner.java, compiled once; signs a batch per JVM start."""

    def __init__(self, build_dir: Path) -> None:
        self.build_dir = build_dir
        source = TOOLKITS_DIR / "JdkXmlSigner.java"
        javac = shutil.which("javac") or "javac"
        done = subprocess.run(
            [javac, "-d", str(build_dir), str(source)], capture_output=True, timeout=300
        )
        assert done.returncode == 0, done.stderr.decode(errors="replace")

    def sign_batch(self, jobs: list[tuple[bytes, Shape, PkiEntry]], workdir: Path) -> list[bytes]:
        """Sign every job; one JVM for the JDK's default wrapping, one for unwrapped base64."""
        workdir.mkdir(parents=True, exist_ok=True)
        lines: dict[bool, list[str]] = {False: [], True: []}
        outputs: list[Path] = []
        for index, (document, shape, entry) in enumerate(jobs):
            source, target = workdir / f"in-{index}.xml", workdir / f"out-{index}.xml"
            source.write_bytes(pretty(document) if shape.layout == "pretty" else document)
            method = _method_uri(shape.method)
            fields = [source, target, entry.key_file, entry.cert_file, method, C14N[shape.c14n]]
            fields += [shape.prefix or "-", shape.key_info, shape.root_id or "-"]
            lines[shape.wrap == 0].append("\t".join(str(f) for f in fields))
            outputs.append(target)
        java = shutil.which("java") or "java"
        for unwrapped, batch in lines.items():
            if not batch:
                continue
            jobs_file = workdir / f"jobs-{int(unwrapped)}.tsv"
            jobs_file.write_text("\n".join(batch) + "\n", encoding="utf-8")
            flags = ["-Dcom.sun.org.apache.xml.internal.security.ignoreLineBreaks=true"]
            command = [java, *(flags if unwrapped else []), "-cp", str(self.build_dir)]
            done = subprocess.run(
                [*command, "JdkXmlSigner", str(jobs_file)], capture_output=True, timeout=300
            )
            assert done.returncode == 0, done.stderr.decode(errors="replace")[-2000:]
        return [
            _finish(
                out.read_bytes(), replace(shape, wrap=None if shape.wrap in (0, 76) else shape.wrap)
            )
            for out, (_, shape, _) in zip(outputs, jobs, strict=True)
        ]


def base64_line_lengths(signed: bytes) -> set[int]:
    """Lengths of the SignatureValue's base64 lines, to prove a wrap shape is what it says."""
    match = re.search(rb"SignatureValue[^>]*>([^<]*)<", signed)
    assert match is not None
    text = match.group(1).replace(b"&#13;", b"").replace(b"\r", b"")
    return {len(line) for line in text.split(b"\n") if line.strip()}
