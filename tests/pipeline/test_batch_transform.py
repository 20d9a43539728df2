"""``medtx predict --sagemaker --batch-transform``: the endpoint's requests, one a line, through a
SageMaker Batch Transform job of the endpoint's model, joined back to the CSV's rows.

moto records CreateTransformJob and reports the job Completed at once, but runs nothing: here a
botocore hook plays the service after the call, as its documentation describes it (each line of each
input file one invocation of the container, each answer one line of ``<file>.out``), and every line
goes through the endpoint handler's own request check (``inference.parse_request``)."""

from __future__ import annotations

import contextlib
import time

import pandas as pd
import pytest
from aws_helpers import BUCKET, REGION, ROLE, approver_actions
from helpers import said
from test_batch_predict import LABELS, _answer

from inference import parse_request
from pipeline import batch_transform as bt
from pipeline.batch_predict import NO_TEXT, requests
from pipeline.deploy import request_body

ENDPOINT = "medtx-specialty-classifier"


def test_stage_spreads_the_endpoints_requests_over_files_in_order():
    texts = [f"note {i} " + "x" * (i % 7) for i in range(23)]
    texts[4] = ""  # not sent
    staged = bt.stage(texts, batch_size=3, max_texts=8, max_bytes=10_000, top_k=2, files=3)
    assert list(staged.files) == ["requests-00001.jsonl", "requests-00002.jsonl", "requests-00003.jsonl"]
    expected = list(requests(texts, 3, 8, 10_000, 2))
    assert [p for lines in staged.positions.values() for p in lines] == [p for p, _ in expected]
    lines = [line for body in staged.files.values() for line in body.decode().splitlines()]
    assert [line.encode() for line in lines] == [body for _, body in expected]
    for line in lines:  # each line is a request the endpoint handler takes as it is
        parsed = parse_request(line.encode(), bt.CONTENT_TYPE)
        assert parsed["top_k"] == 2 and all(parsed["texts"])
    assert staged.requests == len(expected) == 8
    one = bt.stage(texts, 3, 8, 10_000, 1, files=20)  # never a file without a request
    assert len(one.files) == one.requests == 8


def test_the_answers_join_back_to_their_texts_and_a_short_output_is_refused():
    texts = ["chest pain", "", "headache", "kidney stone", "rash"]
    staged = bt.stage(texts, 2, 8, 10_000, 1, files=1)
    outputs = {
        name: b"".join(_answer(line) + b"\n" for line in body.splitlines())
        for name, body in staged.files.items()
    }
    found = bt.predictions(staged, len(texts), outputs.__getitem__)
    assert [p["label"] if p else None for p in found] == [LABELS[len(t) % 3] if t else None for t in texts]
    first = next(iter(outputs))
    short = {**outputs, first: outputs[first].splitlines()[0]}
    with pytest.raises(bt.TransformError, match=r"requests-00001.jsonl.out holds 1 answer\(s\) for 2"):
        bt.predictions(staged, len(texts), short.__getitem__)
    wrong = {**outputs, first: b'[{"label": "x"}]\n' + outputs[first].splitlines()[1]}
    with pytest.raises(bt.TransformError, match=r"requests-00001\.jsonl\.out line 1: the answer should be"):
        bt.predictions(staged, len(texts), wrong.__getitem__)


def test_a_failed_job_is_named_with_the_services_reason_and_its_logs():
    class Jobs:
        def __init__(self, states):
            self.states = list(states)

        def describe_transform_job(self, TransformJobName):  # noqa: N803 - boto3's argument name
            return {"TransformJobStatus": self.states.pop(0), "FailureReason": "ClientError: 413"}

    seen: list[dict] = []
    done = bt.wait(Jobs(["InProgress", "Completed"]), "job-1", poll_seconds=0, on_poll=seen.append)
    assert done["TransformJobStatus"] == "Completed" and len(seen) == 2
    with pytest.raises(bt.TransformError, match=r"job-2 failed: ClientError: 413 \(logs: .*TransformJobs"):
        bt.wait(Jobs(["InProgress", "Failed"]), "job-2", poll_seconds=0)


