"""The local dashboard: one self-contained HTML file (plotly, inlined, works offline) standing in for
the QuickSight dashboards, built from what runs and drift checks left in the local store.

EDA (from ``data-report.json`` and ``pre-processed.csv``): class counts before and after cleaning, rows
removed by reason with duplicates and conflicting labels, text length by specialty, sample-name
sub-groups per specialty, top terms per specialty. Model performance (from ``evaluation.json``,
``model-performance.csv``, ``per-class-metrics.csv``, ``confusion-matrix.csv``): headline figures
against the TF-IDF baseline, correctness, target vs predicted distribution, per-class precision,
recall and F1, the confusion matrix, top-k accuracy, the reliability diagram, selective prediction
and the behavioural checks, and every local run's evaluation over time (the rows of
QuickSight's "Over retrainings" sheet: ``evaluate.summary_row``). Training (from the Train job's
``train_metrics.json``, in its output archive): the learning curve. Predictions in production (from
the drift history that ``medtx endpoint predictions --publish`` keeps, ``capture.HISTORY_KEY``), once
a check was published: the PSI against validation, each class's share of the traffic, the shares'
difference to validation, the traffic each check read, the model's confidence, the estimated
accuracy and the share to review: the production QuickSight dashboard's charts. Last, the model
card of the version the execution registered.
"""

from __future__ import annotations

import html
import json
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline import capture
from pipeline.compare import container_module
from pipeline.local.jobs import training_archive
from pipeline.local.runner import executions, output_uri
from pipeline.local.store import Store
from pipeline.report import selective_reach
from scripts.medtx_config import TRAIN_METRICS_FILE

#: An axis of a share or score from 0 to 1, a little past 1 so a marker or error bar at 1 is drawn
#: whole rather than cut by the plot's edge.
SHARE_RANGE = [0, 1.04]

HEADLINE = ("accuracy", "macro_precision", "macro_recall", "macro_f1", "weighted_f1")


class DashboardError(ValueError):
    pass


@dataclass
class RunData:
    execution_id: str
    report: dict[str, Any]
    eda: pd.DataFrame
    evaluation: dict[str, Any]
    performance: pd.DataFrame
    per_class: pd.DataFrame
    confusion: pd.DataFrame
    history: pd.DataFrame
    #: the drift checks published for local endpoints (``capture.read_history``; empty: none yet)
    drift: pd.DataFrame
    #: the model card of the version the execution registered (``ModelCard``; None: none registered)
    card: dict[str, Any] | None = None
    #: the Train job's ``train_metrics.json`` (its learning curve; None: the job left no output archive)
    training: dict[str, Any] | None = None


def _output(properties: dict[str, Any], name: str) -> str:
    uri = output_uri(properties, name)
    if uri is None:
        raise DashboardError(f"step output {name!r} not found")
    return uri


def _evaluated(record: dict[str, Any]) -> bool:
    steps = record.get("Steps", {})
    return all(steps.get(s, {}).get("StepStatus") == "Succeeded" for s in ("Preprocess", "Evaluate"))


