"""With tracing on, X-Ray shows each vendor call (the layer's requests session: method, URL,
status, or the fault of a call that failed) and each AWS call (botocore) once, under the
handler's own subsegment, and the vendor call passes the trace on.
The layer's Tracer runs in a fresh interpreter made to look like Lambda's (trace header, daemon
address) and the X-Ray SDK's UDP datagrams are read from a loopback socket standing in for the
daemon; the vendor and the AWS endpoint are loopback servers. What Tracer patches is
process-wide, hence the subprocess."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

from devserver.template import PYTHONPATH, ROOT

CALLS = """
import http.server, socket, sys, threading
import boto3
from gateway.core.errors import UpstreamUnavailable
from gateway.core.observability import tracer
from gateway.core.settings import Settings
from gateway.vendors.http_session import VendorSession

class Answer(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # the vendor: tells the trace header it was sent on stderr
        print("vendor saw trace header:", self.headers.get("X-Amzn-Trace-Id"), file=sys.stderr)
        self.send_response(204)
        self.end_headers()
    def do_POST(self):  # an SQS ListQueues answer, JSON protocol
        self.rfile.read(int(self.headers["content-length"]))
        self.send_response(200)
        self.send_header("content-type", "application/x-amz-json-1.0")
        self.send_header("content-length", "2")
        self.end_headers()
        self.wfile.write(b"{}")
    def log_message(self, *args):
        pass

server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Answer)
threading.Thread(target=server.serve_forever, daemon=True).start()
url = f"http://127.0.0.1:{server.server_port}"
closed = socket.socket()  # bound, never listening: a connection to it is refused
closed.bind(("127.0.0.1", 0))

@tracer.capture_method
def handler_work():
    VendorSession(Settings()).send("GET", url + "/vendor", vendor="probe")  # the layer's session
    boto3.client("sqs", endpoint_url=url, region_name="us-east-1").list_queues()
    try:  # a vendor that cannot be reached: a subsegment with the fault
        VendorSession(Settings()).send(
            "GET", f"http://localhost:{closed.getsockname()[1]}/down", vendor="probe"
        )
    except UpstreamUnavailable:
        pass

handler_work()
"""


def _documents(daemon: socket.socket) -> Iterator[dict[str, Any]]:
    while True:
        try:
            datagram = daemon.recv(65535)
        except TimeoutError:
            return
        _, _, body = datagram.decode().partition("\n")  # a JSON header line, then the document
        yield json.loads(body)


def _flatten(document: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield document
    for child in document.get("subsegments", []):
        yield from _flatten(child)


def test_each_vendor_and_aws_call_is_one_subsegment() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as daemon:
        daemon.bind(("127.0.0.1", 0))
        daemon.settimeout(2)
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("POWERTOOLS_TRACE_DISABLED", "AWS_XRAY_SDK_ENABLED")
        }
        env.update(
            PYTHONPATH=PYTHONPATH,
            LAMBDA_TASK_ROOT=str(ROOT),  # the X-Ray SDK's sign that it runs in Lambda
            AWS_LAMBDA_FUNCTION_NAME="TracingProbe",
            _X_AMZN_TRACE_ID="Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
            AWS_XRAY_DAEMON_ADDRESS=f"127.0.0.1:{daemon.getsockname()[1]}",
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            POWERTOOLS_SERVICE_NAME="tracing-probe",
        )
        env.pop("AWS_ENDPOINT_URL", None)
        run = subprocess.run(
            [sys.executable, "-c", CALLS],
            env=env,
            cwd=ROOT,
            check=True,
            timeout=60,
            capture_output=True,
            text=True,
        )
        segments = [s for d in _documents(daemon) for s in _flatten(d)]

    remote = [s for s in segments if s.get("namespace") == "remote"]
    aws = [s for s in segments if s.get("namespace") == "aws"]
    assert [s["name"] for s in remote] == ["127.0.0.1", "localhost"]
    assert remote[0]["http"]["request"]["url"].endswith("/vendor")
    assert remote[0]["http"]["request"]["method"] == "GET"
    assert remote[0]["http"]["response"]["status"] == 204
    assert [(s["name"], s["aws"]["operation"]) for s in aws] == [("sqs", "ListQueues")]
    [work] = [s for s in segments if s.get("name", "").endswith(".handler_work")]
    assert {remote[0]["parent_id"], remote[1]["parent_id"], aws[0]["parent_id"]} == {work["id"]}
    assert remote[1]["fault"] is True
    assert remote[1]["cause"]["exceptions"][0]["type"] == "ConnectionError"
    # The vendor call carries the trace on to the vendor: its own subsegment as the parent.
    trace = f"Root=1-5759e988-bd862e3fe1be46a994272793;Parent={remote[0]['id']};Sampled=1"
    assert f"vendor saw trace header: {trace}" in run.stderr.splitlines()
