"""The ``sioadapter`` command: its click group and its entry point.

``main()`` is the console script (``[project.scripts]``) and what ``python -m sioadapter``
runs. Contract: usage and configuration errors (a bad option, a bad or unreachable URL) print
one line on stderr and exit with status 2; a command that ran and failed exits 1; Ctrl-C
exits 130 after the command has cleaned up. No traceback reaches the user unless
``--debug`` is given.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

import click

from .. import __version__
from .._redact import redact_text
from ._common import USAGE_ERROR, CliError, Interrupted, one_line
from .demo import demo
from .emit import emit
from .monitor import monitor
from .status import plugins, status

INTERRUPTED = Interrupted.exit_code


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="sioadapter")
@click.option("--debug", is_flag=True, help="Show tracebacks and the library's debug logs.")
def cli(debug: bool) -> None:
    """sioadapter: many python-socketio servers, one Socket.IO cluster.

    Run `sioadapter demo` for a local cluster of real servers and clients (no Redis needed),
    or point the other commands at your cluster's Redis URL (any form sioadapter accepts:
    redis://, rediss://, unix://, redis+sentinel://, redis+cluster://, valkey...).
    """
    # The library logs backend errors it recovers from; a command reports what failed itself,
    # so by default only --debug shows those logs.
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.CRITICAL,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )


cli.add_command(demo)
cli.add_command(monitor)
cli.add_command(emit)
cli.add_command(status)
cli.add_command(plugins)


def main(argv: Sequence[str] | None = None) -> None:
    """Run the command line and exit with its status (see the module docstring)."""
    args = list(sys.argv[1:] if argv is None else argv)
    # Known before click parses anything, so that --debug also shows a parse-time traceback.
    debug = "--debug" in (args[: args.index("--")] if "--" in args else args)
    try:
        result = cli.main(args=args, prog_name="sioadapter", standalone_mode=False)
        code = result if isinstance(result, int) else 0
    except click.exceptions.NoArgsIsHelpError as error:
        # `sioadapter` alone: the help text, as `--help` would print it.
        click.echo(error.ctx.get_help() if error.ctx else "", err=True)
        code = USAGE_ERROR
    except click.ClickException as error:
        if debug and not isinstance(error, click.UsageError):
            raise
        click.echo(error_line(error), err=True)
        code = error.exit_code
    except (click.Abort, KeyboardInterrupt):
        click.echo("sioadapter: interrupted", err=True)
        code = INTERRUPTED
    sys.exit(code)


def error_line(error: click.ClickException) -> str:
    """``<command path>: error: <message>``, plus where to find help for usage errors."""
    # A usage error may quote an argument (an extra URL, say): URLs in it are redacted too.
    message = one_line(redact_text(error.format_message()))
    if isinstance(error, click.UsageError):
        where = error.ctx.command_path if error.ctx else "sioadapter"
        return f"{where}: error: {message} (see '{where} --help')"
    where = error.command_path if isinstance(error, CliError) else "sioadapter"
    if isinstance(error, Interrupted):
        return f"{where}: interrupted"
    return f"{where}: error: {message}"


if __name__ == "__main__":
    main()