def test_the_request_fits_the_service_and_encrypts_when_a_key_is_given():
    made = bt.transform_request(
        "medtx-predict-1", "m", "s3://b/p/in/", "s3://b/p/out", "ml.g5.xlarge", 2, 6 * 1024**2 + 1, "alias/k"
    )
    assert made["MaxPayloadInMB"] == 7 and made["BatchStrategy"] == "SingleRecord"
    assert made["TransformInput"]["SplitType"] == "Line" and made["TransformOutput"]["AssembleWith"] == "Line"
    assert made["TransformOutput"]["KmsKeyId"] == made["TransformResources"]["VolumeKmsKeyId"] == "alias/k"
    plain = bt.transform_request("n", "m", "s3://b/i/", "s3://b/o", "ml.m5.xlarge", 1, 1000)
    assert plain["MaxPayloadInMB"] == 1 and "KmsKeyId" not in plain["TransformOutput"]
    assert len(bt.job_name()) <= 63


@pytest.fixture
def served(aws):
    """A deployed endpoint in moto, and a hook that runs each transform job as the service would."""
    import boto3

    own = boto3.Session(region_name=REGION)  # the service's side: its calls are not the caller's
    sagemaker, s3 = own.client("sagemaker"), own.client("s3")
    image = {"Image": "123.dkr.ecr.us-east-1.amazonaws.com/hf:1", "ModelDataUrl": f"s3://{BUCKET}/m.tar.gz"}
    sagemaker.create_model(ModelName="medtx-served-m", ExecutionRoleArn=ROLE, PrimaryContainer=image)
    variant = {"VariantName": "AllTraffic", "ModelName": "medtx-served-m"}
    sagemaker.create_endpoint_config(
        EndpointConfigName="medtx-served-c",
        ProductionVariants=[{**variant, "InstanceType": "ml.m5.xlarge", "InitialInstanceCount": 1}],
    )
    sagemaker.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName="medtx-served-c")
    jobs = []

    def run_job(params, **_):
        """Every line of every input object one invocation (the handler's check, then an answer),
        each answer one line of ``<object>.out`` under the output path."""
        jobs.append(params)
        source = params["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"].removeprefix(
            f"s3://{BUCKET}/"
        )
        target = params["TransformOutput"]["S3OutputPath"].removeprefix(f"s3://{BUCKET}/")
        for item in s3.list_objects_v2(Bucket=BUCKET, Prefix=source)["Contents"]:
            body = s3.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read()
            answers = []
            for line in body.splitlines():
                assert len(line) <= params["MaxPayloadInMB"] * 1024**2
                parse_request(line, params["TransformInput"]["ContentType"])
                answers.append(_answer(line))
            name = item["Key"].removeprefix(source)
            s3.put_object(Bucket=BUCKET, Key=f"{target}/{name}.out", Body=b"\n".join(answers) + b"\n")

    real_client = boto3.client

    def client(service, *args, **kwargs):
        made = real_client(service, *args, **kwargs)
        if service == "sagemaker":
            made.meta.events.register("provide-client-params.sagemaker.CreateTransformJob", run_job)
        return made

    yield jobs, client
    sagemaker.delete_endpoint(EndpointName=ENDPOINT)
    sagemaker.delete_endpoint_config(EndpointConfigName="medtx-served-c")
    sagemaker.delete_model(ModelName="medtx-served-m")


