"""Local endpoints: SageMaker's inference-container contract on 127.0.0.1.

``serve`` unpacks a model archive and answers ``GET /ping`` and ``POST /invocations`` with the handler
the archive carries (``code/inference.py``: ``model_fn``, ``input_fn``, ``predict_fn``,
``output_fn``), as the Hugging Face inference DLC does. A handler's ``ClientError`` becomes its HTTP
status (400, 406, 413, 415) with a JSON error; anything else is a 500. Nothing logs request text.

``start``/``stop``/``invoke`` manage one server process per endpoint name; its record is
``<store>/_sagemaker/endpoints/<name>.json``. Updating a live endpoint starts the new server first
and stops the old one only once the new one answers ``/ping`` and, for ``deploy_package``, a smoke
request (blue/green; a new server that fails is stopped and the old one goes on serving). With an
endpoint config's ``DataCaptureConfig`` the server captures that share of its answers (never the
requests) in SageMaker's capture layout under the store's folder of its destination.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import datetime
import importlib.util
import json
import logging
import os
import queue
import random
import signal
import socket
import subprocess
import sys
import tarfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from pipeline.local.jobs import arn, stop_group
from pipeline.local.store import Store

KIND = "endpoints"
LOG = logging.getLogger("medtx.endpoint")
#: The routes of SageMaker's inference container contract, each with the one method it takes.
ROUTES = {"/ping": "GET", "/invocations": "POST"}


class EndpointError(RuntimeError):
    pass


# -- the server ----------------------------------------------------------------------------------------
def load_handler(model_data: Path, workdir: Path):
    """Unpack ``model.tar.gz`` and import its ``code/inference.py``; returns (module, loaded model)."""
    model_dir = workdir / "model"
    if not (model_dir / "config.json").exists():
        model_dir.mkdir(parents=True, exist_ok=True)
        with tarfile.open(model_data) as tar:
            tar.extractall(model_dir, filter="data")
    code = model_dir / "code"
    if not (code / "inference.py").exists():
        raise EndpointError(f"{model_data} has no code/inference.py: the archive carries no handler")
    sys.path.insert(0, str(code))
    spec = importlib.util.spec_from_file_location("inference", code / "inference.py")
    assert spec is not None and spec.loader is not None, "inference"
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module, module.model_fn(str(model_dir))


class Batcher:
    """Collects requests that arrive together into one forward pass (the project's handler data:
    ``{"texts": [...], "top_k": k}``): the first request waits at most ``wait_seconds`` for others,
    up to ``max_texts`` texts; requests with the same ``top_k`` share a call to ``predict_fn``, and each
    gets its own rows of the result back."""

    def __init__(
        self, handler_module: Any, model: Any, max_texts: int = 32, wait_seconds: float = 0.005
    ) -> None:
        self.handler, self.model = handler_module, model
        self.max_texts, self.wait_seconds = max_texts, wait_seconds
        self.queue: queue.Queue = queue.Queue()
        threading.Thread(target=self._loop, daemon=True, name="batcher").start()

    @staticmethod
    def accepts(data: Any) -> bool:
        return isinstance(data, dict) and isinstance(data.get("texts"), list) and "top_k" in data

    def predict(self, data: dict[str, Any]) -> Any:
        future: concurrent.futures.Future = concurrent.futures.Future()
        self.queue.put((data, future))
        return future.result()

    def _loop(self) -> None:
        while True:
            items = [self.queue.get()]
            count, deadline = len(items[0][0]["texts"]), time.monotonic() + self.wait_seconds
            while count < self.max_texts and (left := deadline - time.monotonic()) > 0:
                try:
                    items.append(self.queue.get(timeout=left))
                except queue.Empty:
                    break
                count += len(items[-1][0]["texts"])
            for top_k in {data["top_k"] for data, _ in items}:
                group = [(data, future) for data, future in items if data["top_k"] == top_k]
                merged = {
                    "texts": [t for data, _ in group for t in data["texts"]],
                    "top_k": top_k,
                    "single": False,
                }
                try:
                    rows = self.handler.predict_fn(merged, self.model)
                except Exception as err:  # every request of the batch gets the error
                    for _, future in group:
                        future.set_exception(err)
                    continue
                start = 0
                for data, future in group:
                    future.set_result(rows[start : start + len(data["texts"])])
                    start += len(data["texts"])


class Capture:
    """SageMaker's data capture of the answers (never the requests: they are transcripts), as JSON
    lines under ``<folder>/yyyy/mm/dd/hh/``, one file per server and hour: ``percent`` of the answers,
    drawn at random."""

    def __init__(self, folder: Path, percent: int) -> None:
        self.folder, self.percent = folder, percent
        self.lock, self.name = threading.Lock(), f"{os.getpid()}-{uuid.uuid4().hex[:8]}.jsonl"

    def record(
        self, answer: bytes, content_type: str = "application/json", inference_id: str | None = None
    ) -> None:
        if random.random() * 100 >= self.percent:  # [0, 100): 100 captures every answer
            return
        now = datetime.datetime.now(datetime.UTC)
        # the caller's InferenceId, kept as SageMaker keeps it (`medtx predict` marks its requests)
        named = {"inferenceId": inference_id} if inference_id else {}
        line = json.dumps(
            {
                "captureData": {
                    "endpointOutput": {
                        "observedContentType": content_type,
                        "mode": "OUTPUT",
                        "data": answer.decode("utf-8", errors="replace"),
                        "encoding": "JSON",
                    }
                },
                "eventMetadata": {
                    "eventId": str(uuid.uuid4()),
                    "inferenceTime": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    **named,
                },
                "eventVersion": "0",
            }
        )
        path = self.folder / now.strftime("%Y/%m/%d/%H") / self.name
        with self.lock:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a") as sink:
                sink.write(line + "\n")


def make_server(
    handler_module: Any,
    model: Any,
    port: int,
    host: str = "127.0.0.1",
    batching: bool = False,
    capture: Capture | None = None,
) -> ThreadingHTTPServer:
    lock = threading.Lock()  # one model, one forward pass at a time (torch uses the cores itself)
    batcher = Batcher(handler_module, model) if batching else None
    limit = getattr(getattr(handler_module, "CONFIG", None), "max_payload_bytes", None)  # the handler's own

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            LOG.info("%s %s", self.address_string(), format % args)  # method, path, status: no body

        def _answer(
            self, status: int, body: bytes, content_type: str = "application/json", **headers: str
        ) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def _misrouted(self, method: str) -> bool:
            """Answer a path the container contract does not serve (404) or serves by another method
            (405, naming it); False for one of ``ROUTES`` asked as it should be."""
            allowed = ROUTES.get(self.path)
            if allowed == method:
                return False
            if allowed is None:
                self._answer(404, json.dumps({"error": f"no route {self.path}"}).encode())
            else:
                error = {"error": f"{self.path} takes {allowed}, not {method}"}
                self._answer(405, json.dumps(error).encode(), Allow=allowed)
            return True

        def do_GET(self) -> None:
            if not self._misrouted("GET"):
                self._answer(200, b"")

        def do_POST(self) -> None:
            if self._misrouted("POST"):
                return
            length = int(self.headers.get("Content-Length") or 0)
            if limit is not None and length > limit:  # refused before the body is read into memory
                self.close_connection = True
                self._answer(
                    413, json.dumps({"error": f"payload is {length} bytes; the limit is {limit}"}).encode()
                )
                return
            body = self.rfile.read(length)
            try:
                data = handler_module.input_fn(body, self.headers.get("Content-Type"))
                if batcher is not None and Batcher.accepts(data):
                    prediction = batcher.predict(data)
                else:
                    with lock:
                        prediction = handler_module.predict_fn(data, model)
                answer = handler_module.output_fn(
                    prediction, self.headers.get("Accept") or "application/json"
                )
            except Exception as err:
                status = getattr(err, "status_code", None)
                if status is None:
                    LOG.exception("invocation failed")
                    status = 500
                self._answer(status, json.dumps({"error": str(err)}).encode())
                return
            body = answer.encode() if isinstance(answer, str) else answer
            if capture is not None:  # before the answer: a client that reads the capture next finds it
                try:
                    capture.record(body, inference_id=self.headers.get(INFERENCE_ID_HEADER))
                except OSError:  # a full or unwritable capture folder costs the record, not the answer
                    LOG.exception("could not capture the answer")
            self._answer(200, body)

    return ThreadingHTTPServer((host, port), Handler)


def serve(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description="serve a model archive with the SageMaker container contract"
    )
    parser.add_argument("--model-data", required=True, type=Path)
    parser.add_argument("--workdir", required=True, type=Path)
    parser.add_argument("--port", required=True, type=int)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--batching",
        choices=["on", "off"],
        default=os.environ.get("MEDTX_ENDPOINT_BATCHING", "on"),
        help="score requests that arrive together in one forward pass (MEDTX_ENDPOINT_BATCHING)",
    )
    parser.add_argument("--capture-dir", type=Path, help="capture answers under this folder")
    parser.add_argument("--capture-percent", type=int, default=0, help="the share of answers captured")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    module, model = load_handler(args.model_data, args.workdir)
    capture = Capture(args.capture_dir, args.capture_percent) if args.capture_percent else None
    server = make_server(module, model, args.port, args.host, batching=args.batching == "on", capture=capture)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    LOG.info("serving on http://%s:%d", args.host, args.port)
    server.serve_forever()


# -- management ----------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    with contextlib.suppress(ChildProcessError, OSError):  # reap it if it is our own exited child
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    return True


def ping(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/ping", timeout=timeout) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def spawn(
    model_data: Path,
    workdir: Path,
    log: Path,
    environment: dict[str, str] | None = None,
    arguments: list[str] | None = None,
) -> tuple[subprocess.Popen, str]:
    """Start a server process for ``model_data`` (``serve``, in its own session, unpacking into
    ``workdir``, writing ``log``) with the model container's ``environment`` on top of this process's,
    as the container would; returns it and its URL at once (``ready`` waits for it to answer)."""
    port = free_port()
    with log.open("a") as sink:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "pipeline.local.endpoint",
                "--model-data",
                str(model_data),
                "--workdir",
                str(workdir),
                "--port",
                str(port),
                *(arguments or []),
            ],
            stdout=sink,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **{k: str(v) for k, v in (environment or {}).items()}},
            start_new_session=True,  # outlives the run that started it, like an endpoint
        )
    return process, f"http://127.0.0.1:{port}"


def ready(process: subprocess.Popen, url: str, what: str, log: Path, wait_seconds: float = 600) -> None:
    """Wait until the server ``spawn`` started answers ``/ping``; ``EndpointError`` when it exits or
    does not answer within ``wait_seconds`` (``what`` names it). A server that does not answer in time,
    or whose wait is interrupted (Ctrl-C), is stopped before the error or the interruption goes on."""
    deadline = time.monotonic() + wait_seconds
    try:
        while not ping(url):
            if process.poll() is not None:
                raise EndpointError(f"{what} did not start (exit status {process.returncode}); see {log}")
            if time.monotonic() > deadline:
                raise EndpointError(f"{what} did not answer /ping within {wait_seconds:.0f} s; see {log}")
            time.sleep(0.5)
    except BaseException:
        stop_group(process.pid, timeout=10)
        raise


def start(
    store: Store,
    name: str,
    config_name: str,
    model_name: str,
    model_data: Path,
    environment: dict[str, str] | None = None,
    wait_seconds: float = 600,
    model_package: str | None = None,
    check: Callable[[str], dict[str, Any]] | None = None,
    capture: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Create or update endpoint ``name`` to serve ``model_data``; returns its record. The server runs
    with the model container's ``environment`` on top of this process's, as the container would.
    ``model_package``: the registry package the model comes from (``deploy_package``), recorded.
    ``check``: called with the new server's URL once it answers ``/ping``, before anything switches;
    when it raises, the new server is stopped and the endpoint keeps serving what it served (the
    error goes on as ``EndpointError``); what it returns is recorded as ``SmokeTest``.
    ``capture``: an endpoint config's ``DataCaptureConfig``; the server captures that share of its
    answers under the store's folder of ``DestinationS3Uri``, in SageMaker's layout."""
    from pipeline import deploy as contract

    previous = store.read_record(KIND, name)
    folder = store.record_dir(KIND) / name / config_name
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / "server.log"
    captured = []
    if capture and contract.capture_percent_of(capture):
        from pipeline import capture as capture_files

        bucket, key = capture_files.prefix(capture["DestinationS3Uri"], name)
        captured = [
            "--capture-dir",
            str(store.path(f"s3://{bucket}/{key}")),
            "--capture-percent",
            str(contract.capture_percent_of(capture)),
        ]
    process, url = spawn(model_data, folder, log, environment, captured)
    ready(process, url, f"endpoint {name}", log, wait_seconds)
    smoke = None
    if check is not None:
        try:
            smoke = check(url)
        except Exception as err:
            stop_group(process.pid, timeout=10)
            kept = _serving(previous)
            raise EndpointError(
                f"the new server for endpoint {name} failed its smoke request, so it was stopped: {err}. "
                + (f"The endpoint still serves {kept}." if kept else "Nothing was deployed.")
                + f" Its log: {log}"
            ) from err
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    record = {
        "EndpointName": name,
        "EndpointArn": arn("endpoint", name),
        "EndpointConfigName": config_name,
        "EndpointStatus": "InService",
        "ModelName": model_name,
        "ModelDataUrl": str(model_data),
        "Url": url,
        "Pid": process.pid,
        "Log": str(log),
        "CreationTime": (previous or {}).get("CreationTime", now),
        "LastModifiedTime": now,
    }
    if environment:
        record["Environment"] = {k: str(v) for k, v in environment.items()}
    if model_package:
        record["ModelPackageArn"] = model_package
    if smoke is not None:
        record["SmokeTest"] = smoke
    if captured:
        record["DataCaptureConfig"] = capture
    store.write_record(KIND, name, record)
    if previous and previous.get("Pid") != process.pid:
        stop_group(previous.get("Pid"), timeout=10)  # each server leads its own session
    return record


