"""The use cases (accept, deliver, status) and the ports the adapters satisfy."""