def load(store: Store, execution_id: str | None = None) -> RunData:
    """The files of one execution (default: the latest that got through evaluation) and the history."""
    records = [r for r in executions(store) if _evaluated(r)]
    if execution_id:
        records_by_id = {r["PipelineExecutionId"]: r for r in records}
        if execution_id not in records_by_id:
            raise DashboardError(f"no evaluated execution {execution_id!r} in {store.root}")
        chosen = records_by_id[execution_id]
    elif records:
        chosen = records[-1]
    else:
        raise DashboardError(
            f"no execution in {store.root} got as far as Evaluate: run `medtx run --local` first"
        )
    pre = chosen["Steps"]["Preprocess"]["Properties"]
    ev = chosen["Steps"]["Evaluate"]["Properties"]
    evaluation_dir = store.path(_output(ev, "evaluation"))
    # the rows of QuickSight's "Over retrainings" sheet, by the function that writes them
    # (``evaluation-summary.csv``), so runs from before that file read the same
    summary_row = container_module("evaluate", "medtx_evaluate").summary_row
    history = []
    for record in records:
        evaluate = record["Steps"]["Evaluate"]
        report = json.loads(
            (store.path(_output(evaluate["Properties"], "evaluation")) / "evaluation.json").read_text()
        )
        when = evaluate.get("EndTime") or record["StartTime"]
        history.append(summary_row(report, when, record["PipelineExecutionId"]))
    read = lambda path: pd.read_csv(path, keep_default_na=False)  # noqa: E731
    try:
        drift = capture.read_history(store)
    except capture.CaptureError as err:
        raise DashboardError(str(err)) from err
    return RunData(
        execution_id=chosen["PipelineExecutionId"],
        report=json.loads((store.path(_output(pre, "report")) / "data-report.json").read_text()),
        eda=read(store.path(_output(pre, "pre-processed")) / "pre-processed.csv"),
        evaluation=json.loads((evaluation_dir / "evaluation.json").read_text()),
        performance=read(evaluation_dir / "model-performance.csv"),
        per_class=read(evaluation_dir / "per-class-metrics.csv"),
        confusion=read(evaluation_dir / "confusion-matrix.csv"),
        history=pd.DataFrame(history),
        drift=drift,
        card=chosen["Steps"].get("RegisterModel", {}).get("Properties", {}).get("ModelCard"),
        training=training_metrics(store, chosen["Steps"].get("Train", {}).get("Properties", {})),
    )


def training_metrics(store: Store, job: dict[str, Any]) -> dict[str, Any] | None:
    """``train_metrics.json`` from a training job's output archive, where the service puts it
    (``jobs.training_archive``); None where the job left none."""
    name, output = job.get("TrainingJobName"), job.get("OutputDataConfig", {}).get("S3OutputPath")
    if not (name and output):
        return None
    archive = store.path(training_archive(output, name, "output.tar.gz"))
    if not archive.is_file():
        return None
    try:
        with tarfile.open(archive) as tar:
            member = tar.extractfile(TRAIN_METRICS_FILE)
            return json.loads(member.read()) if member else None
    except KeyError:  # an archive without the file
        return None
    except (tarfile.TarError, json.JSONDecodeError) as err:
        raise DashboardError(f"{archive}: cannot read {TRAIN_METRICS_FILE}: {err}") from err


