"""QuickSight as code: manifests, data sources, datasets and the dashboards (Definition API): the
data (EDA), the model's performance (with its calibration, top-k accuracy, behavioural checks,
learning curve and the figures over retrainings), and once the endpoint's drift checks keep a history
(``endpoint predictions --publish``), its predictions in production.

``requests(...)`` builds every API request from the bucket's stable keys and the label set;
``apply(...)`` sends them idempotently (create, or update what exists); ``medtx quicksight --dry-run
--out DIR`` writes them as JSON files instead.

The model-performance figures are analysis-level calculated fields **generated for the actual label
set**: per class, precision, recall and F1 from ``countIf`` over ``model-performance.csv``; macro
precision, recall and F1 as the mean of the per-class fields, each class exactly once (the reference
design's hand-typed formulas counted one class twice). ``Metric`` objects render to QuickSight's
expression language and evaluate on a DataFrame with the same semantics (zero when a class has no
predictions or rows, as scikit-learn's ``zero_division=0``), which the tests compare to
scikit-learn.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline.capture import ESTIMATE_LEVEL, HISTORY_KEY
from pipeline.config import EVALUATION_HISTORY_PREFIX

DASHBOARD_ACTIONS = [
    "quicksight:DescribeDashboard",
    "quicksight:ListDashboardVersions",
    "quicksight:QueryDashboard",
]
DATASET_ACTIONS = [
    "quicksight:DescribeDataSet",
    "quicksight:DescribeDataSetPermissions",
    "quicksight:PassDataSet",
    "quicksight:DescribeIngestion",
    "quicksight:ListIngestions",
]
DATASOURCE_ACTIONS = [
    "quicksight:DescribeDataSource",
    "quicksight:DescribeDataSourcePermissions",
    "quicksight:PassDataSource",
]
PREFIX = "medtx"


# -- expressions -------------------------------------------------------------------------------------------
class Metric:
    """A QuickSight expression that can also be evaluated on the dataset's rows."""

    def render(self) -> str:
        raise NotImplementedError

    def evaluate(self, rows: pd.DataFrame, fields: dict[str, Metric]) -> float:
        raise NotImplementedError


def _literal(value: str) -> str:
    if "'" in value:
        raise ValueError(f"label {value!r} contains a single quote, which QuickSight literals cannot hold")
    return f"'{value}'"


@dataclass(frozen=True)
class CountIf(Metric):
    """Rows where every (column, value) pair matches; ``countIf({row_id}, a = 'x' AND b = 'y')``."""

    where: tuple[tuple[str, str], ...]

    def render(self) -> str:
        condition = " AND ".join(f"{{{column}}} = {_literal(value)}" for column, value in self.where)
        return f"countIf({{row_id}}, {condition})"

    def evaluate(self, rows, fields):
        mask = pd.Series(True, index=rows.index)
        for column, value in self.where:
            mask &= rows[column].astype(str) == value
        return float(mask.sum())


@dataclass(frozen=True)
class Ref(Metric):
    """Another calculated field, by name."""

    name: str

    def render(self) -> str:
        return f"{{{self.name}}}"

    def evaluate(self, rows, fields):
        return fields[self.name].evaluate(rows, fields)


@dataclass(frozen=True)
class Ratio(Metric):
    """``a / b``, 0 when ``b`` is 0."""

    numerator: Metric
    denominator: Metric

    def render(self) -> str:
        b = self.denominator.render()
        return f"ifelse({b} = 0, 0, {self.numerator.render()} / {b})"

    def evaluate(self, rows, fields):
        b = self.denominator.evaluate(rows, fields)
        return 0.0 if b == 0 else self.numerator.evaluate(rows, fields) / b


@dataclass(frozen=True)
class HarmonicMean(Metric):
    """``2PR / (P + R)``, 0 when ``P + R`` is 0 (F1)."""

    p: Metric
    r: Metric

    def render(self) -> str:
        p, r = self.p.render(), self.r.render()
        return f"ifelse({p} + {r} = 0, 0, 2 * {p} * {r} / ({p} + {r}))"

    def evaluate(self, rows, fields):
        p, r = self.p.evaluate(rows, fields), self.r.evaluate(rows, fields)
        return 0.0 if p + r == 0 else 2 * p * r / (p + r)


@dataclass(frozen=True)
class Mean(Metric):
    terms: tuple[Metric, ...]

    def render(self) -> str:
        return "(" + " + ".join(t.render() for t in self.terms) + f") / {len(self.terms)}"

    def evaluate(self, rows, fields):
        return sum(t.evaluate(rows, fields) for t in self.terms) / len(self.terms)


@dataclass(frozen=True)
class Accuracy(Metric):
    def render(self) -> str:
        return "countIf({row_id}, {target_label} = {pred_label}) / count({row_id})"

    def evaluate(self, rows, fields):
        return float((rows["target_label"].astype(str) == rows["pred_label"].astype(str)).mean())


