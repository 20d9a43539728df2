"""``medtx models``: the versions of the model package group, local or in the SageMaker Model
Registry (``--sagemaker``): list them with their figures, review one, compare two, approve or reject."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from pipeline.cli.common import (
    Group,
    Region,
    SageMakerFlag,
    StoreDir,
    Terminal,
    Version,
    app,
    console,
    failing,
    named_endpoint,
    named_group,
    resolve_region,
)
from pipeline.cli.sources import Registry, open_registry
from pipeline.local import DEFAULT_STORE

models_app = typer.Typer(
    help="Model package versions: the local registry of `medtx run --local`; with --sagemaker, "
    "the SageMaker Model Registry (approving a version there is what deploys it)."
)
app.add_typer(models_app, name="models")


def _difference(figures: dict[str, float]) -> tuple[str, str]:
    """Model minus baseline macro-F1, and its paired bootstrap interval where the evaluation computed one."""
    if figures.get("baseline_macro_f1") is None or "macro_f1" not in figures:
        return "", ""
    interval = (
        f"{figures['difference_low']:+.4f} to {figures['difference_high']:+.4f}"
        if "difference_low" in figures
        else ""
    )
    return f"{figures['macro_f1'] - figures['baseline_macro_f1']:+.4f}", interval


def _data_version(package: dict) -> str:
    """The data a version was trained on, short: ``sha256-3f2a...`` -> ``3f2a9c01``; ``-`` unknown."""
    version = package.get("InputDataVersion") or "-"
    return version.removeprefix("sha256-")[:8] if version.startswith("sha256-") else version


def _commit(package: dict) -> str:
    """The commit a version was made from (``SourceCommit``), short as an execution's display name
    says it: ``0123456789ab``, ``-modified`` for uncommitted changes; ``-`` when it records none."""
    from pipeline import aws
    from pipeline.definition import UNRECORDED

    recorded = (package.get("CustomerMetadataProperties") or {}).get("SourceCommit") or UNRECORDED
    if recorded == UNRECORDED:
        return "-"
    named = aws.display_name(recorded)  # commit-<12 hex>[-modified], or None for no commit hash
    return named.removeprefix("commit-") if named else recorded


def _packages_table(title: str, found: list[dict]) -> Table:
    table = Table(title=title)
    columns = (
        "version",
        "status",
        "macro_f1",
        "baseline",
        "difference",
        "interval",
        "data",
        "commit",
        "created",
        "execution",
    )
    for column in columns:  # folded, never cut short, in a narrow terminal
        table.add_column(column, overflow="fold", no_wrap=column in ("macro_f1", "baseline", "difference"))
    for package in found:
        figures = package.get("Figures", {})
        table.add_row(
            str(package["ModelPackageVersion"]),
            package["ModelApprovalStatus"],
            f"{figures['macro_f1']:.4f}" if "macro_f1" in figures else "-",
            f"{figures['baseline_macro_f1']:.4f}" if figures.get("baseline_macro_f1") is not None else "-",
            *_difference(figures),
            _data_version(package),
            _commit(package),
            package["CreationTime"],
            package.get("PipelineExecutionId", ""),
        )
    return table


@models_app.command("list")
def models_list(
    group: Group = None,
    last: Annotated[int, typer.Option(min=1, help="the newest this many versions")] = 10,
    store: StoreDir = Path(DEFAULT_STORE),
    sagemaker: SageMakerFlag = False,
    region: Region = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the packages as JSON")] = False,
) -> None:
    """List model package versions with approval status and figures (macro-F1, the TF-IDF baseline's,
    the difference with its bootstrap interval), the data and commit each was made from, and the
    version the endpoint serves (the local one, or with ``--sagemaker`` the deployed one)."""
    from pipeline import registry

    if sagemaker:
        import boto3

        region = resolve_region(region)
        client = boto3.client("sagemaker", region_name=region)
        with failing(registry.RegistryError, code=2):
            found, total = registry.packages(
                client, boto3.client("s3", region_name=region), named_group(group), last
            )
        where = f"SageMaker, {region}"
    else:
        from pipeline.local import registry as local_registry
        from pipeline.local.store import Store

        every = local_registry.packages(Store(store), named_group(group))
        found, total = every[-last:], len(every)
        where = f"store {store}"
    if not found:
        console.print(f"no model packages in group {named_group(group)} ({where})")
        raise typer.Exit(1)
    if as_json:
        print(json.dumps(found, indent=2))
    else:
        Terminal().print(_packages_table(f"Model packages: {named_group(group)} ({where})", found))
    if total > len(found):
        console.print(f"the newest {len(found)} of {total} versions (--last N shows more)")
    for package in found:
        if "FiguresError" in package:
            console.print(f"version {package['ModelPackageVersion']}: no figures: {package['FiguresError']}")
    for version in (p["ModelPackageVersion"] for p in found if registry.card_left_waiting(p)):
        console.print(
            f"version {version}: Approved, its model card still waits for review "
            f"(`medtx models approve {version}{' --sagemaker' if sagemaker else ''}` approves it)",
            highlight=False,
        )
    for version, earlier in registry.same_archives(found).items():
        console.print(
            f"version {version}: the same model archive as version {earlier} (a retraining whose Train "
            "step was a cache hit: the same weights)",
            highlight=False,
        )
    if sagemaker:
        _print_serving(found, *_served(client))
    else:
        from pipeline.local import endpoint

        name = named_endpoint(None)
        record = endpoint.current(Store(store), name)
        if record is not None and record["EndpointStatus"] == "InService":
            _print_serving(found, name, record["EndpointStatus"], record.get("ModelPackageArn"))


@models_app.command("show")
def models_show(
    version: Version,
    group: Group = None,
    store: StoreDir = Path(DEFAULT_STORE),
    sagemaker: SageMakerFlag = False,
    region: Region = None,
    card: Annotated[
        bool, typer.Option("--card", help="Print the version's model card (its JSON) instead.")
    ] = False,
) -> None:
    """What to review before approving a version: its held-out figures with their intervals beside the
    TF-IDF baseline's, every class weakest first, and the most frequent confusions; its model card."""
    from pipeline import model_card, registry
    from pipeline.report import print_classes, print_figures

    with failing(registry.RegistryError, code=2):
        opened = open_registry(store, sagemaker, region)
        package = opened.describe(named_group(group), version)
        if card:
            _print_card(package)
            return
        uri = registry.statistics_uri(package)
        try:
            report, per_class = registry.evaluation(opened.read, uri)
        except (OSError, ValueError) as err:
            raise registry.RegistryError(f"cannot read the evaluation {uri}: {err}") from err
    out = Terminal()
    note = f", note: {package['ApprovalDescription']}" if package.get("ApprovalDescription") else ""
    made_of = registry.lineage(package, report)
    out.print(
        f"{package['ModelPackageArn']}: {package['ModelApprovalStatus']}{note}\nevaluation: {uri}\n"
        f"archive: {made_of['ModelDataUrl'] or 'not recorded'}\n"
        f"trained on data: {made_of['InputDataVersion'] or 'not recorded'}\n"
        f"scored with: {scored_with(report)}",
        highlight=False,
    )
    recorded = package.get("CustomerMetadataProperties") or {}
    made = [f"{key} {value}" for key, value in sorted(recorded.items()) if key != "InputDataVersion"]
    if made:  # the rest of what the pipeline's RegisterModel step recorded on the package
        out.print("made of: " + "; ".join(made), highlight=False)
    out.print(model_card.summary(package.get("ModelCard")), highlight=False)
    if registry.card_left_waiting(package):
        where = " --sagemaker" if sagemaker else ""
        out.print(
            f"the version is Approved but its card still waits for review (approved where the card is "
            f"not, e.g. in Studio): `medtx models approve {version}{where}` approves the card with it",
            highlight=False,
        )
    print_figures(out, report)
    if isinstance(per_class, str):
        console.print(f"no per-class table: {per_class}", highlight=False)
    else:
        print_classes(out, per_class, report)