def training_figures(training: dict[str, Any]) -> list[tuple[str, Any]]:
    """The learning curve: the training loss at each logging step and the Trainer's evaluation of the
    validation split at each epoch's end (loss, and macro-F1 on a second axis)."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    steps, epochs = training.get("train_history", []), training.get("eval_history", [])
    if not steps and not epochs:
        return []
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(
        go.Scatter(
            name="training loss",
            x=[e["epoch"] for e in steps],
            y=[e["loss"] for e in steps],
            mode="lines",
            text=[
                f"step {e.get('step')}, learning rate {e.get('learning_rate', float('nan')):.3g}"
                for e in steps
            ],
        )
    )
    for name, key, on_f1_axis in (
        ("validation loss", "eval_loss", False),
        ("validation macro-F1", "eval_macro_f1", True),
    ):
        fig.add_trace(
            go.Scatter(
                name=name,
                x=[e["epoch"] for e in epochs],
                y=[e.get(key) for e in epochs],
                mode="lines+markers",
                line={"dash": "dot"} if on_f1_axis else {},
            ),
            secondary_y=on_f1_axis,
        )
    fig.update_layout(height=360, xaxis_title="epoch")
    fig.update_yaxes(title_text="loss", rangemode="tozero", secondary_y=False)
    fig.update_yaxes(title_text="macro-F1", range=SHARE_RANGE, dtick=0.2, showgrid=False, secondary_y=True)
    if len(steps) > 1:
        logged = f"training loss every {steps[1]['step'] - steps[0]['step']} steps"
    elif steps:
        logged = f"training loss at step {steps[0]['step']}"
    else:
        logged = "no training loss logged (fewer steps than train.logging_steps)"
    evaluated = "the validation split at each epoch's end" if epochs else "no validation during training"
    return [(f"Learning curve: {logged}, {evaluated}", fig)]


#: The card's texts the dashboard shows, in order: (title, section, field).
CARD_TEXTS = (
    ("Purpose", "intended_uses", "purpose_of_model"),
    ("Intended uses", "intended_uses", "intended_uses"),
    ("What affects it", "intended_uses", "factors_affecting_model_efficiency"),
    ("Why this risk rating", "intended_uses", "explanations_for_risk_rating"),
    ("Training", "training_details", "training_observations"),
    ("Evaluation", None, "evaluation_observation"),
    ("Ethical considerations", "additional_information", "ethical_considerations"),
    ("Caveats and recommendations", "additional_information", "caveats_and_recommendations"),
)


def card_html(card: dict[str, Any] | None) -> str:
    """The registered version's model card (its texts; the figures are the charts above), or why
    there is none."""
    if not card or not card.get("ModelCardContent"):
        return "<p>No version was registered by this execution, so no model card (the gate did not pass).</p>"
    document = json.loads(card["ModelCardContent"])
    uses = document.get("intended_uses", {})
    rows = []
    for title, section, field in CARD_TEXTS:
        found = (
            (document.get("evaluation_details") or [{}])[0].get(field)
            if section is None
            else document.get(section, {}).get(field)
        )
        if found:
            rows.append(f"<tr><th>{html.escape(title)}</th><td>{html.escape(str(found))}</td></tr>")
    return (
        f"<p>Status {html.escape(card.get('ModelCardStatus', '?'))}, risk rating "
        f"{html.escape(uses.get('risk_rating', 'not stated'))} (Studio's Model Registry shows the same "
        "card with the version).</p>"
        f"<table class='card'>{''.join(rows)}</table>"
    )


# -- charts ------------------------------------------------------------------------------------------------
def top_terms(eda: pd.DataFrame, per_class: int = 8) -> pd.DataFrame:
    """The highest-weighted TF-IDF terms of each specialty's training texts (one row per specialty)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    grouped = eda.groupby("medical_specialty")["text"].apply(" ".join)
    vectorizer = TfidfVectorizer(
        stop_words="english", sublinear_tf=True, max_df=0.6, token_pattern=r"[a-z]{3,}"
    )
    weights = vectorizer.fit_transform(grouped.str.lower())
    terms = vectorizer.get_feature_names_out()
    rows = []
    for i, specialty in enumerate(grouped.index):
        row = weights[i].toarray().ravel()
        rows.append(
            {"specialty": specialty, "terms": ", ".join(terms[j] for j in row.argsort()[::-1][:per_class])}
        )
    return pd.DataFrame(rows)


def eda_figures(data: RunData) -> list[tuple[str, Any]]:
    import plotly.express as px
    import plotly.graph_objects as go

    report, eda = data.report, data.eda
    counts = pd.DataFrame(
        {
            "before cleaning": pd.Series(report["class_counts_raw"]),
            "after cleaning": pd.Series(report["class_counts_kept"]),
        }
    ).fillna(0)
    counts = counts.sort_values("before cleaning")
    classes = go.Figure(
        [go.Bar(name=col, y=counts.index, x=counts[col], orientation="h") for col in counts.columns],
        layout={"barmode": "group", "height": 26 * len(counts) + 120},
    )
    removed = {reason.replace("_", " "): count for reason, count in report.get("dropped", {}).items()}
    cleaning = go.Figure(
        [
            go.Bar(name="rows removed", x=list(removed.values()), y=list(removed), orientation="h"),
            go.Bar(  # not removed: a text filed under several specialties stays, once under each
                name="texts kept once per label",
                x=[report.get("conflicting_texts", 0)],
                y=["conflicting labels"],
                orientation="h",
            ),
        ]
    )
    cleaning.update_layout(xaxis_title="rows / texts", height=300)
    length = px.box(eda, x="text_words", y="medical_specialty", points=False, labels={"text_words": "words"})
    length.update_layout(height=26 * eda["medical_specialty"].nunique() + 120)
    groups = (
        eda.groupby(["medical_specialty", "sample_name"])
        .size()
        .rename("rows")
        .reset_index()
        .sort_values("rows", ascending=False)
    )
    groups = groups.groupby("medical_specialty").head(10)
    subgroups = px.treemap(groups, path=["medical_specialty", "sample_name"], values="rows")
    subgroups.update_layout(height=650)
    terms = top_terms(eda[eda["split"] == "train"] if "split" in eda else eda)
    table = go.Figure(
        go.Table(
            header={"values": ["specialty", "top terms (TF-IDF)"], "align": "left"},
            cells={"values": [terms["specialty"], terms["terms"]], "align": "left"},
            columnwidth=[1, 3],
        )
    )
    # A cell is 20 px tall unless its text wraps (the table then scrolls): no blank band below it.
    table.update_layout(height=21 * (len(terms) + 1) + 30, margin={"t": 10, "b": 10})
    return [
        ("Class counts before and after cleaning (the 23-class rule)", classes),
        (
            f"Rows removed by reason ({report['rows_in']} in, {report['rows_out']} out), and the texts "
            "filed under several specialties (kept)",
            cleaning,
        ),
        ("Text length by specialty", length),
        ("Sample-name sub-groups per specialty (top 10 each)", subgroups),
        ("Top terms per specialty", table),
    ]


