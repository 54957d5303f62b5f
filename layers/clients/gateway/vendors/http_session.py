"""The one outbound HTTP session: pooled keep-alive connections, connect/read timeouts from
settings, and the translation of transport failures and vendor statuses into gateway errors."""

from __future__ import annotations

import time
from collections.abc import Mapping
from http.cookiejar import DefaultCookiePolicy
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict

from gateway import USER_AGENT
from gateway.core.errors import (
    UpstreamAuth,
    UpstreamRejected,
    UpstreamThrottled,
    UpstreamUnavailable,
    is_retryable_status,
)
from gateway.core.observability import metrics, traced_vendor_call
from gateway.core.settings import Settings


class VendorSession:
    """The context's one outbound session, so warm invocations reuse TCP/TLS connections."""

    def __init__(self, settings: Settings) -> None:
        self._timeout = (
            settings.upstream_connect_timeout_seconds,
            settings.upstream_timeout_seconds,
        )
        s = requests.Session()
        # No urllib3 retries: retry policy is the gateway's (in-line for reads, SQS for writes).
        adapter = HTTPAdapter(pool_connections=8, pool_maxsize=32, max_retries=0)
        s.mount("https://", adapter)
        s.mount("http://", adapter)
        s.headers["User-Agent"] = USER_AGENT
        # requests reads proxies and CA bundle from os.environ on every request, walking all of
        # it (~0.2 ms a call with Lambda's ~40 variables): read once per origin instead.
        s.trust_env = False
        # The session serves every caller: a cookie a vendor set must not ride on the next call.
        s.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
        self._session = s
        # requests' reading of the environment (HTTP(S)_PROXY, NO_PROXY, REQUESTS_CA_BUNDLE).
        self._environment: dict[str, dict[str, Any]] = {}

    def _environment_settings(self, url: str) -> dict[str, Any]:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        if origin not in self._environment:
            reader = requests.Session()  # trust_env: requests' own rules (NO_PROXY included)
            self._environment[origin] = dict(
                reader.merge_environment_settings(origin, {}, None, None, None)
            )
            reader.close()
        return self._environment[origin]

    def close(self) -> None:
        self._session.close()

    def send(
        self,
        method: str,
        url: str,
        *,
        vendor: str,
        headers: Mapping[str, str] | None = None,
        data: bytes | dict[str, str] | None = None,
        timeout: float | tuple[float, float] | None = None,
    ) -> requests.Response:
        """One vendor call. Transport failures become `UpstreamUnavailable`; statuses are
        untouched."""
        started = time.perf_counter()
        try:
            return traced_vendor_call(
                method,
                url,
                lambda trace_headers: self._send(
                    method, url, headers or {}, trace_headers, data, timeout
                ),
            )
        except requests.Timeout as exc:
            raise UpstreamUnavailable(f"{vendor} did not answer in time", vendor=vendor) from exc
        except requests.ConnectionError as exc:
            raise UpstreamUnavailable(f"could not connect to {vendor}", vendor=vendor) from exc
        finally:
            metrics.add_metric(
                name="UpstreamLatency",
                unit="Milliseconds",
                value=(time.perf_counter() - started) * 1000,
            )

    def _send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        trace_headers: Mapping[str, str],
        data: bytes | dict[str, str] | None,
        timeout: float | tuple[float, float] | None,
    ) -> requests.Response:
        # requests' prepared-request path: the session's pool and answer handling without its
        # per-call merging of cookies (none kept), auth (none), settings and headers, about a
        # third of a call's CPU. The headers merge as the session's would: requests' defaults
        # and our User-Agent, then the caller's (case-insensitive), then the trace header.
        merged = CaseInsensitiveDict(self._session.headers)
        merged.update(headers)
        merged.update(trace_headers)
        prepared = requests.Request(method, url, headers=merged, data=data).prepare()
        return self._session.send(
            prepared, timeout=timeout or self._timeout, **self._environment_settings(url)
        )


def raise_for_vendor_status(
    response: requests.Response, *, vendor: str, detail: str | None = None, **error_kwargs: Any
) -> None:
    """Map a non-2xx vendor answer onto the error hierarchy (docs/delivery.md, outcomes)."""
    status = response.status_code
    if status < 300:
        return
    message = detail or f"{vendor} answered HTTP {status}"
    if status in (401, 403):
        raise UpstreamAuth(message, vendor=vendor, upstream_status=status, **error_kwargs)
    if status == 429:
        raise UpstreamThrottled(
            message,
            vendor=vendor,
            upstream_status=status,
            retry_after=response.headers.get("Retry-After", "1"),
            **error_kwargs,
        )
    if is_retryable_status(status):
        raise UpstreamUnavailable(
            message,
            vendor=vendor,
            upstream_status=status,
            retry_after=response.headers.get("Retry-After"),
            **error_kwargs,
        )
    raise UpstreamRejected(message, vendor=vendor, upstream_status=status, **error_kwargs)
