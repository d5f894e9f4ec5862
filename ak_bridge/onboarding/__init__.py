"""Bringing a partner in: its conformance run and the drift of its published contract."""
