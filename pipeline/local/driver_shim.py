"""Run the SageMaker SDK's own training driver (the ``sm_drivers`` channel) outside a container.

The driver hard-codes container paths in module constants; this shim loads it from the job's copy of
the channel, points those constants at the job's sandbox, and runs it unchanged. Run as a file (not
``-m``) by ``pipeline.local.jobs``, in the job's environment:

    python driver_shim.py environment DRIVERS CONFIG_DIR SOURCE_JSON DISTRIBUTED_JSON ENV_FILE
    python driver_shim.py run DRIVERS DRIVER_SCRIPT FAILURE_FILE
"""

from __future__ import annotations

import importlib.util
import json
import runpy
import sys
from collections.abc import Callable
from pathlib import Path


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None, name
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def environment(
    drivers: str, config_dir: str, source_json: str, distributed_json: str, env_file: str
) -> None:
    """``scripts/environment.py``'s ``set_env`` on this job's config files, written to ``env_file``."""
    sys.path.insert(0, drivers)
    module = _load("sm_driver_environment", Path(drivers) / "scripts" / "environment.py")
    module.read_source_code_json = lambda: json.loads(Path(source_json).read_text())
    module.read_distributed_json = lambda: json.loads(Path(distributed_json).read_text())
    config = Path(config_dir)
    module.set_env(
        resource_config=json.loads((config / "resourceconfig.json").read_text()),
        input_data_config=json.loads((config / "inputdataconfig.json").read_text()),
        hyperparameters_config=json.loads((config / "hyperparameters.json").read_text()),
        output_file=env_file,
    )


def run(drivers: str, driver_script: str, failure_file: str) -> None:
    """The distributed driver (``torchrun_driver.py`` ...) as ``__main__``, failure file redirected."""
    sys.path.insert(0, drivers)
    import common.utils as utils  # the driver's own helpers, from the channel

    utils.FAILURE_FILE = failure_file
    sys.argv = [driver_script]
    runpy.run_path(driver_script, run_name="__main__")


if __name__ == "__main__":
    command, *arguments = sys.argv[1:]
    commands: dict[str, Callable[..., None]] = {"environment": environment, "run": run}
    commands[command](*arguments)
