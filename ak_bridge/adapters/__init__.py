"""The edges: stores, the web (SOAP, REST, health), outbound senders, the scheduler."""