def _slug(label: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")


def metric_fields(labels: list[str]) -> dict[str, Metric]:
    """Every calculated field of the model-performance dashboard, in definition order."""
    if len(set(labels)) != len(labels) or not labels:
        raise ValueError("the label set must be non-empty and without repeats")
    fields: dict[str, Metric] = {"Accuracy": Accuracy()}
    names: dict[str, list[str]] = {"precision": [], "recall": [], "f1": []}
    for i, label in enumerate(labels):
        key = f"{i:02d}_{_slug(label)}"
        p, r, f = f"precision_{key}", f"recall_{key}", f"f1_{key}"
        fields[p] = Ratio(
            CountIf((("pred_label", label), ("target_label", label))), CountIf((("pred_label", label),))
        )
        fields[r] = Ratio(
            CountIf((("pred_label", label), ("target_label", label))), CountIf((("target_label", label),))
        )
        fields[f] = HarmonicMean(Ref(p), Ref(r))
        names["precision"].append(p)
        names["recall"].append(r)
        names["f1"].append(f)
    fields["Macro Precision"] = Mean(tuple(Ref(n) for n in names["precision"]))
    fields["Macro Recall"] = Mean(tuple(Ref(n) for n in names["recall"]))
    fields["Macro F1"] = Mean(tuple(Ref(n) for n in names["f1"]))
    return fields


# -- requests ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Target:
    account_id: str
    region: str
    bucket: str
    principal: str  # user or group ARN the dashboards and datasets are shared with

    def arn(self, kind: str, name: str) -> str:
        return f"arn:aws:quicksight:{self.region}:{self.account_id}:{kind}/{name}"


#: dataset name -> (stable key in the bucket, columns and their QuickSight types)
DATASETS: dict[str, tuple[str, dict[str, str]]] = {
    "eda": (
        "preprocess/pre-processed/pre-processed.csv",
        {
            "row_id": "INTEGER",
            "description": "STRING",
            "sample_name": "STRING",
            "medical_specialty": "STRING",
            "label": "INTEGER",
            "text": "STRING",
            "text_words": "INTEGER",
            "split": "STRING",
        },
    ),
    "performance": (
        "preprocess/pre-processed/eval/model-performance.csv",
        {
            "row_id": "INTEGER",
            "text": "STRING",
            "target": "INTEGER",
            "pred": "INTEGER",
            "score": "DECIMAL",
            "target_label": "STRING",
            "pred_label": "STRING",
            "correct": "INTEGER",
        },
    ),
    "per-class": (
        "preprocess/pre-processed/eval/per-class-metrics.csv",
        {
            "label_id": "INTEGER",
            "label": "STRING",
            "precision": "DECIMAL",
            "recall": "DECIMAL",
            "f1": "DECIMAL",
            "support": "INTEGER",
            "predicted": "INTEGER",
        },
    ),
    "confusion": (
        "preprocess/pre-processed/eval/confusion-matrix.csv",
        {"target_label": "STRING", "pred_label": "STRING", "count": "INTEGER"},
    ),
    "behaviour": (
        "preprocess/pre-processed/eval/behaviour-checks.csv",
        {
            "check": "STRING",
            "description": "STRING",
            "texts_altered": "INTEGER",
            "texts_changed": "INTEGER",
            "agreement": "DECIMAL",
            "macro_f1": "DECIMAL",
            "macro_f1_change": "DECIMAL",
        },
    ),
    "top-k": (
        "preprocess/pre-processed/eval/top-k-accuracy.csv",
        {"k": "INTEGER", "model": "STRING", "accuracy": "DECIMAL"},
    ),
    "selective": (
        "preprocess/pre-processed/eval/selective-prediction.csv",
        {
            "model": "STRING",
            "threshold": "DECIMAL",
            "coverage": "DECIMAL",
            "notes": "INTEGER",
            "accuracy": "DECIMAL",
        },
    ),
    "training": (
        "preprocess/pre-processed/eval/training-history.csv",
        {
            "series": "STRING",
            "epoch": "DECIMAL",
            "step": "INTEGER",
            "loss": "DECIMAL",
            "macro_f1": "DECIMAL",
            "learning_rate": "DECIMAL",
        },
    ),
    # one row per execution, each in its own file under the prefix (the manifest reads them all)
    "quality": (
        EVALUATION_HISTORY_PREFIX,
        {
            "evaluated_at": "DATETIME",
            "execution_id": "STRING",
            "model_data": "STRING",
            "input_version": "STRING",
            "validation_rows": "INTEGER",
            "macro_f1": "DECIMAL",
            "macro_f1_low": "DECIMAL",
            "macro_f1_high": "DECIMAL",
            "accuracy": "DECIMAL",
            "weighted_f1": "DECIMAL",
            "baseline_macro_f1": "DECIMAL",
            "minus_baseline": "DECIMAL",
            "minus_baseline_low": "DECIMAL",
            "minus_baseline_high": "DECIMAL",
            "champion_served": "INTEGER",
            "champion_same_archive": "INTEGER",
            "champion_macro_f1": "DECIMAL",
            "minus_champion": "DECIMAL",
        },
    ),
    "predictions": (
        HISTORY_KEY,
        {
            "checked_at": "DATETIME",
            "endpoint": "STRING",
            "model_package": "STRING",
            "hours": "INTEGER",
            "predictions": "INTEGER",
            "psi": "DECIMAL",
            "total_variation": "DECIMAL",
            "mean_score": "DECIMAL",
            "validation_mean_score": "DECIMAL",
            "estimated_accuracy": "DECIMAL",
            "estimated_accuracy_low": "DECIMAL",
            "estimated_accuracy_high": "DECIMAL",
            "validation_accuracy": "DECIMAL",
            "review_threshold": "DECIMAL",
            "review_share": "DECIMAL",
            "validation_review_share": "DECIMAL",
            "review_share_low": "DECIMAL",
            "review_share_high": "DECIMAL",
            "held_out_review_share_low": "DECIMAL",
            "held_out_review_share_high": "DECIMAL",
            "label": "STRING",
            "traffic": "INTEGER",
            "traffic_share": "DECIMAL",
            "validation_share": "DECIMAL",
            "difference": "DECIMAL",
        },
    ),
}
#: Datasets whose file only exists once a scheduled drift check has written it: ``medtx quicksight``
#: creates them (and the production dashboard) when it does.
MONITORING = ("predictions",)
#: Datasets whose file (or, for a key ending in ``/``, prefix) only exists once something has written
#: it: name -> (what reads it, what writes it and when to run ``medtx quicksight`` again).
#: ``medtx quicksight`` leaves each out, with what reads it, until then (a manifest of a missing file
#: gives QuickSight nothing to read). ``quality``, ``behaviour`` and ``training`` come with this
#: version's Evaluate step, so a stack upgraded from an earlier one has none of them until its next
#: execution.
LATER: dict[str, tuple[str, str]] = {
    "predictions": (
        "production dashboard",
        "the stack's scheduled drift check writes it when the endpoint captures its answers; run "
        "`medtx quicksight` again after the first check",
    ),
    "quality": (
        "'Over retrainings' sheet on the model-performance dashboard",
        "the Evaluate step writes one row per execution from this version on; run `medtx quicksight` "
        "again after the next execution",
    ),
    "training": (
        "'Training' sheet (the learning curve) on the model-performance dashboard",
        "the Evaluate step writes it from this version on; run `medtx quicksight` again after the "
        "next execution",
    ),
    "top-k": (
        "top-k accuracy chart on the model-performance dashboard",
        "the Evaluate step writes it from this version on; run `medtx quicksight` again after the "
        "next execution",
    ),
    "selective": (
        "accuracy/coverage chart (selective prediction) on the model-performance dashboard",
        "the Evaluate step writes it from this version on; run `medtx quicksight` again after the "
        "next execution",
    ),
    "behaviour": (
        "behavioural checks' charts on the model-performance dashboard",
        "the Evaluate step writes them from this version on; run `medtx quicksight` again after the "
        "next execution",
    ),
}
#: How ``capture.history_rows`` writes ``checked_at`` and ``scripts/evaluate.py`` ``evaluated_at``
#: (QuickSight's date format).
DATETIME_FORMAT = "yyyy-MM-dd'T'HH:mm:ss'Z'"


def manifest(bucket: str, key: str) -> dict[str, Any]:
    """An S3 manifest of one file, or of every file under a prefix (a ``key`` ending in ``/``)."""
    where = "URIPrefixes" if key.endswith("/") else "URIs"
    return {
        "fileLocations": [{where: [f"s3://{bucket}/{key}"]}],
        "globalUploadSettings": {
            "format": "CSV",
            "delimiter": ",",
            "textqualifier": '"',
            "containsHeader": "true",
        },
    }


def manifest_key(name: str) -> str:
    return f"quicksight/manifests/{name}.json"


def data_source_request(target: Target, name: str) -> dict[str, Any]:
    return {
        "AwsAccountId": target.account_id,
        "DataSourceId": f"{PREFIX}-{name}",
        "Name": f"{PREFIX} {name}",
        "Type": "S3",
        "DataSourceParameters": {
            "S3Parameters": {"ManifestFileLocation": {"Bucket": target.bucket, "Key": manifest_key(name)}}
        },
        "Permissions": [{"Principal": target.principal, "Actions": DATASOURCE_ACTIONS}],
    }


def data_set_request(target: Target, name: str) -> dict[str, Any]:
    _, columns = DATASETS[name]
    transforms: list[dict[str, Any]] = [
        {
            "CastColumnTypeOperation": {
                "ColumnName": column,
                "NewColumnType": kind,
                **({"Format": DATETIME_FORMAT} if kind == "DATETIME" else {}),
            }
        }
        for column, kind in columns.items()
        if kind != "STRING"
    ]
    if name == "performance":  # the reference design's row-level field
        transforms.append(
            {
                "CreateColumnsOperation": {
                    "Columns": [
                        {
                            "ColumnName": "Correctness",
                            "ColumnId": "correctness",
                            "Expression": "ifelse({target_label} = {pred_label}, 'Correct', 'Incorrect')",
                        }
                    ]
                }
            }
        )
    return {
        "AwsAccountId": target.account_id,
        "DataSetId": f"{PREFIX}-{name}",
        "Name": f"{PREFIX} {name}",
        "ImportMode": "SPICE",
        "PhysicalTableMap": {
            "csv": {
                "S3Source": {
                    "DataSourceArn": target.arn("datasource", f"{PREFIX}-{name}"),
                    "UploadSettings": {
                        "Format": "CSV",
                        "ContainsHeader": True,
                        "Delimiter": ",",
                        "TextQualifier": "DOUBLE_QUOTE",
                    },
                    # S3 sources read every column as text; typed in the logical table below
                    "InputColumns": [{"Name": column, "Type": "STRING"} for column in columns],
                }
            }
        },
        "LogicalTableMap": {
            "table": {"Alias": name, "Source": {"PhysicalTableId": "csv"}, "DataTransforms": transforms}
        },
        "Permissions": [{"Principal": target.principal, "Actions": DATASET_ACTIONS}],
    }


def _title(text: str) -> dict[str, Any]:
    return {"Visibility": "VISIBLE", "FormatText": {"PlainText": text}}


def _dim(dataset: str, column: str) -> dict[str, Any]:
    return {
        "CategoricalDimensionField": {
            "FieldId": f"{dataset}.{column}",
            "Column": {"DataSetIdentifier": dataset, "ColumnName": column},
        }
    }


def _count(dataset: str, column: str) -> dict[str, Any]:
    return {
        "CategoricalMeasureField": {
            "FieldId": f"{dataset}.{column}.count",
            "Column": {"DataSetIdentifier": dataset, "ColumnName": column},
            "AggregationFunction": "COUNT",
        }
    }


def _number(dataset: str, column: str, aggregation: str = "SUM") -> dict[str, Any]:
    return {
        "NumericalMeasureField": {
            "FieldId": f"{dataset}.{column}.{aggregation.lower()}",
            "Column": {"DataSetIdentifier": dataset, "ColumnName": column},
            "AggregationFunction": {"SimpleNumericalAggregation": aggregation},
        }
    }


def _calculated(dataset: str, name: str) -> dict[str, Any]:
    return {
        "NumericalMeasureField": {
            "FieldId": f"calc.{name}",
            "Column": {"DataSetIdentifier": dataset, "ColumnName": name},
        }
    }


def _wells(category: dict, values: list[dict], colors: list[dict] | None) -> dict[str, Any]:
    """A bar or line chart's aggregated field wells: one category, its values, optional colours."""
    return {"Category": [category], "Values": values, **({"Colors": colors} if colors else {})}


def _bar(
    visual_id: str, title: str, category: dict, values: list[dict], colors: list[dict] | None = None
) -> dict:
    return {
        "BarChartVisual": {
            "VisualId": visual_id,
            "Title": _title(title),
            "ChartConfiguration": {
                "FieldWells": {"BarChartAggregatedFieldWells": _wells(category, values, colors)},
                "Orientation": "HORIZONTAL",
                "BarsArrangement": "CLUSTERED",
            },
        }
    }


def _line(
    visual_id: str,
    title: str,
    values: list[dict],
    colors: list[dict] | None = None,
    when: tuple[str, str, str] = ("predictions", "checked_at", "HOUR"),
    along: dict | None = None,
) -> dict:
    """A line chart of ``values`` over a date column (``when``: dataset, column, granularity; by
    default the drift checks' ``checked_at`` by hour), or along another dimension (``along``)."""
    dataset, column, granularity = when
    category = along or {
        "DateDimensionField": {
            "FieldId": f"{visual_id}.{column}",
            "Column": {"DataSetIdentifier": dataset, "ColumnName": column},
            "DateGranularity": granularity,
        }
    }
    return {
        "LineChartVisual": {
            "VisualId": visual_id,
            "Title": _title(title),
            "ChartConfiguration": {
                "FieldWells": {"LineChartAggregatedFieldWells": _wells(category, values, colors)}
            },
        }
    }


def _along(dataset: str, column: str, field_id: str | None = None) -> dict[str, Any]:
    """A numerical column as a line chart's x axis (``_line``'s ``along``), its field id by default
    ``<dataset>.<column>``."""
    return {
        "NumericalDimensionField": {
            "FieldId": field_id or f"{dataset}.{column}",
            "Column": {"DataSetIdentifier": dataset, "ColumnName": column},
        }
    }


def _dashboard(
    target: Target,
    name: str,
    title: str,
    datasets: list[str],
    sheets: list[dict],
    fields=None,
    filters: list[dict] | None = None,
) -> dict:
    definition: dict[str, Any] = {
        "DataSetIdentifierDeclarations": [
            {"Identifier": ds, "DataSetArn": target.arn("dataset", f"{PREFIX}-{ds}")} for ds in datasets
        ],
        "Sheets": sheets,
    }
    if fields:
        definition["CalculatedFields"] = fields
    if filters:
        definition["FilterGroups"] = filters
    return {
        "AwsAccountId": target.account_id,
        "DashboardId": f"{PREFIX}-{name}",
        "Name": title,
        "Definition": definition,
        "Permissions": [{"Principal": target.principal, "Actions": DASHBOARD_ACTIONS}],
        "DashboardPublishOptions": {"AdHocFilteringOption": {"AvailabilityStatus": "ENABLED"}},
    }


def eda_dashboard(target: Target) -> dict[str, Any]:
    visuals = [
        _bar(
            "specialties",
            "Transcripts per medical specialty",
            _dim("eda", "medical_specialty"),
            [_count("eda", "row_id")],
        ),
        _bar(
            "split",
            "Train and validation rows per specialty",
            _dim("eda", "medical_specialty"),
            [_count("eda", "row_id")],
            colors=[_dim("eda", "split")],
        ),
        {
            "TableVisual": {
                "VisualId": "subgroups",
                "Title": _title("Sample-name sub-groups per specialty"),
                "ChartConfiguration": {
                    "FieldWells": {
                        "TableAggregatedFieldWells": {
                            "GroupBy": [_dim("eda", "medical_specialty"), _dim("eda", "sample_name")],
                            "Values": [_count("eda", "row_id")],
                        }
                    }
                },
            }
        },
        {
            "WordCloudVisual": {
                "VisualId": "words",
                "Title": _title("Sample names (word cloud)"),
                "ChartConfiguration": {
                    "FieldWells": {
                        "WordCloudAggregatedFieldWells": {
                            "GroupBy": [_dim("eda", "sample_name")],
                            "Size": [_count("eda", "row_id")],
                        }
                    }
                },
            }
        },
        _bar(
            "length",
            "Average words per transcript by specialty",
            _dim("eda", "medical_specialty"),
            [_number("eda", "text_words", "AVERAGE")],
        ),
    ]
    return _dashboard(
        target, "eda", "medtx — EDA", ["eda"], [{"SheetId": "eda", "Name": "EDA", "Visuals": visuals}]
    )


def performance_dashboard(target: Target, labels: list[str], missing: Collection[str] = ()) -> dict[str, Any]:
    """The latest evaluation's figures, with its behavioural checks unless ``behaviour`` is
    ``missing``; unless ``training`` is, a sheet of the evaluated model's learning curve; unless
    ``quality`` is, a sheet of every evaluation's figures."""
    fields = metric_fields(labels)
    calculated = [
        {"DataSetIdentifier": "performance", "Name": name, "Expression": m.render()}
        for name, m in fields.items()
    ]
    calculated.append(
        {"DataSetIdentifier": "performance", "Name": SCORE_BIN, "Expression": SCORE_BIN_EXPRESSION}
    )
    kpis = [
        {
            "KPIVisual": {
                "VisualId": f"kpi-{name.lower().replace(' ', '-')}",
                "Title": _title(name),
                "ChartConfiguration": {"FieldWells": {"Values": [_calculated("performance", name)]}},
            }
        }
        for name in ("Accuracy", "Macro Precision", "Macro Recall", "Macro F1")
    ]
    visuals = [
        *kpis,
        {
            "PieChartVisual": {
                "VisualId": "correctness",
                "Title": _title("Correctness"),
                "ChartConfiguration": {
                    "FieldWells": {
                        "PieChartAggregatedFieldWells": {
                            "Category": [_dim("performance", "Correctness")],
                            "Values": [_count("performance", "row_id")],
                        }
                    }
                },
            }
        },
        _bar(
            "target",
            "Target distribution",
            _dim("performance", "target_label"),
            [_count("performance", "row_id")],
        ),
        _bar(
            "predicted",
            "Predicted distribution",
            _dim("performance", "pred_label"),
            [_count("performance", "row_id")],
        ),
        {
            "TableVisual": {
                "VisualId": "per-class",
                "Title": _title("Per-class precision, recall and F1"),
                "ChartConfiguration": {
                    "FieldWells": {
                        "TableAggregatedFieldWells": {
                            "GroupBy": [_dim("per-class", "label")],
                            "Values": [
                                _number("per-class", "precision", "MAX"),
                                _number("per-class", "recall", "MAX"),
                                _number("per-class", "f1", "MAX"),
                                _number("per-class", "support"),
                            ],
                        }
                    }
                },
            }
        },
        {
            "HeatMapVisual": {
                "VisualId": "confusion",
                "Title": _title("Confusion matrix (rows: target, columns: predicted)"),
                "ChartConfiguration": {
                    "FieldWells": {
                        "HeatMapAggregatedFieldWells": {
                            "Rows": [_dim("confusion", "target_label")],
                            "Columns": [_dim("confusion", "pred_label")],
                            "Values": [_number("confusion", "count")],
                        }
                    }
                },
            }
        },
    ]
    visuals.append(reliability_visual())
    datasets = ["performance", "per-class", "confusion"]
    if "top-k" not in missing:
        visuals.append(top_k_visual())
        datasets.append("top-k")
    if "selective" not in missing:
        visuals.append(selective_visual())
        datasets.append("selective")
    if "behaviour" not in missing:
        visuals += behaviour_visuals()
        datasets.append("behaviour")
    sheets = [{"SheetId": "performance", "Name": "Model performance", "Visuals": visuals}]
    if "training" not in missing:
        sheets.append({"SheetId": "training", "Name": "Training", "Visuals": training_visuals()})
        datasets.append("training")
    if "quality" not in missing:
        sheets.append({"SheetId": "retrainings", "Name": "Over retrainings", "Visuals": retraining_visuals()})
        datasets.append("quality")
    filters = [] if "training" in missing else [validation_only("training", "training-macro-f1")]
    return _dashboard(
        target, "model-performance", "medtx — model performance", datasets, sheets, calculated, filters
    )


#: The reliability diagram's bins: each row's top score in tenths, [0, 0.1) ... [0.9, 1] (as
#: ``scripts/evaluate.py``'s ``calibration`` with its default 10 bins).
SCORE_BIN = "Score bin"
SCORE_BIN_EXPRESSION = "ifelse({score} >= 1, 0.9, floor({score} * 10) / 10)"


def reliability_visual() -> dict[str, Any]:
    """How far a score can be read as a probability: per tenth of the top score, the share of its
    rows the model got right beside their mean score (a calibrated model's two lines coincide)."""
    return _line(
        "calibration",
        "Calibration: accuracy and mean top score per score bin (equal when scores are probabilities)",
        [_number("performance", "correct", "AVERAGE"), _number("performance", "score", "AVERAGE")],
        along=_along("performance", SCORE_BIN, "performance.score-bin"),
    )


def top_k_visual() -> dict[str, Any]:
    """How often the right specialty is among the first k the endpoint lists (``top-k-accuracy.csv``),
    k = 1 to ``EvalConfig.top_k``: the model beside the TF-IDF baseline."""
    return _line(
        "top-k",
        "Top-k accuracy: the right specialty among the first k listed, the model and the TF-IDF baseline",
        [_number("top-k", "accuracy", "MAX")],  # one row per k and model
        [_dim("top-k", "model")],
        along=_along("top-k", "k"),
    )


def selective_visual() -> dict[str, Any]:
    """What a score threshold buys when the notes scored below it go to a person
    (``selective-prediction.csv``): the accuracy of the notes answered against the share answered,
    the model beside the TF-IDF baseline (each point is one threshold; its value is in the table)."""
    return _line(
        "selective",
        "Selective prediction: accuracy of the notes answered at or above a score threshold, by the "
        "share answered",
        [_number("selective", "accuracy", "MAX")],  # one row per threshold and model
        [_dim("selective", "model")],
        along=_along("selective", "coverage"),
    )


def validation_only(sheet: str, visual: str) -> dict[str, Any]:
    """A filter group that keeps one visual of ``training-history.csv`` to its ``validation`` rows
    (the training rows carry no macro-F1)."""
    return {
        "FilterGroupId": f"{visual}-validation",
        "Filters": [
            {
                "CategoryFilter": {
                    "FilterId": f"{visual}-series",
                    "Column": {"DataSetIdentifier": "training", "ColumnName": "series"},
                    "Configuration": {
                        "FilterListConfiguration": {
                            "MatchOperator": "CONTAINS",
                            "CategoryValues": ["validation"],
                        }
                    },
                }
            }
        ],
        "ScopeConfiguration": {
            "SelectedSheets": {
                "SheetVisualScopingConfigurations": [
                    {"SheetId": sheet, "Scope": "SELECTED_VISUALS", "VisualIds": [visual]}
                ]
            }
        },
        "CrossDataset": "SINGLE_DATASET",
        "Status": "ENABLED",
    }


def training_visuals() -> list[dict[str, Any]]:
    """The learning curve of the latest evaluated model (``training-history.csv``): the training loss
    at each logging step beside the validation loss at each epoch's end, by epoch, and the
    validation macro-F1 by epoch."""
    epoch = _along("training", "epoch")

    by_epoch = lambda column: [_number("training", column, "MAX")]  # noqa: E731  (a row per series and epoch)
    return [
        _line(
            "training-loss",
            "Loss by epoch: training (each logging step) and validation (each epoch's end)",
            by_epoch("loss"),
            [_dim("training", "series")],
            along=epoch,
        ),
        _line(
            "training-macro-f1", "Validation macro-F1 at each epoch's end", by_epoch("macro_f1"), along=epoch
        ),
    ]


def behaviour_visuals() -> list[dict[str, Any]]:
    """The behavioural checks of the latest evaluation (``behaviour-checks.csv``, one row per check):
    the share of the notes each rewrote that kept their predicted label, and a table of the counts
    and the macro-F1 change."""
    one = lambda column: _number("behaviour", column, "MAX")  # noqa: E731  (one row per check)
    return [
        _bar(
            "behaviour-agreement",
            "Behavioural checks: share of the rewritten notes that kept their predicted label",
            _dim("behaviour", "check"),
            [one("agreement")],
        ),
        {
            "TableVisual": {
                "VisualId": "behaviour",
                "Title": _title("Behavioural checks: notes rewritten, labels changed, macro-F1 change"),
                "ChartConfiguration": {
                    "FieldWells": {
                        "TableAggregatedFieldWells": {
                            "GroupBy": [_dim("behaviour", "check"), _dim("behaviour", "description")],
                            "Values": [
                                one("texts_altered"),
                                one("texts_changed"),
                                one("agreement"),
                                one("macro_f1_change"),
                            ],
                        }
                    }
                },
            }
        },
    ]


def retraining_visuals() -> list[dict[str, Any]]:
    """The figures of every execution's evaluation (``quality``): the model against the TF-IDF
    baseline and the model it would replace, by day, and one row per evaluation with its interval,
    data version and archive."""
    when = ("quality", "evaluated_at", "DAY")
    best = lambda column: _number("quality", column, "MAX")  # noqa: E731  (one row per execution)
    return [
        _line(
            "quality-trend",
            "Macro-F1 of each retraining: the model, the TF-IDF baseline, the model it would replace",
            [best("macro_f1"), best("baseline_macro_f1"), best("champion_macro_f1")],
            when=when,
        ),
        _line(
            "quality-margins",
            "Macro-F1 minus the baseline's (with its interval's low end) and minus the served model's",
            [best("minus_baseline"), best("minus_baseline_low"), best("minus_champion")],
            when=when,
        ),
        {
            "TableVisual": {
                "VisualId": "evaluations",
                "Title": _title("Every evaluation: figures, interval, data version, archive"),
                "ChartConfiguration": {
                    "FieldWells": {
                        "TableAggregatedFieldWells": {
                            "GroupBy": [
                                _dim("quality", "execution_id"),
                                _dim("quality", "input_version"),
                                _dim("quality", "model_data"),
                            ],
                            "Values": [
                                best("macro_f1"),
                                best("macro_f1_low"),
                                best("macro_f1_high"),
                                best("baseline_macro_f1"),
                                best("minus_baseline"),
                                best("minus_champion"),
                                best("validation_rows"),
                            ],
                        }
                    }
                },
            }
        },
    ]


def production_dashboard(target: Target) -> dict[str, Any]:
    """The endpoint's predictions over time, from the drift checks' history: the PSI (the alarm's
    figure, 0.25 a major shift), each class's share of the traffic, how far each class's share is
    from validation, the traffic the checks read, the model's confidence against validation, and
    the traffic's accuracy estimated from its scores against the validation accuracy, and the share
    of the traffic scored below the review threshold against validation's."""
    by_endpoint = [_dim("predictions", "endpoint")]
    visuals = [
        _line(
            "psi",
            "PSI of the predicted classes against validation (0.25: a major shift)",
            [_number("predictions", "psi", "MAX")],
            by_endpoint,
        ),
        _line(
            "shares",
            "Share of the traffic per predicted class",
            [_number("predictions", "traffic_share", "AVERAGE")],
            [_dim("predictions", "label")],
        ),
        _bar(
            "difference",
            "Traffic share minus validation share per class (mean over the checks shown)",
            _dim("predictions", "label"),
            [_number("predictions", "difference", "AVERAGE")],
        ),
        _line(
            "volume",
            "Predictions each check read",
            [_number("predictions", "predictions", "MAX")],
            by_endpoint,
        ),
        _line(
            "confidence",
            "Mean top score: traffic against validation",
            [
                _number("predictions", "mean_score", "MAX"),
                _number("predictions", "validation_mean_score", "MAX"),
            ],
        ),
        _line(
            "accuracy",
            f"Accuracy: estimated from the traffic's scores (with its {100 * ESTIMATE_LEVEL:.0f}% interval) "
            "against validation",
            [
                _number("predictions", "estimated_accuracy", "MAX"),
                _number("predictions", "estimated_accuracy_low", "MAX"),
                _number("predictions", "estimated_accuracy_high", "MAX"),
                _number("predictions", "validation_accuracy", "MAX"),
            ],
        ),
        _line(
            "review",
            "To review: the share of predictions scored below the served version's threshold for its "
            f"target accuracy (with its {100 * ESTIMATE_LEVEL:.0f}% interval), traffic against validation "
            "and the range on held-out notes",
            [
                _number("predictions", "review_share", "MAX"),
                _number("predictions", "review_share_low", "MAX"),
                _number("predictions", "review_share_high", "MAX"),
                _number("predictions", "validation_review_share", "MAX"),
                _number("predictions", "held_out_review_share_low", "MAX"),
                _number("predictions", "held_out_review_share_high", "MAX"),
            ],
        ),
    ]
    return _dashboard(
        target,
        "production",
        "medtx — predictions in production",
        ["predictions"],
        [{"SheetId": "production", "Name": "Predictions in production", "Visuals": visuals}],
    )


def requests(target: Target, labels: list[str], missing: Collection[str] = ()) -> dict[str, Any]:
    """Everything ``apply`` sends, by kind and name, but for the ``missing`` datasets (of ``LATER``:
    their file is not written yet) and what reads them: without ``predictions``, the production
    dashboard; without ``quality``, the "Over retrainings" sheet; without ``behaviour``, the
    behavioural checks' charts; without ``top-k``, the top-k accuracy chart; without ``training``, the
    "Training" sheet."""
    names = [name for name in DATASETS if name not in missing]
    dashboards = {
        "eda": eda_dashboard(target),
        "model-performance": performance_dashboard(target, labels, missing),
    }
    if "predictions" not in missing:
        dashboards["production"] = production_dashboard(target)
    return {
        "manifests": {name: manifest(target.bucket, DATASETS[name][0]) for name in names},
        "data_sources": {name: data_source_request(target, name) for name in names},
        "data_sets": {name: data_set_request(target, name) for name in names},
        "dashboards": dashboards,
    }


def write(built: dict[str, Any], out: Path) -> list[Path]:
    """``--dry-run``: one JSON file per request."""
    written = []
    for kind, items in built.items():
        for name, body in items.items():
            path = out / kind / f"{name}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(body, indent=2) + "\n")
            written.append(path)
    return written


def apply(built: dict[str, Any], target: Target, s3: Any, quicksight: Any) -> dict[str, str]:
    """Create or update every resource; returns what was done to each (``created``/``updated``)."""
    from botocore.exceptions import ClientError

    def exists(call, **kwargs) -> bool:
        try:
            call(**kwargs)
            return True
        except ClientError as err:
            if err.response["Error"]["Code"] == "ResourceNotFoundException":
                return False
            raise

    done: dict[str, str] = {}
    for name, body in built["manifests"].items():
        s3.put_object(Bucket=target.bucket, Key=manifest_key(name), Body=json.dumps(body).encode())
        done[f"manifest/{name}"] = "written"
    account = {"AwsAccountId": target.account_id}
    for name, request in built["data_sources"].items():
        if exists(quicksight.describe_data_source, DataSourceId=request["DataSourceId"], **account):
            update = {k: v for k, v in request.items() if k not in ("Type", "Permissions")}
            quicksight.update_data_source(**update)
            done[f"data-source/{name}"] = "updated"
        else:
            quicksight.create_data_source(**request)
            done[f"data-source/{name}"] = "created"
    for name, request in built["data_sets"].items():
        try:
            quicksight.create_data_set(**request)
            done[f"data-set/{name}"] = "created"
        except ClientError as err:
            if err.response["Error"]["Code"] != "ResourceExistsException":
                raise
            quicksight.update_data_set(**{k: v for k, v in request.items() if k != "Permissions"})
            done[f"data-set/{name}"] = "updated"
    for name, request in built["dashboards"].items():
        if exists(quicksight.describe_dashboard, DashboardId=request["DashboardId"], **account):
            update = {k: v for k, v in request.items() if k != "Permissions"}
            quicksight.update_dashboard(**update)
            done[f"dashboard/{name}"] = "updated"
        else:
            quicksight.create_dashboard(**request)
            done[f"dashboard/{name}"] = "created"
    return done


def not_written(s3: Any, bucket: str) -> list[str]:
    """The ``LATER`` datasets whose file (or prefix) holds nothing in ``bucket`` yet."""
    missing = []
    for name in LATER:
        key = DATASETS[name][0]
        found = s3.list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=1).get("Contents", [])
        if not any(key.endswith("/") or item["Key"] == key for item in found):
            missing.append(name)
    return missing


def refresh(quicksight: Any, account_id: str, ingestion_id: str) -> dict[str, str]:
    """Start a SPICE ingestion of every dataset (after a pipeline execution or a drift check rewrote
    the stable keys); a dataset not created yet (the ``MONITORING`` ones before the first drift
    check) is reported as such."""
    from botocore.exceptions import ClientError

    started = {}
    for name in DATASETS:
        try:
            response = quicksight.create_ingestion(
                AwsAccountId=account_id,
                DataSetId=f"{PREFIX}-{name}",
                IngestionId=ingestion_id,
                IngestionType="FULL_REFRESH",
            )
        except ClientError as err:
            if err.response["Error"]["Code"] != "ResourceNotFoundException":
                raise
            started[name] = "not created"
            continue
        started[name] = response.get("IngestionStatus", "INITIALIZED")
    return started


def labels_from(label_map: dict[str, Any]) -> list[str]:
    """``label_map.json`` (``{"id2label": {"0": ...}}``) -> labels in id order."""
    id2label = label_map["id2label"]
    return [id2label[str(i)] for i in range(len(id2label))]