def test_predict_scores_a_csv_with_a_transform_job_of_the_endpoints_model(
    served, iam_calls, tmp_path, monkeypatch
):
    """The job's request, the output CSV, the requests kept in S3, collecting an earlier job again,
    and every call the command makes allowed by the model approver policy."""
    import boto3
    from typer.testing import CliRunner

    from pipeline.cli import app

    jobs, client = served
    monkeypatch.setattr(boto3, "client", client)
    monkeypatch.setenv("COLUMNS", "200")
    texts = ["chest pain", "", "headache and aura", "kidney stone", "rash", "cough"]
    source = tmp_path / "notes.csv"
    pd.DataFrame({"note_id": [f"n{i}" for i in range(6)], "transcription": texts}).to_csv(source, index=False)
    args = ["predict", str(source), "--sagemaker", "--batch-transform", "--region", REGION]
    args += ["--batch-size", "2", "--top-k", "2", "--id-column", "note_id", "--instance-count", "2"]
    args += ["--review-below", "0.7"]  # every answer scored 0.7: at the threshold, answered
    runner = CliRunner()
    done = runner.invoke(app, args)
    assert done.exit_code == 0, said(done)
    (job,) = jobs
    assert job["ModelName"] == "medtx-served-m"  # the endpoint's model
    assert job["TransformResources"] == {"InstanceType": "ml.m5.xlarge", "InstanceCount": 2}
    out = pd.read_csv(tmp_path / "notes-predictions.csv", keep_default_na=False)
    assert out["id"].tolist() == [f"n{i}" for i in range(6)]
    assert out["label"].tolist() == [LABELS[len(t) % 3] if t else "" for t in texts]
    assert out["label_2"].tolist() == [LABELS[(len(t) + 1) % 3] if t else "" for t in texts]
    assert out["note"].tolist() == ["", NO_TEXT, "", "", "", ""]
    assert out["review"].tolist() == ["0", "", "0", "0", "0", "0"]
    name = job["TransformJobName"]
    assert f"5 row(s) scored by transform job {name} (2 x ml.m5.xlarge" in said(done)
    assert "0 of them scored below 0.7, marked for review" in said(done)
    assert f"s3://{BUCKET}/batch-predict/{name}/" in said(done)
    own = boto3.Session(region_name=REGION)  # the test's own calls: not recorded
    described = own.client("sagemaker").describe_transform_job(TransformJobName=name)
    assert described["TransformInput"]["SplitType"] == "Line"
    # the requests kept in S3 are those the endpoint would have been sent
    s3 = own.client("s3")
    kept = s3.get_object(Bucket=BUCKET, Key=f"batch-predict/{name}/input/requests-00001.jsonl")["Body"].read()
    assert kept.splitlines()[0] == request_body(["chest pain", "headache and aura"], 2)

    # started without waiting: no CSV yet, and the command that collects it
    (tmp_path / "notes-predictions.csv").unlink()
    started = runner.invoke(app, [*args, "--no-wait"])
    assert started.exit_code == 0, said(started)
    second = jobs[-1]["TransformJobName"]
    assert f"the same command with --job {second} instead of --no-wait" in said(started)
    assert not (tmp_path / "notes-predictions.csv").exists()
    collected = runner.invoke(app, [*args, "--job", second])
    assert collected.exit_code == 0, said(collected)
    assert pd.read_csv(tmp_path / "notes-predictions.csv", keep_default_na=False).equals(out)

    # a job that failed: the service's reason, then the last lines the job logged
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.sagemaker.models import sagemaker_backends

    (tmp_path / "notes-predictions.csv").unlink()
    failing = runner.invoke(app, [*args, "--no-wait"])
    third = jobs[-1]["TransformJobName"]
    made = sagemaker_backends[DEFAULT_ACCOUNT_ID][REGION].transform_jobs[third]
    made.transform_job_status, made.failure_reason = (
        "Failed",
        "ClientError: See job logs for more information",
    )
    logs = own.client("logs")
    group = "/aws/sagemaker/TransformJobs"
    with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
        logs.create_log_group(logGroupName=group)
    stream = f"{third}/i-0abc-1733300000/data-log"
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    said_by_job = "Bad HTTP status received from algorithm: 400; inputs must be text"
    logs.put_log_events(
        logGroupName=group,
        logStreamName=stream,
        logEvents=[{"timestamp": int(time.time() * 1000), "message": said_by_job}],
    )
    failed = runner.invoke(app, [*args, "--job", third])
    assert failing.exit_code == 0 and failed.exit_code == 1
    assert f"transform job {third} failed: ClientError: See job logs" in said(failed)
    assert f"the last 1 lines of {third}" in said(failed) and said_by_job in said(failed)
    assert not (tmp_path / "notes-predictions.csv").exists()

    # an earlier job's answers collected again (after Ctrl-C): same CSV and options, no new job
    again = runner.invoke(app, [*args, "--job", name])
    assert again.exit_code == 0, said(again)
    assert len(jobs) == 3
    assert pd.read_csv(tmp_path / "notes-predictions.csv", keep_default_na=False).equals(out)
    assert {"logs:DescribeLogStreams", "logs:GetLogEvents"} <= iam_calls
    called = {"sagemaker:CreateTransformJob", "sagemaker:DescribeTransformJob", "s3:PutObject"}
    assert called | {"s3:GetObject", "s3:ListBucket", "sagemaker:DescribeEndpoint"} <= iam_calls
    assert not iam_calls - approver_actions(), sorted(iam_calls - approver_actions())
    other = runner.invoke(app, [*args[:-4], "--batch-size", "3", "--instance-count", "2", "--job", name])
    assert other.exit_code == 1 and "is not the requests this CSV gives with these options" in said(other)
    unknown = runner.invoke(app, [*args, "--job", "medtx-predict-never"])
    assert unknown.exit_code == 1
    assert (
        f"medtx-predict-never is not a job medtx predict started (they are kept under s3://{BUCKET}/batch-predict/)"
        in said(unknown)
    )
    fewer = runner.invoke(app, [*args[:-2], "--instance-count", "1", "--job", name])
    assert fewer.exit_code == 1 and "holds 2 request file(s), not the 1" in said(fewer)


