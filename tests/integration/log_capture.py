"""Every log line the handlers write, as a function's log would hold it, for tests that assert
what a log never contains.

Powertools' Logger binds its stream handler to whatever `sys.stdout` was when the layer's
logger was created: at collection (this module imports it), pytest's session capture; created
inside a test, that test's capsys stream, closed when the test ends. Neither is reliably what
one test captures, so `captured_logs` adds a handler of its own with the layer's own formatter,
and one on the root logger for the libraries' records."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from contextlib import contextmanager

from gateway.core.observability import logger


@contextmanager
def captured_logs() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    layer = logging.StreamHandler(stream)
    layer.setFormatter(logger.registered_formatter)
    libraries = logging.StreamHandler(stream)
    libraries.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    layer_logger = logging.getLogger(logger.service)  # the standard logger under Powertools'
    layer_logger.addHandler(layer)
    logging.getLogger().addHandler(libraries)
    try:
        yield stream
    finally:
        layer_logger.removeHandler(layer)
        logging.getLogger().removeHandler(libraries)
