"""``dashboard`` (the local HTML dashboard) and ``quicksight`` (data sources, datasets, dashboards)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from pipeline.cli.common import (
    Bucket,
    Region,
    StoreDir,
    app,
    config,
    console,
    failing,
    resolve_region,
)
from pipeline.local import DEFAULT_STORE


@app.command()
def dashboard(
    store: StoreDir = Path(DEFAULT_STORE),
    out: Annotated[Path | None, typer.Option("--out", "-o", help="default: `<store>/dashboard.html`")] = None,
    execution: Annotated[
        str | None, typer.Option(help="execution id (default: the latest evaluated)")
    ] = None,
) -> None:
    """Write the local dashboard (EDA, model performance and, once `endpoint predictions --publish` kept
    a check, predictions in production) as one self-contained HTML file."""
    from pipeline import dashboard as dash
    from pipeline.local.store import Store

    with failing(dash.DashboardError, code=1):
        path = dash.write(Store(store), out, execution)
    console.print(f"wrote {path}", soft_wrap=True)


@app.command()
def quicksight(
    principal: Annotated[str, typer.Option(help="QuickSight user or group ARN to share with")] = "",
    account_id: Annotated[str | None, typer.Option(help="AWS account id (default: from STS)")] = None,
    label_map: Annotated[
        str | None,
        typer.Option(
            help="label_map.json, a path or s3:// URI (default: the bucket's preprocess/train/ copy)"
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="write the requests to --out, call nothing")
    ] = False,
    out: Annotated[Path, typer.Option(help="where --dry-run writes")] = Path("quicksight-requests"),
    refresh: Annotated[
        bool,
        typer.Option("--refresh", help="only start a SPICE refresh of the datasets (after an execution)"),
    ] = False,
    region: Region = None,
    bucket: Bucket = None,
) -> None:
    """Create or update the QuickSight data sources, datasets and dashboards (idempotent): EDA and
    model performance, and predictions in production once the drift history exists."""
    from pipeline import capture
    from pipeline import quicksight as qs
    from pipeline.config import ENV_BUCKET, from_env

    if refresh:
        import time as clock

        import boto3

        region = resolve_region(region)
        account_id = account_id or boto3.client("sts", region_name=region).get_caller_identity()["Account"]
        client = boto3.client("quicksight", region_name=region)
        started = qs.refresh(client, account_id, f"medtx-{int(clock.time())}")
        for name, state in started.items():
            console.print(f"{state:>12} SPICE refresh of {qs.PREFIX}-{name}")
        missing = [n for n, state in started.items() if state == "not created" and n not in qs.MONITORING]
        if missing:  # a dataset this version added since the dashboards were made (the drift one waits)
            console.print(
                f"[yellow]note:[/yellow] {', '.join(missing)} not created yet: run `medtx quicksight "
                "--principal ...` once to create it and the dashboards that read it",
                highlight=False,
            )
        return

    bucket = from_env(ENV_BUCKET, bucket) or config().bucket
    region = resolve_region(region, "us-east-1" if dry_run else None)
    if not principal and not dry_run:
        console.print("[red]error:[/red] --principal (a QuickSight user or group ARN) is required")
        raise typer.Exit(2)
    uri = label_map or f"s3://{bucket}/preprocess/train/label_map.json"
    try:
        if uri.startswith("s3://"):
            import boto3

            name, _, key = uri[5:].partition("/")
            body = boto3.client("s3", region_name=region).get_object(Bucket=name, Key=key)["Body"].read()
            labels = qs.labels_from(json.loads(body))
        else:
            labels = qs.labels_from(json.loads(Path(uri).read_text()))
    except Exception as err:  # a missing file, no credentials, a malformed label map: one clear line
        where = (
            "" if label_map else " (the Preprocess step writes it: run the pipeline first, or --label-map)"
        )
        console.print(f"[red]error:[/red] cannot read the label map {uri}: {err}{where}", highlight=False)
        raise typer.Exit(2) from err
    if dry_run:
        account_id = account_id or "123456789012"
    elif not account_id:
        import boto3

        account_id = boto3.client("sts", region_name=region).get_caller_identity()["Account"]
    target = qs.Target(
        account_id=account_id, region=region, bucket=bucket, principal=principal or "PRINCIPAL_ARN"
    )
    if dry_run:
        written = qs.write(qs.requests(target, labels), out)
        console.print(f"wrote {len(written)} request files under {out} ({len(labels)} classes)")
        return
    import boto3

    s3 = boto3.client("s3", region_name=region)
    missing = qs.not_written(s3, bucket)
    if "predictions" not in missing and (upgraded := capture.upgrade_history(s3, bucket)):
        uri, added = upgraded
        console.print(
            f"rewrote {uri} with the columns {', '.join(added)} (empty for the checks before them), "
            "which the predictions dataset now reads",
            highlight=False,
        )
    for name in missing:
        reads, when = qs.LATER[name]
        console.print(
            f"nothing at s3://{bucket}/{qs.DATASETS[name][0]} yet, so no {reads}: {when}", highlight=False
        )
    done = qs.apply(
        qs.requests(target, labels, missing),
        target,
        s3,
        boto3.client("quicksight", region_name=region),
    )
    for resource, action in done.items():
        console.print(f"{action:>8} {resource}")
