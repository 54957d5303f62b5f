"""Activation Gateway clients layer: vendor clients, secrets, HTTP session, retry queue, errors."""