def _serving(record: dict[str, Any] | None) -> str | None:
    """What a live endpoint's record serves (its package, else its model); None when nothing runs."""
    if record is None or not (alive(record.get("Pid")) and ping(record["Url"])):
        return None
    return record.get("ModelPackageArn") or record["ModelName"]


def deploy_package(
    store: Store,
    name: str,
    package: dict[str, Any],
    force: bool = False,
    capture: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """``medtx deploy --local``: serve an Approved package of the local registry on endpoint ``name``,
    as the deploy project does in an account on approval, with one smoke request through the handler's
    JSON contract. A running endpoint is replaced blue/green: the new server must answer ``/ping`` and
    the smoke request before the endpoint switches to it and the old one stops (a new server that fails
    is stopped and the old one goes on serving). One that already serves the package is left as it is
    unless ``force`` or another ``capture`` (a ``DataCaptureConfig``, as ``medtx deploy`` builds it);
    it gets the smoke request. Returns the endpoint's record with ``Action`` and ``SmokeTest``."""
    from pipeline import deploy as contract

    served, state = package["ModelPackageArn"], package["ModelApprovalStatus"]
    if state != "Approved":
        raise EndpointError(
            f"{served} is {state}; only Approved packages are deployed "
            f"(`medtx models approve {package['ModelPackageVersion']}`)"
        )
    before = current(store, name)
    running = before is not None and before["EndpointStatus"] == "InService"
    same_capture = contract.capture_percent_of((before or {}).get("DataCaptureConfig")) == (
        contract.capture_percent_of(capture)
    )
    if (
        before is not None
        and running
        and before.get("ModelPackageArn") == served
        and same_capture
        and not force
    ):
        try:
            checked = smoke(before["Url"])
        except contract.DeployError as err:
            raise EndpointError(
                f"endpoint {name} serves {served} but failed its smoke request: {err}"
            ) from err
        return {**before, "Action": "unchanged: it already serves this package", "SmokeTest": checked}
    container = package["InferenceSpecification"]["Containers"][0]
    model_data = store.path(container["ModelDataUrl"])
    if not model_data.exists():
        raise EndpointError(f"{served}: its model archive {container['ModelDataUrl']} is not in the store")
    suffix = contract.name_suffix()  # to the millisecond: each deploy gets its own server folder
    record = start(
        store,
        name,
        f"{name}-{suffix}",
        f"{name}-{suffix}",
        model_data,
        container.get("Environment"),
        model_package=served,
        check=smoke,
        capture=capture,
    )
    return {**record, "Action": "updated (blue/green)" if running else "created"}


def record_champion(store: Store, package: dict[str, Any], destination: str) -> str:
    """``medtx deploy --local``'s part of the champion: the served package's archive and record in
    the store's folder of ``destination``, as ``pipeline.deploy.record_champion`` does in S3."""
    import shutil

    from pipeline import deploy as contract
    from scripts.medtx_config import CHAMPION_ARCHIVE, CHAMPION_RECORD

    model_data, record = contract.champion_files(package)
    folder = store.path(destination)
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(store.path(model_data), folder / CHAMPION_ARCHIVE)
    store.put_bytes(f"{destination}/{CHAMPION_RECORD}", record)
    return f"{destination}/{CHAMPION_ARCHIVE}"


def smoke(url: str) -> dict[str, Any]:
    """One request through the handler's JSON contract to the server at ``url``; its prediction, or
    ``DeployError`` saying what came back instead."""
    from pipeline import deploy as contract

    code, body = post(
        url, contract.request_body([contract.SMOKE_TEXT]), inference_id=contract.smoke_inference_id()
    )
    if code != 200:
        raise contract.DeployError(f"HTTP {code}: {body[:200].decode(errors='replace')}")
    return contract.smoke_prediction(body)


def _record(store: Store, name: str) -> dict[str, Any]:
    """The endpoint's record; a missing one is an error saying what makes it."""
    record = store.read_record(KIND, name)
    if record is None:
        raise EndpointError(f"no local endpoint {name!r} in {store.root} (medtx run --local makes one)")
    return record


def current(store: Store, name: str) -> dict[str, Any] | None:
    """The endpoint's record as ``status`` reads it, or None when there is no such endpoint."""
    return status(store, name) if store.read_record(KIND, name) else None


def status(store: Store, name: str) -> dict[str, Any]:
    record = _record(store, name)
    if record["EndpointStatus"] == "InService" and not (alive(record.get("Pid")) and ping(record["Url"])):
        record = {
            **record,
            "EndpointStatus": "Failed",
            "FailureReason": "the server process is not answering",
        }
    return record


def stop(store: Store, name: str) -> dict[str, Any]:
    record = _record(store, name)
    stop_group(record.get("Pid"), timeout=10)
    record.update(EndpointStatus="OutOfService", Pid=None)
    store.write_record(KIND, name, record)
    return record


def model_container(model: dict[str, Any]) -> dict[str, Any] | None:
    """A CreateModel request's (or a local model record's) one container: ``PrimaryContainer``, else
    the first of ``Containers``; None when it has neither."""
    return model.get("PrimaryContainer") or (model.get("Containers") or [None])[0]


def served_environment(store: Store, record: dict[str, Any]) -> dict[str, str] | None:
    """The container environment an endpoint's record serves with; a record written before the
    environment was kept takes its model's own (None: neither has one)."""
    if "Environment" in record:
        return record["Environment"]
    model = store.read_record("models", record["ModelName"]) or {}
    return (model_container(model) or {}).get("Environment")


def restart(store: Store, name: str) -> dict[str, Any]:
    """``medtx endpoint start``: serve a stopped (or crashed) endpoint's model again, as its record
    says (endpoint config, model archive, the container's environment, data capture), with the smoke
    request a deploy sends. One that answers is left as it is. Returns the record with ``Action``."""
    record = _record(store, name)
    if _serving(record):
        return {**record, "Action": "unchanged: it is serving"}
    model_data = Path(record["ModelDataUrl"])
    if not model_data.exists():
        raise EndpointError(f"endpoint {name}: its model archive {model_data} is gone; deploy a version")
    started = start(
        store,
        name,
        record["EndpointConfigName"],
        record["ModelName"],
        model_data,
        served_environment(store, record),
        model_package=record.get("ModelPackageArn"),
        check=smoke,
        capture=record.get("DataCaptureConfig"),
    )
    return {**started, "Action": "started"}


def invoke(
    store: Store,
    name: str,
    body: bytes,
    content_type: str = "application/json",
    timeout: float = 120,
    inference_id: str | None = None,
) -> tuple[int, bytes]:
    """POST ``body`` to the endpoint's ``/invocations``: (HTTP status, response body)."""
    record = status(store, name)
    if record["EndpointStatus"] != "InService":
        raise EndpointError(
            f"endpoint {name!r} is {record['EndpointStatus']}; `medtx endpoint start` serves its model "
            "again (`medtx run --local` deploys a new one)"
        )
    return post(record["Url"], body, content_type, timeout, inference_id)


#: The header SageMaker Runtime sends InvokeEndpoint's ``InferenceId`` in (data capture keeps it).
INFERENCE_ID_HEADER = "X-Amzn-SageMaker-Inference-Id"


def post(
    url: str,
    body: bytes,
    content_type: str = "application/json",
    timeout: float = 120,
    inference_id: str | None = None,
) -> tuple[int, bytes]:
    """POST ``body`` to the server's ``/invocations`` at ``url``: (HTTP status, response body)."""
    headers = {"Content-Type": content_type, "Accept": "application/json"}
    if inference_id:
        headers[INFERENCE_ID_HEADER] = inference_id
    request = urllib.request.Request(f"{url}/invocations", data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


if __name__ == "__main__":
    serve()