def performance_figures(data: RunData) -> list[tuple[str, Any]]:
    import plotly.express as px
    import plotly.graph_objects as go

    metrics, baseline = (
        data.evaluation["multiclass_classification_metrics"],
        data.evaluation.get("baseline", {}),
    )
    values = [metrics[m]["value"] for m in HEADLINE]
    interval = data.evaluation.get("bootstrap", {}).get("interval", {})
    bars = (  # the bootstrap interval over the validation texts, where evaluation computed one
        {
            "error_y": {
                "type": "data",
                "symmetric": False,
                "array": [interval[m][1] - v for m, v in zip(HEADLINE, values, strict=True)],
                "arrayminus": [v - interval[m][0] for m, v in zip(HEADLINE, values, strict=True)],
            }
        }
        if all(m in interval for m in HEADLINE)
        else {}
    )
    compared = [
        go.Bar(name="transformer", x=list(HEADLINE), y=values, **bars),
        go.Bar(name="TF-IDF baseline", x=list(HEADLINE), y=[baseline.get(m) for m in HEADLINE]),
    ]
    champion = data.evaluation.get("champion") or {}
    if champion.get("served"):  # the model the endpoint served, scored on the same rows
        compared.append(go.Bar(name="served model", x=list(HEADLINE), y=[champion.get(m) for m in HEADLINE]))
    headline = go.Figure(
        compared, layout={"barmode": "group", "yaxis": {"range": SHARE_RANGE}, "height": 360}
    )
    perf = data.performance
    correct = int(perf["correct"].astype(bool).sum())
    correctness = go.Figure(
        go.Pie(labels=["correct", "wrong"], values=[correct, len(perf) - correct], hole=0.4)
    )
    correctness.update_layout(height=360)
    distribution = pd.DataFrame(
        {"target": perf["target_label"].value_counts(), "predicted": perf["pred_label"].value_counts()}
    ).fillna(0)
    distribution = distribution.sort_values("target")
    dist = go.Figure(
        [
            go.Bar(name=c, y=distribution.index, x=distribution[c], orientation="h")
            for c in distribution.columns
        ],
        layout={"barmode": "group", "height": 26 * len(distribution) + 120},
    )
    per_class = data.per_class.sort_values("f1")
    classes = go.Figure(
        [
            go.Bar(name=m, y=per_class["label"], x=per_class[m], orientation="h")
            for m in ("precision", "recall", "f1")
        ],
        layout={"barmode": "group", "height": 30 * len(per_class) + 120, "xaxis": {"range": SHARE_RANGE}},
    )
    matrix = data.confusion.pivot_table(
        index="target_label", columns="pred_label", values="count", fill_value=0
    )
    heatmap = px.imshow(
        matrix, text_auto=True, aspect="auto", labels={"x": "predicted", "y": "target", "color": "rows"}
    )
    heatmap.update_layout(height=30 * len(matrix) + 200)
    hist = data.history
    when = hist["evaluated_at"]
    interval = {}
    if hist["macro_f1_low"].notna().any():  # the bootstrap interval, where the evaluation computed one
        interval = {
            "error_y": {
                "type": "data",
                "array": hist["macro_f1_high"] - hist["macro_f1"],
                "arrayminus": hist["macro_f1"] - hist["macro_f1_low"],
            }
        }
    served = hist[hist["champion_served"] == 1]
    history = go.Figure(
        [
            go.Scatter(
                name="macro-F1 (95% interval)",
                x=when,
                y=hist["macro_f1"],
                mode="lines+markers",
                text=hist["execution_id"],
                **interval,
            ),
            go.Scatter(name="TF-IDF macro-F1", x=when, y=hist["baseline_macro_f1"], mode="lines+markers"),
            go.Scatter(
                name="served model's macro-F1",
                x=served["evaluated_at"],
                y=served["champion_macro_f1"],
                mode="markers",
                text=served["execution_id"],
            ),
        ],
        layout={
            "height": 340,
            "yaxis": {"range": SHARE_RANGE},
            "xaxis": {"title": "evaluated (UTC)", "type": "date"},
        },
    )
    if not hist.empty:
        history.update_xaxes(range=time_range(pd.to_datetime(when, utc=True)))
    n = data.evaluation.get("validation_rows", len(perf))
    against = "the TF-IDF baseline and the served model" if champion.get("served") else "the TF-IDF baseline"
    return [
        (f"Held-out figures against {against} ({n} rows)", headline),
        ("Correctness", correctness),
        ("Target vs predicted distribution", dist),
        ("Per-class precision, recall and F1", classes),
        ("Confusion matrix (rows: target, columns: predicted)", heatmap),
        *top_k_figures(data.evaluation),
        *reliability_figures(data.evaluation),
        *selective_figures(data.evaluation),
        *behaviour_figures(data.evaluation),
        (f"Over retrainings: every local run's evaluation ({len(hist)})", history),
    ]


