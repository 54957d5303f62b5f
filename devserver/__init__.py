"""The local runtime of Activation Gateway: vendor sandboxes, the HTTP API front, the SQS poller."""