def scored_with(report: dict[str, Any]) -> str:
    """``float32 on cpu (torch 2.9.0, transformers 5.3.0)``: what scored the held-out rows, from
    ``evaluation.json``'s ``scored_with`` (an evaluation before it was recorded says so)."""
    stack = report.get("scored_with")
    if not stack:
        return "not recorded"
    versions = f"torch {stack['torch']}, transformers {stack['transformers']}"
    return f"{stack['arithmetic']} on {stack['device']} ({versions})"


def _print_card(package: dict[str, Any]) -> None:
    """The card's content as JSON on stdout (for jq, or to read), its status on stderr."""
    from pipeline.registry import RegistryError

    found = package.get("ModelCard") or {}
    if not found.get("ModelCardContent"):
        raise RegistryError(f"{package['ModelPackageArn']} has no model card")
    try:
        document = json.loads(found["ModelCardContent"])
    except json.JSONDecodeError as err:
        raise RegistryError(f"the model card of {package['ModelPackageArn']} is not JSON: {err}") from err
    console.print(
        f"model card of {package['ModelPackageArn']}: {found.get('ModelCardStatus', '?')}", highlight=False
    )
    typer.echo(json.dumps(document, indent=2, ensure_ascii=False))


@models_app.command("compare")
def models_compare(
    version: Version,
    other: Annotated[
        int | None,
        typer.Argument(help="the version to compare it with (default: the one the endpoint serves)"),
    ] = None,
    group: Group = None,
    store: StoreDir = Path(DEFAULT_STORE),
    sagemaker: SageMakerFlag = False,
    region: Region = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the comparison as JSON")] = False,
) -> None:
    """Compare a version with another, by default the one the endpoint serves. Evaluated on the same
    validation rows (one CSV, one split), the two are paired: the macro-F1 difference with its paired
    bootstrap interval, the rows only one of them gets right, and the classes that gained and lost.
    Otherwise each one's figures against its own baseline, and why they cannot be paired."""
    from pipeline import compare as cmp
    from pipeline import registry

    with failing(registry.RegistryError, code=2):
        opened = open_registry(store, sagemaker, region)
        opened.describe(named_group(group), version)  # a version not there is the error, not the endpoint
        served = opened.served(named_endpoint(None))
        asked = other
        if other is None:
            other = _served_version(served, named_group(group))
        if other == version:  # a version against itself tells nothing
            raise registry.RegistryError(
                f"version {version} is the one the endpoint serves: name another to compare it with"
                if asked is None
                else f"version {version} compared with itself: name two versions"
            )
        sides = [_evaluated(opened, named_group(group), v) for v in (version, other)]
    (package_a, report_a, table_a), (package_b, report_b, table_b) = sides
    result = cmp.compare(report_a, table_a, report_b, table_b)
    names = (f"version {version}", f"version {other}")
    made = [registry.made_of(package_a, report_a), registry.made_of(package_b, report_b)]
    if as_json:
        print(json.dumps({"versions": [version, other], "made_of": made, **result}, indent=2))
        return
    out = Terminal()
    states = [
        f"{name} ({p['ModelApprovalStatus']}{', served' if p['ModelPackageArn'] == served else ''})"
        for name, p in zip(names, (package_a, package_b), strict=True)
    ]
    rows = (
        f"on the same {result['rows']} validation rows ({result['texts']} texts)"
        if result["paired"]
        else "not paired"
    )
    out.print(f"{states[0]} against {states[1]}, {rows}", highlight=False)
    out.print(cmp.made_of_line(made[0], made[1], names), highlight=False)
    _print_comparison(out, result, names)


