"""Operator tools for a running gateway (`python -m gateway_ops`, docs/operate.md): look into the
dead-letter queue, export it, move its messages back to RetryQueue, and watch RetryQueue, against
the local runtime or a deployed stack."""