def test_a_jobs_answers_collected_later_take_the_threshold_of_the_version_it_ran(
    served, tmp_path, monkeypatch
):
    """``--review-below served`` with ``--job``: the job ran version 3's model; the endpoint serves
    version 4 by the time its answers are collected, so the threshold is version 3's, not the served
    one's (every answer scores 0.7: below version 4's 0.75, above version 3's 0.65)."""
    import json

    import boto3
    from typer.testing import CliRunner

    from pipeline import deploy as dep
    from pipeline.cli import app, sources

    jobs, client = served
    monkeypatch.setattr(boto3, "client", client)
    monkeypatch.setenv("COLUMNS", "200")
    group = f"arn:aws:sagemaker:{REGION}:123456789012:model-package/{ENDPOINT}"
    image = {"Image": "123.dkr.ecr.us-east-1.amazonaws.com/hf:1", "ModelDataUrl": f"s3://{BUCKET}/m.tar.gz"}
    boto3.Session(region_name=REGION).client("sagemaker").create_model(
        ModelName=f"{ENDPOINT}-v3",
        ExecutionRoleArn=ROLE,
        PrimaryContainer={**image, "Environment": {dep.PACKAGE_ENV: f"{group}/3"}},
    )
    thresholds = {"3": 0.65, "4": 0.75}

    def evaluation(uri):
        reached = {"threshold": thresholds[uri.split("/")[3]], "coverage": 0.5, "notes": 100, "accuracy": 0.9}
        selective = {"accuracy_target": 0.9, "at_accuracy": reached}
        return json.dumps({"selective": selective}).encode()

    opened = sources.Registry(
        describe=lambda group, version: {},
        by_arn=lambda arn: {
            "ModelMetrics": {
                "ModelQuality": {"Statistics": {"S3Uri": f"s3://b/{arn.rsplit('/', 1)[1]}/evaluation.json"}}
            }
        },
        read=evaluation,
        served=lambda endpoint: f"{group}/4",
    )
    monkeypatch.setattr(sources, "open_registry", lambda store, sagemaker, region: opened)
    source = tmp_path / "notes.csv"
    pd.DataFrame({"transcription": ["chest pain", "kidney stone"]}).to_csv(source, index=False)
    args = ["predict", str(source), "--sagemaker", "--batch-transform", "--region", REGION]
    runner = CliRunner()
    started = runner.invoke(app, [*args, "--model-name", f"{ENDPOINT}-v3", "--no-wait"])
    assert started.exit_code == 0, said(started)
    job = jobs[-1]["TransformJobName"]
    collected = runner.invoke(app, [*args, "--job", job, "--review-below", "served"])
    assert collected.exit_code == 0, said(collected)
    assert f"review below 0.65, the threshold of {group}/3 for 90% accuracy" in said(collected)
    out = pd.read_csv(tmp_path / "notes-predictions.csv", keep_default_na=False)
    assert out["review"].tolist() == [0, 0]  # 0.7 above version 3's 0.65
    unknown = runner.invoke(app, [*args, "--job", "medtx-predict-never", "--review-below", "served"])
    assert unknown.exit_code == 1
    assert (
        "transform job medtx-predict-never ran a model of no registry version (or there is no such job)"
        in said(unknown)
    )