def _served_version(arn: str | None, group: str) -> int:
    """The version number of the package the endpoint serves, when it is one of ``group``'s."""
    from pipeline import registry

    prefix = f":model-package/{group}/"
    if not arn or prefix not in arn:
        served = (
            f"serves {arn}, not a version of {group}"
            if arn
            else "serves no model package (it is not running, or serves a model made without one)"
        )
        raise registry.RegistryError(f"the endpoint {served}: name the version to compare with")
    return int(arn.rsplit("/", 1)[1])


def _evaluated(opened: Registry, group: str, version: int) -> tuple[dict, dict, Any]:
    """A version's package, its ``evaluation.json`` and the ``model-performance.csv`` beside it."""
    from pipeline import compare as cmp
    from pipeline import registry

    package = opened.describe(group, version)
    uri = registry.statistics_uri(package)
    if uri is None:
        raise registry.RegistryError(f"version {version} records no model-quality statistics")
    rows_uri = registry.beside(uri, cmp.PERFORMANCE_CSV)
    try:
        return package, json.loads(opened.read(uri)), cmp.read_performance(opened.read(rows_uri))
    except (OSError, ValueError) as err:
        raise registry.RegistryError(f"version {version}: cannot read its evaluation: {err}") from err


def _print_comparison(out: Terminal, result: dict, names: tuple[str, str]) -> None:
    from pipeline import compare as cmp

    table = Table(title="Held-out figures")
    for column in ("figure", *names, *(["difference"] if result["paired"] else [])):
        table.add_column(column, justify="left" if column == "figure" else "right")
    shown = [
        *cmp.FIGURES,
        "top_3_accuracy",
        "baseline_macro_f1",
        "minus_baseline",
        "calibration_error",
        "score_temperature",
        "answered_at_target",
        "held_out_accuracy",
        "answered_guaranteed",
        "risk_coverage_area",
    ]
    targets = {result[side].get("selective_target") for side in ("a", "b")} - {None}
    shown_as = {
        "top_3_accuracy": "top-3 accuracy",
        "baseline_macro_f1": "TF-IDF baseline macro_f1",
        "minus_baseline": "macro_f1 - baseline",
        "calibration_error": "calibration error (ECE)",
        "score_temperature": "score temperature",
        "answered_at_target": (
            f"notes answered at {min(targets):.0%} accuracy"
            if len(targets) == 1
            else "notes answered at target accuracy"
        ),
        "held_out_accuracy": "their accuracy, threshold held out",
        "answered_guaranteed": "notes answered, target guaranteed",
        "risk_coverage_area": "risk-coverage area (AURC)",
    }
    # not a figure of the rows: no difference of these (nor of shares answered at different targets)
    unpaired = ["baseline_macro_f1", "minus_baseline", "score_temperature"]
    if len(targets) > 1:
        unpaired += ["answered_at_target", "held_out_accuracy", "answered_guaranteed"]
    for name in shown:
        a, b = result["a"].get(name), result["b"].get(name)
        cells = [f"{v:.4f}" if isinstance(v, int | float) else "-" for v in (a, b)]
        if result["paired"]:  # figures of the same rows
            same_rows = name not in unpaired and a is not None and b is not None
            cells.append(f"{a - b:+.4f}" if same_rows else "")
        table.add_row(shown_as.get(name, name), *cells)
    kept_a, kept_b = result["a"].get("label_kept", {}), result["b"].get("label_kept", {})
    for check in dict.fromkeys([*kept_a, *kept_b]):  # each version's behavioural checks, in order
        a, b = kept_a.get(check), kept_b.get(check)
        cells = [f"{v:.1%}" if v is not None else "-" for v in (a, b)]
        if result["paired"]:  # the same rows: the same notes rewritten
            cells.append(f"{100 * (a - b):+.1f} pt" if a is not None and b is not None else "")
        table.add_row(f"label kept: {check}", *cells)
    out.print(table)
    spread = result.get("bootstrap")
    if spread:
        low, high = spread["interval"]
        out.print(
            "macro-F1 difference: {:+.4f} ({:.0f}% interval {:+.4f} to {:+.4f}, paired, over {} resamples; "
            "{} ahead in {:.0%} of them)".format(
                result["macro_f1_difference"],
                100 * spread["confidence_level"],
                low,
                high,
                spread["resamples"],
                names[0],
                spread["share_a_ahead"],
            ),
            highlight=False,
        )
    out.print(cmp.verdict(result, *names), highlight=False)
    if not result["paired"]:
        out.print("each one's distance to its own baseline is the comparable figure", highlight=False)
        return
    split = result["disagreements"]
    out.print(
        f"they disagree on {split['rows']} rows: only {names[0]} right on {split['only_a_right']}, "
        f"only {names[1]} right on {split['only_b_right']}",
        highlight=False,
    )
    moved = [c for c in result["classes"] if c["difference"]]
    if moved:
        classes = Table(title="Classes whose F1 changed, largest gain first")
        for column in ("label", "support", *names, "difference"):
            classes.add_column(column, justify="left" if column == "label" else "right")
        for c in moved:
            classes.add_row(
                c["label"],
                str(c["support"]),
                f"{c['f1_a']:.3f}",
                f"{c['f1_b']:.3f}",
                f"{c['difference']:+.3f}",
            )
        out.print(classes)


