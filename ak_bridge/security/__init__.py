"""Trust at the edge: the one hardened parse of untrusted XML, XML signatures, and the one
builder of keys and X.509 certificates (x509_build)."""
