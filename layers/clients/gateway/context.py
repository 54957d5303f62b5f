"""The one object that holds a function's process state: settings, the boto3 session and the
clients made from it, the secrets store, the vendor HTTP session, the RichRelevance tokens, the
experience cache, and the Lambda context of the invocation in progress.

A handler module builds one at init (Lambda's execution environment keeps it warm) and passes it
to every layer call; a test builds a fresh one instead of resetting caches. Each part is made on
first use, so a cold start pays only for the parts its own path touches."""

from __future__ import annotations

import threading
from functools import cached_property
from typing import TYPE_CHECKING, Any

from gateway import USER_AGENT
from gateway.core.settings import Settings

if TYPE_CHECKING:
    import boto3
    from botocore.config import Config

    from gateway.aws.delivery_state import DeliveryState
    from gateway.aws.experience_cache import ExperienceCache
    from gateway.aws.idempotency import IdempotencyStores
    from gateway.aws.retry_queue import RetryQueue
    from gateway.aws.secrets import SecretStore
    from gateway.vendors.http_session import VendorSession
    from gateway.vendors.richrelevance.oauth import TokenProvider


class Context:
    def __init__(self, settings: Settings | None = None) -> None:
        if settings is not None:
            self.__dict__["settings"] = settings
        # The invocation in progress (its deadline bounds idempotency records and Rokt's retry).
        self.lambda_context: Any = None
        # A boto3 session is not thread-safe and the retry function replays items in threads:
        # clients are created one at a time (each part below once: cached_property locks).
        self._lock = threading.RLock()
        self._clients: dict[tuple[str, str], Any] = {}
        self._done: set[str] = set()

    def first_time(self, what: str) -> bool:
        """True once per execution environment for `what` (a warning logged once, say)."""
        with self._lock:
            if what in self._done:
                return False
            self._done.add(what)
            return True

    @cached_property
    def settings(self) -> Settings:
        """Read from the environment on first use (a function's first invocation)."""
        return Settings()

    def bind(self, lambda_context: Any) -> Any:
        """Take the invocation's Lambda context (a handler's first step); returns it."""
        self.lambda_context = lambda_context
        return lambda_context

    @cached_property
    def boto3_session(self) -> boto3.Session:
        import boto3

        # One session for every client, Powertools' too: a client after the first reuses the
        # endpoint and partition data the session already loaded (~50 ms of a cold start).
        return boto3.Session()

    def client(self, service: str, *, name: str, config: Config) -> Any:
        """The `service` client configured as `name` (one per purpose: their timeouts differ).
        Its User-Agent is set once: left to botocore, it is rebuilt on every call (~90 µs of
        CPU, a quarter of a DynamoDB call's; benchmarks/REPORT.md)."""
        with self._lock:
            key = (service, name)
            if key not in self._clients:
                import boto3
                from botocore.config import Config as Fixed

                config = config.merge(Fixed(user_agent=f"{USER_AGENT} Boto3/{boto3.__version__}"))
                self._clients[key] = self.boto3_session.client(service, config=config)  # type: ignore[call-overload]
            return self._clients[key]

    @cached_property
    def secrets(self) -> SecretStore:
        from gateway.aws.secrets import SecretStore

        return SecretStore(self)

    @cached_property
    def http(self) -> VendorSession:
        from gateway.vendors.http_session import VendorSession

        return VendorSession(self.settings)

    @cached_property
    def retry_queue(self) -> RetryQueue:
        from gateway.aws.retry_queue import RetryQueue

        return RetryQueue(self)

    @cached_property
    def idempotency(self) -> IdempotencyStores:
        from gateway.aws.idempotency import IdempotencyStores

        return IdempotencyStores(self)

    @cached_property
    def delivery_state(self) -> DeliveryState:
        from gateway.aws.delivery_state import DeliveryState

        return DeliveryState(self)

    @cached_property
    def experience_cache(self) -> ExperienceCache:
        from gateway.aws.experience_cache import ExperienceCache

        return ExperienceCache(self)

    @cached_property
    def rr_tokens(self) -> TokenProvider:
        from gateway.vendors.richrelevance.oauth import TokenProvider

        return TokenProvider()

    def close(self) -> None:
        """Close what holds sockets (a test's context at its end)."""
        if "http" in self.__dict__:
            self.http.close()