def _served(client) -> tuple[str, str | None, str | None]:
    """The config's endpoint: its name, its status (None: no such endpoint) and the model package it
    serves (None: a model not made from a package)."""
    from pipeline import deploy as dep

    name = named_endpoint(None)
    found = dep.served_package(client, name)
    return (name, *found) if found else (name, None, None)


def _print_serving(found: list[dict], name: str, status: str | None, package: str | None) -> None:
    """Which listed version the endpoint serves."""
    if status is None:
        console.print(f"no endpoint {name} yet: approving a version deploys it")
        return
    versions = [p["ModelPackageVersion"] for p in found if p["ModelPackageArn"] == package]
    direct = "a model made from no package of this project"
    served = f"version {versions[0]}" if versions else (package or direct)
    console.print(f"endpoint {name} ({status}) serves {served}", highlight=False)


def _note_served_weights(client, package: dict, name: str, served: str | None) -> None:
    """Say when approving ``package`` would deploy what the endpoint already answers with: the served
    version itself, or a version of the served archive (a retraining whose Train step was a cache hit)."""
    from pipeline import deploy as dep
    from pipeline import registry

    arn = package["ModelPackageArn"]
    if served is None:
        return
    if served == arn:
        console.print(
            f"endpoint {name} serves this version already: the deploy project leaves it as it is "
            "unless its settings ask for another fleet or data-capture share"
        )
        return
    current = dep.found_or_none(client.describe_model_package, ModelPackageName=served)
    if current is None or registry.model_data_url(current) != registry.model_data_url(package):
        return
    spec = registry.serving_container
    settings = (
        "with the same image and environment: what the endpoint answers does not change"
        if spec(current) == spec(package)
        else "under other serving settings (the container's image or environment differ)"
    )
    group, version = served.rsplit("/", 1)
    served_as = f"version {version}" if group == arn.rsplit("/", 1)[0] else served
    console.print(
        f"[yellow]note:[/yellow] this version holds the model archive that endpoint {name} serves now "
        f"({served_as}; a retraining whose Train step was a cache hit registers it again): its deploy "
        f"puts the same weights back {settings}",
        highlight=False,
    )


