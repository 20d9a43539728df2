"""What a local run shows: live step progress, then a summary (times, figures, artifacts, next steps)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from pipeline.aws import final_metrics, metrics_note
from pipeline.local.runner import Reporter, executions, output_uri, step_records
from pipeline.local.store import Store
from pipeline.report import print_figures

_MARK = {"Succeeded": "[green]✓[/green]", "Failed": "[red]✗[/red]", "Stopped": "[yellow]■[/yellow]"}


class LiveReporter(Reporter):
    """One spinner line per running step with its elapsed time and the Trainer's latest progress line."""

    def __init__(self, console: Console, verbose: bool = False) -> None:
        self.console, self.verbose = console, verbose
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.description}"),
            TimeElapsedColumn(),
            TextColumn("{task.fields[detail]}", markup=False),  # a job's own line, as it wrote it
            console=console,
            transient=True,
            disable=not console.is_terminal,
        )
        self.tasks: dict[str, Any] = {}

    def __enter__(self) -> LiveReporter:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def execution_started(self, execution: dict[str, Any], resumed: bool) -> None:
        what = f"resuming (attempt {execution['Attempts']})" if resumed else "new"
        named = execution.get("PipelineExecutionDisplayName")
        what += f", {named}" if named else ""  # the commit the definition was built from
        self.console.print(f"Execution [bold]{execution['PipelineExecutionId']}[/bold] ({what})")

    def step_started(self, name: str, kind: str) -> None:
        self.tasks[name] = self.progress.add_task(f"{name} ({kind})", total=None, detail="")
        if not self.console.is_terminal:
            self.console.print(f"  … {name} ({kind})")

    def step_output(self, name: str, line: str) -> None:
        if self.verbose:
            # a job's line as it wrote it: its colour codes kept, square brackets not read as markup
            self.console.print(Text.assemble("  ", (name, "dim"), " ", Text.from_ansi(line)), highlight=False)
        if name in self.tasks and (line.startswith("[progress]") or line.startswith("cache hit")):
            self.progress.update(self.tasks[name], detail=line.removeprefix("[progress] "))

    def step_finished(self, name: str, record: dict[str, Any]) -> None:
        if name in self.tasks:
            self.progress.remove_task(self.tasks.pop(name))
        note = _note(record)
        self.console.print(
            f"  {_MARK.get(record['StepStatus'], '?')} {name:<18} {record.get('Seconds', 0):>7.1f} s  {note}",
            highlight=False,
        )


def _note(record: dict[str, Any]) -> str:
    if record.get("FailureReason"):
        return record["FailureReason"]
    if record.get("CacheHitResult"):
        return f"cache hit (execution {record['CacheHitResult']['SourcePipelineExecutionId']})"
    if "Outcome" in record:
        return f"condition {'met' if record['Outcome'] else 'not met'}"
    made = record.get("Properties", {})
    if record.get("StepType") == "RegisterModel" and "ModelPackageVersion" in made:
        return f"registered {made['ModelPackageGroupName']} version {made['ModelPackageVersion']}"
    for kind, key in (
        ("Model", "ModelName"),
        ("EndpointConfig", "EndpointConfigName"),
        ("Endpoint", "EndpointName"),
    ):
        if record.get("StepType") == kind and key in made:
            return made[key]
    if record.get("StepType") == "Training":  # with its headline metrics, as `aws.with_training_metrics`
        return metrics_note(record.get("JobName", ""), final_metrics(made.get("FinalMetricDataList", [])))
    return record.get("JobName", "")


def _job(record: dict[str, Any]) -> dict[str, str] | None:
    """The job a step ran, as ``aws.step_job`` gives a SageMaker step's."""
    kind = {"Processing": "ProcessingJob", "Training": "TrainingJob"}.get(record.get("StepType", ""))
    return {"kind": kind, "name": record["JobName"]} if kind and record.get("JobName") else None


def execution_state(store: Store, record: dict[str, Any]) -> dict[str, Any]:
    """A local execution in the shape ``medtx status`` gives a SageMaker one (``aws.execution_status``):
    status, parameters and each step's status, failure, cache source and note, in the order they ran."""
    return {
        "arn": record["PipelineExecutionArn"],
        "status": record["Status"],
        "display_name": record.get("PipelineExecutionDisplayName"),
        "failure_reason": record.get("FailureReason"),
        "parameters": {name: str(value) for name, value in record.get("Parameters", {}).items()},
        "steps": [
            {
                "name": step["StepName"],
                "status": step["StepStatus"],
                "failure": step.get("FailureReason"),
                "cached_from": step.get("CacheHitResult", {}).get("SourcePipelineExecutionArn"),
                "note": "" if step.get("FailureReason") else _note(step),
                "job": _job(step),
                "seconds": step.get("Seconds"),
                **(
                    {"metrics": final_metrics(step.get("Properties", {}).get("FinalMetricDataList", []))}
                    if step.get("StepType") == "Training"
                    else {}
                ),
            }
            for step in step_records(store, record)
        ],
    }


