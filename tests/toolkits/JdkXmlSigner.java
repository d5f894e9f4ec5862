// A partner's signer built on the JDK's own XMLDSig API (javax.xml.crypto), as Java shops
// and KCS use it. The tests compile it with javac at run time; see tests/toolkit_signers.py.
//
// Usage: java JdkXmlSigner <jobs.tsv>
// Each line: in out key.pem cert.pem signatureMethodUri c14nUri prefix keyInfo rootId
//   prefix  "ds" or "-" (default namespace, the API's own default)
//   keyInfo "cert" | "cert+keyvalue" | "keyvalue" | "none"
//   rootId  "-" for Reference URI="", else the root's Id attribute to reference
// Base64 line wrapping follows the JDK default (76 columns) unless the JVM is started with
// -Dcom.sun.org.apache.xml.internal.security.ignoreLineBreaks=true.

import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import javax.xml.crypto.XMLStructure;
import javax.xml.crypto.dsig.CanonicalizationMethod;
import javax.xml.crypto.dsig.DigestMethod;
import javax.xml.crypto.dsig.Reference;
import javax.xml.crypto.dsig.SignedInfo;
import javax.xml.crypto.dsig.Transform;
import javax.xml.crypto.dsig.XMLSignature;
import javax.xml.crypto.dsig.XMLSignatureFactory;
import javax.xml.crypto.dsig.dom.DOMSignContext;
import javax.xml.crypto.dsig.keyinfo.KeyInfo;
import javax.xml.crypto.dsig.keyinfo.KeyInfoFactory;
import javax.xml.crypto.dsig.spec.C14NMethodParameterSpec;
import javax.xml.crypto.dsig.spec.TransformParameterSpec;
import javax.xml.parsers.DocumentBuilderFactory;
import javax.xml.transform.TransformerFactory;
import javax.xml.transform.dom.DOMSource;
import javax.xml.transform.stream.StreamResult;
import org.w3c.dom.Document;
import org.w3c.dom.Element;

public final class JdkXmlSigner {
    public static void main(String[] args) throws Exception {
        for (String line : Files.readAllLines(Path.of(args[0]), StandardCharsets.UTF_8)) {
            if (!line.isBlank()) {
                sign(line.split("\t"));
            }
        }
    }

    private static PrivateKey key(Path pem, String algorithm) throws Exception {
        String body = Files.readString(pem).replaceAll("-----[A-Z ]+-----", "").replaceAll("\\s", "");
        byte[] der = Base64.getDecoder().decode(body);
        return KeyFactory.getInstance(algorithm).generatePrivate(new PKCS8EncodedKeySpec(der));
    }

    private static void sign(String[] job) throws Exception {
        String in = job[0], out = job[1], method = job[4], c14n = job[5];
        String prefix = job[6], keyInfoShape = job[7], rootId = job[8];
        X509Certificate cert;
        try (FileInputStream certIn = new FileInputStream(job[3])) {
            cert = (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(certIn);
        }
        PrivateKey privateKey = key(Path.of(job[2]), method.contains("ecdsa") ? "EC" : "RSA");

        DocumentBuilderFactory dbf = DocumentBuilderFactory.newInstance();
        dbf.setNamespaceAware(true);
        Document doc = dbf.newDocumentBuilder().parse(new FileInputStream(in));
        Element root = doc.getDocumentElement();
        String uri = "";
        if (!rootId.equals("-")) {
            root.setAttributeNS(null, "Id", rootId);
            root.setIdAttributeNS(null, "Id", true);
            uri = "#" + rootId;
        }

        XMLSignatureFactory fac = XMLSignatureFactory.getInstance("DOM");
        List<Transform> transforms = List.of(
            fac.newTransform(Transform.ENVELOPED, (TransformParameterSpec) null),
            fac.newTransform(c14n, (TransformParameterSpec) null));
        String digest = method.endsWith("sha512") ? DigestMethod.SHA512 : DigestMethod.SHA256;
        Reference ref = fac.newReference(uri, fac.newDigestMethod(digest, null), transforms, null, null);
        SignedInfo si = fac.newSignedInfo(
            fac.newCanonicalizationMethod(c14n, (C14NMethodParameterSpec) null),
            fac.newSignatureMethod(method, null),
            List.of(ref));

        KeyInfoFactory kif = fac.getKeyInfoFactory();
        List<XMLStructure> items = new ArrayList<>();
        if (keyInfoShape.startsWith("cert")) {
            items.add(kif.newX509Data(List.of(cert)));
        }
        if (keyInfoShape.endsWith("keyvalue")) {
            items.add(kif.newKeyValue(cert.getPublicKey()));
        }
        KeyInfo keyInfo = items.isEmpty() ? null : kif.newKeyInfo(items);

        DOMSignContext context = new DOMSignContext(privateKey, root);
        if (prefix.equals("ds")) {
            context.setDefaultNamespacePrefix("ds");
        }
        XMLSignature signature = fac.newXMLSignature(si, keyInfo);
        signature.sign(context);

        try (FileOutputStream os = new FileOutputStream(out)) {
            TransformerFactory.newInstance().newTransformer().transform(new DOMSource(doc), new StreamResult(os));
        }
    }
}