def test_batch_transform_options_are_refused_where_they_do_not_apply(served, tmp_path, monkeypatch):
    import boto3
    from typer.testing import CliRunner

    from pipeline.cli import app

    jobs, client = served
    monkeypatch.setattr(boto3, "client", client)
    source = tmp_path / "notes.csv"
    pd.DataFrame({"transcription": ["chest pain", ""]}).to_csv(source, index=False)
    runner = CliRunner()
    transform = ["--sagemaker", "--batch-transform", "--region", REGION]
    both = runner.invoke(app, ["predict", str(source), *transform, "--concurrency", "4"])
    assert both.exit_code == 2 and "--concurrency and --resume are for requests to the endpoint" in said(both)
    local = runner.invoke(app, ["predict", str(source), "--batch-transform", "--no-wait"])
    assert local.exit_code == 2 and "a local transform job runs to its end here" in said(local)
    nothing = runner.invoke(app, ["predict", str(source), "--batch-transform", "--store", str(tmp_path)])
    assert nothing.exit_code == 1 and "no local endpoint 'medtx-specialty-classifier'" in said(nothing)
    stray = runner.invoke(app, ["predict", str(source), "--sagemaker", "--job", "x", "--region", REGION])
    assert stray.exit_code == 2 and "go with --batch-transform" in said(stray)
    nowait = runner.invoke(app, ["predict", str(source), *transform, "--job", "x", "--no-wait"])
    assert nowait.exit_code == 2 and "needs --wait" in said(nowait)
    nowhere = runner.invoke(app, ["predict", str(source), *transform, "--name", "gone"])
    assert nowhere.exit_code == 1 and "no endpoint gone" in said(nowhere) and not jobs
    empty = tmp_path / "empty.csv"
    pd.DataFrame({"transcription": ["", " "]}).to_csv(empty, index=False)
    blank = runner.invoke(app, ["predict", str(empty), *transform])
    assert blank.exit_code == 1 and "no row has text" in said(blank) and not jobs
    long = tmp_path / "long.csv"
    pd.DataFrame({"transcription": ["short", "x" * 1_100_000]}).to_csv(long, index=False)
    refused = runner.invoke(app, ["predict", str(long), *transform])
    assert refused.exit_code == 1 and "text 2 is longer than one request may be" in said(refused)
    assert not jobs
    named = runner.invoke(app, ["predict", str(source), *transform, "--model-name", "other-m"])
    assert named.exit_code == 0, said(named)
    assert [j["ModelName"] for j in jobs] == ["other-m"]
    assert jobs[0]["Tags"] == [{"Key": "medtx:purpose", "Value": "predict"}]
