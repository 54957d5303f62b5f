"""Loopback sandboxes that speak the vendors' documents, with a control endpoint for faults."""