def _set_status(
    version: int, status: str, group: str | None, store: Path, note: str, sagemaker: bool, region: str | None
) -> None:
    from pipeline import registry

    with failing(registry.RegistryError, code=2):
        if sagemaker:
            import boto3

            client = boto3.client("sagemaker", region_name=resolve_region(region))
            package = registry.set_status(client, named_group(group), version, status, note)
        else:
            from pipeline.local import registry as local_registry
            from pipeline.local.store import Store

            package = local_registry.set_status(Store(store), named_group(group), version, status, note)
    arn = package["ModelPackageArn"]
    card = (package.get("ModelCard") or {}).get("ModelCardStatus", "none")
    console.print(f"{arn}: {package['ModelApprovalStatus']} (model card: {card})", highlight=False)
    if not sagemaker:
        _note_local_endpoint(store, package, status)
        return
    name, _, served = _served(client)
    if status == "Approved":
        console.print(
            "where the stack of infra/template.yaml runs, this starts its deploy project; follow it "
            "with `medtx endpoint status --sagemaker`"
        )
        _note_served_weights(client, package, name, served)
        return
    if served == arn:
        console.print(
            f"[yellow]warning:[/yellow] endpoint {name} still serves this version: approve another "
            "(or `medtx deploy --model-package-arn <an approved one>`) to replace it"
        )


def _note_local_endpoint(store: Path, package: dict, status: str) -> None:
    """What a status set in the local registry means for the local endpoint, which no approval
    deploys (in an account the deploy project does): the command that serves an approved version, or
    that the endpoint still serves a rejected one."""
    from pipeline.local import endpoint
    from pipeline.local.store import Store

    name = named_endpoint(None)
    record = Store(store).read_record(endpoint.KIND, name)  # what it serves; no need to ask the server
    serves = record is not None and record.get("ModelPackageArn") == package["ModelPackageArn"]
    version = package["ModelPackageVersion"]
    if status == "Approved" and serves:
        console.print(f"endpoint {name} serves this version already", highlight=False)
    elif status == "Approved":
        console.print(
            f"`medtx deploy --local --version {version} --store {store}` serves it on endpoint {name} "
            "(here no approval deploys; in an account the stack's deploy project does)",
            highlight=False,
        )
    elif serves:
        console.print(
            f"[yellow]warning:[/yellow] endpoint {name} still serves this version: `medtx deploy --local "
            f"--version N --store {store}` of an approved one replaces it",
            highlight=False,
        )


@models_app.command("approve")
def models_approve(
    version: Version,
    group: Group = None,
    note: Annotated[str, typer.Option(help="approval description")] = "",
    store: StoreDir = Path(DEFAULT_STORE),
    sagemaker: SageMakerFlag = False,
    region: Region = None,
) -> None:
    """Approve a model package version (and its model card, where it waits for review)."""
    _set_status(version, "Approved", group, store, note, sagemaker, region)


@models_app.command("reject")
def models_reject(
    version: Version,
    group: Group = None,
    note: Annotated[str, typer.Option(help="rejection reason")] = "",
    store: StoreDir = Path(DEFAULT_STORE),
    sagemaker: SageMakerFlag = False,
    region: Region = None,
) -> None:
    """Reject a model package version."""
    _set_status(version, "Rejected", group, store, note, sagemaker, region)
