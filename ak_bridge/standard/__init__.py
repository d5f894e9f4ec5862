"""The agreed e-Form AK standard and the partners' contracts, shipped as package data.

``akstd/`` holds the e-Form AK XSDs (certificate and lifecycle messages), ``kcs/`` the KCS
UNI-PASS e-CO contract and ``ams/`` the bridge's own SOAP contract for AMS systems. They are
read from here, never fetched, so a wheel installed anywhere validates and translates.
"""

from __future__ import annotations

from pathlib import Path

WSDL_DIR = Path(__file__).resolve().parent
"""Where the shipped XSDs and WSDLs live; paths in the code are relative to it."""