def recent_executions(store: Store, last: int) -> list[dict[str, Any]]:
    """The newest ``last`` local executions, newest first, as ``aws.recent_executions`` lists them."""
    return [
        {
            "id": record["PipelineExecutionId"],
            "arn": record["PipelineExecutionArn"],
            "status": record["Status"],
            "started": record["StartTime"],
            "display_name": record.get("PipelineExecutionDisplayName") or "",
            "failure_reason": record.get("FailureReason") or "",
        }
        for record in reversed(executions(store)[-last:])
    ]


def _uri_file(store: Store, uri: str, name: str) -> Path | None:
    path = store.path(f"{uri}/{name}")
    return path if path.exists() else None


def summary(console: Console, store: Store, execution: dict[str, Any]) -> None:
    """Per-step times, the data and model figures, where the artifacts are, and what to run next."""
    steps = execution["Steps"]
    table = Table(title=f"Execution {execution['PipelineExecutionId']}: {execution['Status']}")
    for column in ("step", "type", "status", "seconds", "note"):
        # a job or endpoint name is one long word: fold it rather than cut it to an ellipsis
        table.add_column(
            column,
            justify="right" if column == "seconds" else "left",
            overflow="fold" if column == "note" else "ellipsis",
        )
    for record in step_records(store, execution):
        table.add_row(
            record["StepName"],
            record["StepType"],
            record["StepStatus"],
            f"{record.get('Seconds', 0):.1f}",
            _note(record),
        )
    console.print(table)

    pre = steps.get("Preprocess", {}).get("Properties", {})
    report_uri = output_uri(pre, "report")
    report_file = _uri_file(store, report_uri, "data-report.json") if report_uri else None
    if report_file:
        report = json.loads(report_file.read_text())
        dropped = ", ".join(f"{k} {v}" for k, v in report.get("dropped", {}).items()) or "none"
        console.print(
            f"Data: {report['rows_in']} rows in, {report['rows_out']} out "
            f"({len(report.get('class_counts_kept', {}))} classes); dropped: {dropped}; "
            f"duplicates {report.get('duplicate_rows_dropped', 0)}, "
            f"texts with conflicting labels {report.get('conflicting_texts', 0)}"
        )

    evaluation = steps.get("Evaluate", {}).get("Properties", {})
    eval_uri = output_uri(evaluation, "evaluation")
    eval_file = _uri_file(store, eval_uri, "evaluation.json") if eval_uri else None
    if eval_file:
        print_figures(console, json.loads(eval_file.read_text()))

    lines = [f"Store: {store.root}"]
    if eval_uri and eval_file:
        lines.append(f"  evaluation:        {eval_file}")
        performance = _uri_file(store, eval_uri, "model-performance.csv")
        if performance:
            lines.append(f"  model performance: {performance}")
    model_uri = steps.get("Train", {}).get("Properties", {}).get("ModelArtifacts", {}).get("S3ModelArtifacts")
    if model_uri:
        lines.append(f"  model archive:     {store.path(model_uri)}")
    package = steps.get("RegisterModel", {}).get("Properties")
    if package:
        from pipeline.local import registry
        from pipeline.registry import same_archives

        group, version = package["ModelPackageGroupName"], package["ModelPackageVersion"]
        earlier = same_archives(registry.packages(store, group)).get(version)
        lines.append(
            f"  registry:          {group} version {version} ({package['ModelApprovalStatus']})"
            + (f", the same model archive as version {earlier}" if earlier else "")
        )
    endpoint = steps.get("Endpoint", {}).get("Properties")
    if endpoint:  # with its data capture, which this run's config set (a capture deployed before is off
        # unless the run has endpoint_capture_percent too, as the pipeline's Endpoint step does in SageMaker)
        from pipeline.deploy import capture_percent_of

        percent = capture_percent_of(endpoint.get("DataCaptureConfig"))
        captured = f"capturing {percent}% of its answers" if percent else "data capture off"
        lines.append(f"  endpoint:          {endpoint['EndpointName']} at {endpoint['Url']} ({captured})")
    lines.append(
        f"  step logs:         {store.service / 'executions' / execution['PipelineExecutionId'] / 'logs'}"
    )
    console.print("\n".join(lines), highlight=False, soft_wrap=True)  # paths to copy whole

    store_opt = "" if _is_default_store(store) else f" --store {store.root}"
    medtx = _command()
    hints = []
    if endpoint:
        hints.append(f'{medtx} invoke "Colonoscopy to the cecum; a sigmoid polyp was removed."{store_opt}')
        hints.append(f"{medtx} endpoint stop{store_opt}")
    if package:
        version = package["ModelPackageVersion"]
        hints.append(f"{medtx} models show {version}{store_opt}")
        if version > 1:  # against the previous version, paired when both saw the same rows
            hints.append(f"{medtx} models compare {version} {version - 1}{store_opt}")
        hints.append(f"{medtx} models approve {version}{store_opt}")
    if hints:
        console.print("Next:\n" + "\n".join(f"  {h}" for h in hints), highlight=False, soft_wrap=True)


def _command() -> str:
    """How the user called medtx (``.venv/bin/medtx`` when the venv is not activated)."""
    import shutil
    import sys

    called = Path(sys.argv[0])
    if called.name != "medtx" or shutil.which("medtx") == str(called.resolve()):
        return "medtx"
    try:
        return str(called.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(called)


def _is_default_store(store: Store) -> bool:
    from pipeline.local import DEFAULT_STORE

    return store.root == Path(DEFAULT_STORE).resolve()
