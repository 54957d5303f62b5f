"""Activation Gateway clients layer: vendor clients, secrets, HTTP session, retry queue, errors."""

# How the gateway names itself to every vendor and to AWS (each call's User-Agent).
USER_AGENT = "activation-gateway/1.0"
