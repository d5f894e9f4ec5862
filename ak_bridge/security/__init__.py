"""Trust at the edge: the one hardened parse of untrusted XML, and XML signatures."""
