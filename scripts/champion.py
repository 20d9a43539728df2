"""RecordChampion: keep the archive of the model the endpoint now serves where the Evaluate step of
later executions reads it (``PipelineConfig.champion_uri``), with a record of which package it is.

Runs as the pipeline's RecordChampion ProcessingStep after its Endpoint step (``DeployModel=true``);
``medtx deploy`` records the same two files when it deploys a package.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from medtx_common import LOG, resolve_file, run_cli, setup_logging
from medtx_config import CHAMPION_ARCHIVE, CHAMPION_RECORD, champion_record


def record(args: argparse.Namespace) -> dict[str, Any]:
    archive = resolve_file(args.model, CHAMPION_ARCHIVE)
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(archive, out / CHAMPION_ARCHIVE)
    written = champion_record(
        args.model_package_arn or None, args.model_data, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    )
    (out / CHAMPION_RECORD).write_text(json.dumps(written, indent=2) + "\n")
    LOG.info("champion: %s (%s)", written["model_package"] or "no package", args.model_data)
    return written


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="/opt/ml/processing/model", help="model.tar.gz or its folder")
    parser.add_argument("--model-data", required=True, help="the archive's S3 URI, for the record")
    parser.add_argument("--model-package-arn", default="", help="the package it was registered as")
    parser.add_argument("--output-dir", default="/opt/ml/processing/champion")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    setup_logging()
    return record(parse_args(argv))


if __name__ == "__main__":
    run_cli(main)
