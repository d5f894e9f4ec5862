"""Operator tools: the pilot report and evidence packs."""