def _by_model(evaluation: dict[str, Any], key: str) -> list[tuple[str, Any]]:
    """``evaluation[key]`` as the model's line and the baseline's own ``key`` as the TF-IDF
    baseline's (``None`` where evaluation fitted none, or before it computed ``key``)."""
    return [("model", evaluation[key]), ("TF-IDF baseline", (evaluation.get("baseline") or {}).get(key))]


def top_k_figures(evaluation: dict[str, Any]) -> list[tuple[str, Any]]:
    """How often the right specialty is among the first k listed (``evaluation.json``'s
    ``top_k_accuracy``), the model's and the baseline's, k on the axis; none for an evaluation that
    predates it."""
    import plotly.graph_objects as go

    found = evaluation.get("top_k_accuracy")
    if not found:
        return []
    sides = _by_model(evaluation, "top_k_accuracy")
    figure = go.Figure(
        [
            go.Scatter(
                name=name,
                x=[int(k.removeprefix("top_")) for k in figures],
                y=list(figures.values()),
                mode="lines+markers",
            )
            for name, figures in sides
            if figures
        ],
        layout={
            "height": 340,
            "xaxis": {"title": "k: classes listed", "dtick": 1},
            "yaxis": {"title": "right specialty among them", "range": SHARE_RANGE},
        },
    )
    return [("Top-k accuracy: the right specialty among the first k listed", figure)]


def reliability_figures(evaluation: dict[str, Any]) -> list[tuple[str, Any]]:
    """The reliability diagram (``evaluation.json``'s ``calibration``): per score bin, the accuracy of
    its rows against their mean top score, beside the diagonal a calibrated model would follow, the
    rows per bin on hover; none for an evaluation that predates it."""
    import plotly.graph_objects as go

    found = evaluation.get("calibration")
    if not found:
        return []
    bins = found["bins"]
    figure = go.Figure(
        [
            go.Scatter(
                name="calibrated", x=[0, 1], y=[0, 1], mode="lines", line={"dash": "dot", "color": "grey"}
            ),
            go.Scatter(
                name="accuracy per score bin",
                x=[b["mean_score"] for b in bins],
                y=[b["accuracy"] for b in bins],
                mode="lines+markers",
                marker={"size": [8 + 16 * (b["rows"] / max(c["rows"] for c in bins)) ** 0.5 for b in bins]},
                hovertext=[f"{b['rows']} rows scored {b['low']:.1f}-{b['high']:.1f}" for b in bins],
            ),
        ],
        layout={
            "height": 380,
            "xaxis": {"title": "mean top score", "range": SHARE_RANGE},
            "yaxis": {"title": "accuracy", "range": SHARE_RANGE},
        },
    )
    title = (
        f"Calibration: accuracy against the top score (ECE {found['expected_calibration_error']:.3f}, "
        f"mean score minus accuracy {found['overconfidence']:+.3f}"
        + (f", scores at temperature {found['temperature']:.2f}" if found.get("without_temperature") else "")
        + ")"
    )
    return [(title, figure)]


