"""What every ``sioadapter`` subcommand shares: error reporting, running a coroutine, output.

Contract: a command reports a failure the user can act on by raising :class:`CliError` (a bad
URL, an unreachable server: exit status 2) or :class:`CliFailure` (an operation that ran and
failed, such as a cluster request that timed out: exit status 1); :func:`run` turns the
library's and the Redis client's exceptions into one of them. ``sioadapter.cli.main.main``
prints them as one line on stderr. Anything else is a bug and keeps its traceback.

No secret reaches that line: every URL in a message shows ``***`` for its password and secret
options, and :func:`run` and :func:`as_cli_error`, given the command's URL, also replace that
URL's secrets wherever a message quotes them (a client library's error, say).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Coroutine
from typing import Any, TypeVar

import click
from redis.exceptions import RedisClusterException, RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rich.console import Console

from .._redact import redact_text, redact_url, scrub
from ..errors import RequestTimeoutError, SioAdapterError
from ..plugins import UnknownPluginError

T = TypeVar("T")

USAGE_ERROR = 2
"""Exit status for usage and configuration errors (click uses 2 for its own)."""

FAILED = 1
"""Exit status for an operation that ran and failed (lost messages, a request timeout)."""

# Errors a user causes or meets (bad URL, server down, ACL refusal), as opposed to bugs.
EXPECTED_ERRORS: tuple[type[BaseException], ...] = (
    SioAdapterError,
    UnknownPluginError,
    RedisError,
    RedisClusterException,  # not a RedisError: a Cluster URL at a plain server, say
    ValueError,
    OSError,
    asyncio.TimeoutError,
)


class CliError(click.ClickException):
    """A usage or configuration error, reported as one line on stderr; exit status 2.

    URLs in ``message`` are redacted (``***`` for passwords and secret options)."""

    exit_code = USAGE_ERROR

    def __init__(self, message: str) -> None:
        super().__init__(one_line(redact_text(message)))
        # Raised while a command runs: name it in the error line ("sioadapter status: ...").
        context = click.get_current_context(silent=True)
        self.command_path = context.command_path if context is not None else "sioadapter"


class CliFailure(CliError):
    """An operation that ran and failed (a node that stopped answering, a request timeout),
    reported as one line on stderr; exit status 1."""

    exit_code = FAILED


class Interrupted(CliError):
    """Ctrl-C, once the command has cleaned up; exit status 130 (128 + SIGINT)."""

    exit_code = 130

    def __init__(self) -> None:
        super().__init__("interrupted")


def one_line(text: str) -> str:
    """``text`` with its line breaks folded, so that an error stays one line."""
    return " ".join(text.split())


def describe(error: BaseException, url: str | None = None) -> str:
    """A one-line description of ``error``; its class name when it has no message.

    A timeout says what timed out: a bare one (``asyncio.wait_for``) or the Redis client's
    (``Timeout reading from socket``) names the server at ``url``, the command's URL."""
    text = one_line(str(error))
    waited = isinstance(error, (asyncio.TimeoutError, RedisTimeoutError))
    # A RequestTimeoutError is a TimeoutError too, and its message says what timed out.
    if waited and not isinstance(error, RequestTimeoutError):
        server = f"the server at {redact_url(url)}" if url else "the server"
        return f"no answer from {server} in time" + (f" ({text})" if text else "")
    return text or type(error).__name__


def as_cli_error(error: BaseException, url: str | None = None) -> CliError:
    """The :class:`CliError` for an expected library or client error; the secrets of ``url``
    (the command's URL) are replaced by ``***`` wherever the message quotes them."""
    if isinstance(error, CliError):
        safe = scrub(error.message, url)
        if safe == error.message:
            return error
        clean = (CliFailure if isinstance(error, CliFailure) else CliError)(safe)
        clean.command_path = error.command_path
        return clean
    if isinstance(error, RequestTimeoutError):
        return CliFailure(f"the cluster did not answer in time: {scrub(describe(error), url)}")
    return CliError(scrub(describe(error, url), url))


def run(coroutine: Coroutine[Any, Any, T], url: str | None = None) -> T:
    """Run ``coroutine`` in a new event loop; expected errors become :class:`CliError`
    (:func:`as_cli_error`, with ``url``, the command's URL, for scrubbing its secrets)."""
    try:
        return asyncio.run(coroutine)
    except KeyboardInterrupt:
        # asyncio.run cancelled the command, whose finally blocks have run; reported here
        # rather than by click, which would print a blank line first.
        raise Interrupted() from None
    except EXPECTED_ERRORS as error:
        raise as_cli_error(error, url) from error


PIPE_WIDTH = 160
"""Line width when the output is not a terminal and COLUMNS is not set (rich's default, 80,
would cut class paths and URLs in tables)."""


def console(stderr: bool = False) -> Console:
    """A rich console; plain text (no colors, no live display) when not on a terminal."""
    out = Console(stderr=stderr, highlight=False, soft_wrap=True)
    if not out.is_terminal and "COLUMNS" not in os.environ:
        out = Console(stderr=stderr, highlight=False, soft_wrap=True, width=PIPE_WIDTH)
    return out
