"""Pieces of the Docker-free local runner (issue: ``medtx run --local``)."""