def selective_figures(evaluation: dict[str, Any]) -> list[tuple[str, Any]]:
    """What a score threshold buys when the notes scored below it go to a person (``evaluation.json``'s
    ``selective``): the accuracy of the notes answered against the share answered, the model's and the
    baseline's, each point's threshold on hover, beside the target accuracy, and the model's review
    thresholds marked on its curve (the in-sample one, and the guaranteed one); none for an evaluation
    that predates it."""
    import plotly.graph_objects as go

    found = evaluation.get("selective")
    if not found:
        return []
    sides = _by_model(evaluation, "selective")
    target = found["accuracy_target"]
    # the model's review thresholds: the one its validation notes reached the target at, and the one
    # that guarantees it (``guaranteed``, absent before it), where there is one
    marked = [
        (kind, found[key], f"score >= {found[key]['threshold']:.3f}: {found[key]['notes']} notes")
        for kind, key in (("in sample", "at_accuracy"), ("guaranteed", "guaranteed"))
        if (found.get(key) or {}).get("threshold") is not None
    ]
    figure = go.Figure(
        [
            go.Scatter(
                name=f"target {target:.0%}",
                x=[0, 1],
                y=[target, target],
                mode="lines",
                line={"dash": "dot", "color": "grey"},
            ),
            *(
                go.Scatter(
                    name=name,
                    x=[p["coverage"] for p in figures["curve"]],
                    y=[p["accuracy"] for p in figures["curve"]],
                    mode="lines+markers",
                    hovertext=[
                        f"score >= {p['threshold']:.3f}: {p['notes']} notes" for p in figures["curve"]
                    ],
                )
                for name, figures in sides
                if figures
            ),
            *(
                [
                    go.Scatter(
                        name="model's review thresholds",
                        x=[point["coverage"] for _, point, _ in marked],
                        y=[point["accuracy"] for _, point, _ in marked],
                        mode="markers+text",
                        text=[kind for kind, _, _ in marked],
                        textposition="bottom center",
                        marker={"symbol": "diamond", "size": 11},
                        hovertext=[hover for _, _, hover in marked],
                    )
                ]
                if marked
                else []
            ),
        ],
        layout={
            "height": 380,
            "xaxis": {
                "title": "share of notes answered (score at or above the threshold)",
                "range": SHARE_RANGE,
            },
            "yaxis": {"title": "accuracy of the notes answered", "range": SHARE_RANGE},
        },
    )
    return [
        (
            f"Selective prediction, {target:.0%} accuracy on the notes answered: {selective_reach(found)}",
            figure,
        )
    ]


def behaviour_figures(evaluation: dict[str, Any]) -> list[tuple[str, Any]]:
    """The behavioural checks (``evaluation.json``'s ``behaviour``): per check, the share of the notes
    it rewrote that kept their predicted label, with the count, the macro-F1 change and the most
    frequent change on hover; none when evaluation ran no check."""
    import plotly.graph_objects as go

    checks = {k: v for k, v in (evaluation.get("behaviour") or {}).items() if v.get("agreement") is not None}
    if not checks:
        return []
    names = [name.replace("_", " ") for name in checks]

    def hover(found: dict[str, Any]) -> str:
        moves = found.get("changes") or []
        top = f"; most often {moves[0]['from']} -> {moves[0]['to']} ({moves[0]['texts']})" if moves else ""
        return (
            f"{found['texts_altered'] - found['texts_changed']} of {found['texts_altered']} notes kept "
            f"their label; macro-F1 {found['macro_f1_change']:+.4f}{top}"
        )

    figure = go.Figure(
        go.Bar(
            x=[found["agreement"] for found in checks.values()],
            y=names,
            orientation="h",
            text=[f"{found['agreement']:.0%} of {found['texts_altered']}" for found in checks.values()],
            hovertext=[hover(found) for found in checks.values()],
        ),
        layout={"height": 60 * len(checks) + 120, "xaxis": {"range": SHARE_RANGE, "tickformat": ".0%"}},
    )
    return [("Behavioural checks: predicted label kept when a note is rewritten", figure)]


