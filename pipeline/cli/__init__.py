"""``medtx``: the command line of the project, one module per group of commands.

``common`` (the app, shared options, how a command fails), ``executions`` (definition, upsert, start,
status, logs, run), ``settings`` (config: every setting and its default), ``serving`` (deploy,
invoke, endpoint), ``predict`` (a CSV through the endpoint or a Batch Transform job), ``dashboards``
(dashboard, quicksight), ``models`` (the registry), ``schedule``.
"""

from __future__ import annotations

import importlib
import sys

from pipeline.cli.common import app, console

#: The modules whose commands register on ``app``, in the order ``medtx --help`` lists them.
COMMANDS = ("executions", "settings", "serving", "predict", "dashboards", "models", "schedule")
for _module in COMMANDS:
    importlib.import_module(f"pipeline.cli.{_module}")

__all__ = ["app", "main"]


def main() -> None:
    """The ``medtx`` entry point. What AWS answers about the caller's setup (no region or credentials, a
    refused call such as AccessDenied or a pipeline that does not exist, an unreachable endpoint) is one
    line and exit status 2, not a traceback; ``MEDTX_DEBUG=1`` shows the traceback."""
    import os

    try:
        from botocore.exceptions import BotoCoreError, ClientError

        aws_errors: tuple[type[Exception], ...] = (BotoCoreError, ClientError)
    except ImportError:  # without the pipeline extra no command reaches AWS
        aws_errors = ()
    try:
        app()
    except aws_errors as err:
        if os.environ.get("MEDTX_DEBUG"):
            raise
        console.print(f"[red]error:[/red] AWS: {err} (MEDTX_DEBUG=1 shows the traceback)", highlight=False)
        sys.exit(2)
