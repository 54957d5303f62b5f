"""The Event Handler app every HTTP function builds: routes are the handler's, the mapping of
every error to problem details is here."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response

from gateway.core.errors import GatewayError
from gateway.core.observability import logger
from gateway.http import problems


def create_app() -> APIGatewayHttpResolver:
    app = APIGatewayHttpResolver()

    @app.exception_handler(GatewayError)
    def _gateway_error(error: GatewayError) -> Response[str]:
        log = logger.error if error.status >= 500 else logger.info
        log("request failed", extra={"code": error.code, "status": error.status})
        return problems.from_error(error)

    @app.exception_handler(Exception)
    def _unexpected(error: Exception) -> Response[str]:
        # The trace goes to the log only; the caller gets a problem, never a stack trace.
        logger.exception("unhandled error")
        return problems.problem(
            500,
            "INTERNAL_ERROR",
            "Internal error",
            "the gateway failed unexpectedly; the error was logged",
        )

    @app.not_found
    def _not_found(_: Exception) -> Response[str]:
        event = app.current_event
        return problems.problem(
            404,
            "ROUTE_NOT_FOUND",
            "Not found",
            f"no route for {event.request_context.http.method} {event.path}",
        )

    return app