def time_range(times: pd.Series) -> list[pd.Timestamp]:
    """An x range for points in time: at least a day wide (a single point otherwise gets an axis of
    milliseconds), with a margin on each side so the first and last markers and their error bars are
    drawn whole."""
    first, last = times.min(), times.max()
    pad = max(pd.Timedelta(hours=12) - (last - first) / 2, (last - first) / 40)
    return [first - pad, last + pad]


def production_figures(drift: pd.DataFrame) -> list[tuple[str, Any]]:
    """The drift checks over time, one line per endpoint (per class for the shares)."""
    import plotly.express as px

    def over_time(
        frame: pd.DataFrame, y: str, by: str = "endpoint", bars: tuple[str, str] | None = None, **labels: str
    ) -> Any:
        """A line per ``by`` over the checks (dashed by endpoint when ``by`` is something else), with
        error bars from ``bars`` (the columns of the distance above and below) where given."""
        dashed = {} if by == "endpoint" else {"line_dash": "endpoint"}
        if bars:
            dashed.update(error_y=bars[0], error_y_minus=bars[1])
        labels = {"checked_at": "check (UTC)", **labels}
        return px.line(frame, x="checked_at", y=y, color=by, markers=True, labels=labels, **dashed)

    checks = drift.drop_duplicates(["checked_at", "endpoint"]).sort_values("checked_at")
    psi = over_time(checks.dropna(subset=["psi"]), "psi")
    for level, reading in ((capture.STABLE, "moderate"), (capture.MAJOR, "major")):
        psi.add_hline(
            y=level,
            line_dash="dot",
            annotation_text=f"{reading} shift above {level}",
            exclude_empty_subplots=False,  # drawn before the first PSI too
        )
    # the thresholds in view before the first PSI (or below every one)
    highest = checks["psi"].max(skipna=True)
    psi.update_yaxes(range=[0, max(1.2 * capture.MAJOR, 1.1 * (0 if pd.isna(highest) else highest))])
    served = drift[drift["label"] != ""].sort_values(["checked_at", "label"])
    shares = over_time(served, "traffic_share", by="label", traffic_share="share of the traffic")
    latest = served[served["checked_at"] == served.groupby("endpoint")["checked_at"].transform("max")]
    difference = px.bar(
        latest.sort_values("difference"),
        x="difference",
        y="label",
        color="endpoint",
        orientation="h",
        barmode="group",
        labels={"difference": "traffic share minus validation share"},
    )
    volume = over_time(checks, "predictions")

    def beside_validation(figure: str, columns: dict[str, str], interval: str | None = None) -> Any:
        """A traffic figure and its validation counterpart over the checks (``columns``: column ->
        line name), a line each; the column named ``interval`` with error bars from its ``_low`` and
        ``_high`` columns (none where a check has none)."""
        # only these columns: a line's name may be a history column's too (``traffic``, a class's count)
        frame, bars = checks[["checked_at", "endpoint", *columns]], None
        if interval:
            bars = ("above", "below")
            frame = frame.assign(
                above=checks[f"{interval}_high"] - checks[interval],
                below=checks[interval] - checks[f"{interval}_low"],
            )
        both = frame.rename(columns=columns).melt(
            id_vars=["checked_at", "endpoint", *(bars or ())],
            value_vars=list(columns.values()),
            var_name="on",
            value_name=figure,
        )
        if interval and bars:  # only the traffic's line is an estimate
            both.loc[both["on"] != columns[interval], list(bars)] = float("nan")
        return over_time(both.dropna(subset=[figure]), figure, by="on", bars=bars)

    confidence = beside_validation(
        "mean top score", {"mean_score": "traffic", "validation_mean_score": "validation"}
    )
    accuracy = beside_validation(
        "accuracy",
        {"estimated_accuracy": "traffic (estimated)", "validation_accuracy": "validation"},
        interval="estimated_accuracy",
    )
    review = beside_validation(
        "share to review",
        {
            "review_share": "traffic",
            "validation_review_share": "validation",
            "held_out_review_share_low": "held out: low end",
            "held_out_review_share_high": "held out: high end",
        },
        interval="review_share",
    )
    for figure in (psi, shares, volume, confidence, accuracy, review):
        figure.update_layout(height=340)
        figure.update_xaxes(type="date", range=time_range(checks["checked_at"]))
    difference.update_layout(height=26 * max(latest["label"].nunique(), 1) + 120)
    without_psi = int(checks["psi"].isna().sum())
    note = (
        f"; {_checks(without_psi)} with fewer than {capture.FEW} predictions: no PSI" if without_psi else ""
    )
    return [
        (f"PSI of the predicted classes against validation ({_checks(len(checks))}{note})", psi),
        ("Share of the traffic per predicted class", shares),
        ("Traffic share minus validation share per class, latest check", difference),
        ("Predictions each check read", volume),
        ("Mean top score: traffic against validation", confidence),
        (
            f"Accuracy: estimated from the traffic's scores (with its {100 * capture.ESTIMATE_LEVEL:.0f}% "
            "interval) against validation",
            accuracy,
        ),
        (
            "To review: the share of predictions scored below the served version's threshold for its target "
            f"accuracy (with its {100 * capture.ESTIMATE_LEVEL:.0f}% interval), traffic against validation "
            "and the range on held-out notes",
            review,
        ),
    ]


