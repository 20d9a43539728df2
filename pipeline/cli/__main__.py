"""``python -m pipeline.cli``: the ``medtx`` command."""

from pipeline.cli import main

main()
