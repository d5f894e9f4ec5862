"""Simulators and test fixtures (test PKI, fake partners); never used in production paths."""