def _checks(n: int) -> str:
    return f"{n} check" + ("" if n == 1 else "s")


def render(data: RunData) -> str:
    """One HTML page; plotly.js inlined once, so it opens offline from disk."""
    import plotly.io as pio

    sections = [("EDA", eda_figures(data))]
    if data.training and (curve := training_figures(data.training)):
        sections.append(("Training", curve))
    sections.append(("Model performance", performance_figures(data)))
    if not data.drift.empty:
        sections.append(("Predictions in production", production_figures(data.drift)))
    parts, first = [], True
    for heading, charts in sections:
        parts.append(f"<h2>{html.escape(heading)}</h2>")
        for title, fig in charts:
            # the top margin holds plotly's toolbar, which otherwise covers the legend's first entries
            fig.update_layout(
                title=None, margin={"l": 10, "r": 10, "t": 32, "b": 10}, template="plotly_white"
            )
            body = pio.to_html(fig, full_html=False, include_plotlyjs=first, config={"displaylogo": False})
            first = False
            parts.append(f'<section class="chart"><h3>{html.escape(title)}</h3>{body}</section>')
    metrics = data.evaluation["multiclass_classification_metrics"]
    baseline = data.evaluation.get("baseline", {}).get("macro_f1", float("nan"))
    parts.append(f"<h2>Model card</h2>{card_html(data.card)}")
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>medtx dashboard</title>"
        "<style>body{font-family:sans-serif;margin:24px;max-width:1200px}"
        "section.chart{margin:0 0 28px}h3{font-size:15px;margin:6px 0}"
        "table.card th{text-align:left;vertical-align:top;padding:4px 12px 4px 0;white-space:nowrap}"
        "table.card td{padding:4px 0}</style></head><body>"
        f"<h1>medtx: execution {html.escape(data.execution_id)}</h1>"
        f"<p>macro-F1 {metrics['macro_f1']['value']:.4f}, accuracy {metrics['accuracy']['value']:.4f}; "
        f"TF-IDF baseline macro-F1 {baseline:.4f}{html.escape(_against_champion(data.evaluation))}</p>"
        + "".join(parts)
        + "</body></html>"
    )


def _against_champion(evaluation: dict[str, Any]) -> str:
    """The header's clause on the served model, when one was scored on the same rows."""
    champion = evaluation.get("champion") or {}
    if not champion.get("served"):
        return ""
    if champion.get("same_archive") or champion.get("rows_predicted_differently") == 0:
        same = "the served model predicts the same class on every row"
        return f"; {same} (macro-F1 {champion['macro_f1']:.4f})"
    return (
        f"; the served model's {champion['macro_f1']:.4f} "
        f"(difference {evaluation['macro_f1_minus_champion']:+.4f})"
    )


def write(store: Store, out: Path | None = None, execution_id: str | None = None) -> Path:
    data = load(store, execution_id)
    out = out or store.root / "dashboard.html"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(data), encoding="utf-8")
    return out
