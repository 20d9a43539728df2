"""The pipeline definition, built under moto: shape, parameters, wiring, images, policies, reproducibility."""

from __future__ import annotations

import json
import re

import pytest
from aws_helpers import BUCKET, REGION, ROLE, container_flags, flatten

from pipeline.config import PipelineConfig
from pipeline.definition import RECORDED_PARAMETERS


def test_top_level_steps_in_order(built):
    _, definition = built
    assert [(s["Name"], s["Type"]) for s in definition["Steps"]] == [
        ("Preprocess", "Processing"),
        ("Train", "Training"),
        ("Evaluate", "Processing"),
        ("CheckQuality", "Condition"),
    ]


def test_every_step_says_what_it_does(built):
    """Studio shows a step's ``Description`` beside it in the pipeline's graph."""
    _, definition = built
    for name, step in flatten(definition["Steps"]).items():
        assert 20 <= len(step.get("Description", "")) <= 3072, name


def test_condition_branches(built):
    _, definition = built
    gate = flatten(definition["Steps"])["CheckQuality"]["Arguments"]
    assert [s["Name"] for s in gate["IfSteps"]] == ["RegisterModel", "CreateModel", "CheckDeploy"]
    assert [(s["Name"], s["Type"]) for s in gate["ElseSteps"]] == [("QualityGateFailed", "Fail")]
    deploy = flatten(definition["Steps"])["CheckDeploy"]["Arguments"]
    assert [(s["Name"], s["Type"]) for s in deploy["IfSteps"]] == [
        ("EndpointConfig", "EndpointConfig"),
        ("Endpoint", "Endpoint"),
        ("RecordChampion", "Processing"),
    ]
    # the deployed archive becomes the champion the next executions' Evaluate step reads
    (record,) = [s for s in deploy["IfSteps"] if s["Name"] == "RecordChampion"]
    assert record["DependsOn"] == ["Endpoint"]
    (champion,) = record["Arguments"]["ProcessingOutputConfig"]["Outputs"]
    assert champion["S3Output"]["S3Uri"] == PipelineConfig().champion_uri(BUCKET)
    arguments = record["Arguments"]["AppSpecification"]["ContainerArguments"]
    assert {"Get": "Steps.RegisterModel.ModelPackageArn"} in arguments
    assert deploy["Conditions"] == [
        {"Type": "Equals", "LeftValue": {"Get": "Parameters.DeployModel"}, "RightValue": "true"}
    ]


def test_parameters_and_defaults_come_from_the_config(built):
    _, definition = built
    cfg = PipelineConfig()
    params = {p["Name"]: p for p in definition["Parameters"]}
    expected = {
        "InputDataUri": f"s3://{BUCKET}/dataset/dataset.csv",
        "InputDataVersion": "unversioned",  # medtx start and run fill it in
        "ProcessingInstanceType": cfg.processing_instance_type,
        "TrainingInstanceType": cfg.training_instance_type,
        "TrainingInstanceCount": cfg.training_instance_count,
        "EvaluationInstanceType": cfg.evaluation_instance_type,
        "ModelName": "distilbert-base-uncased",
        "MaxLength": "512",
        "Epochs": "3",
        "LearningRate": "5e-05",
        "TrainBatchSize": str(cfg.train.train_batch_size),
        "MinClassSamples": "30",
        "MinMacroF1": cfg.min_macro_f1,
        "MinBaselineMargin": cfg.min_baseline_margin,
        "MinChampionMargin": cfg.min_champion_margin,
        "MinBehaviourAgreement": cfg.min_behaviour_agreement,
        "ModelApprovalStatus": "PendingManualApproval",
        "DeployModel": "false",
        "EndpointInstanceType": cfg.endpoint_instance_type,
        "SourceCommit": "unrecorded",  # medtx start and run fill it in
    }
    assert {name: p["DefaultValue"] for name, p in params.items()} == expected
    assert params["TrainingInstanceCount"]["Type"] == "Integer"
    assert params["MinMacroF1"]["Type"] == "Float"


def test_train_reads_preprocess_outputs_and_hyperparameters_are_strings(built):
    _, definition = built
    train = flatten(definition["Steps"])["Train"]["Arguments"]
    channels = {c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"] for c in train["InputDataConfig"]}
    assert channels["train"] == {
        "Get": "Steps.Preprocess.ProcessingOutputConfig.Outputs['train'].S3Output.S3Uri"
    }
    assert channels["test"] == {
        "Get": "Steps.Preprocess.ProcessingOutputConfig.Outputs['test'].S3Output.S3Uri"
    }
    assert channels["code"].startswith(f"s3://{BUCKET}/code/train-")  # its own bundle of scripts/
    assert channels["sm_drivers"].startswith(f"s3://{BUCKET}/code/sm_drivers-")
    for value in train["HyperParameters"].values():
        assert isinstance(value, str) or (set(value) == {"Get"} and value["Get"].startswith("Parameters."))
    assert train["HyperParameters"]["epochs"] == {"Get": "Parameters.Epochs"}
    assert train["ResourceConfig"]["InstanceType"] == {"Get": "Parameters.TrainingInstanceType"}
    assert train["OutputDataConfig"]["S3OutputPath"] == f"s3://{BUCKET}/models"
    # checkpoints go where SageMaker syncs them from; the script is told that folder
    assert train["HyperParameters"]["checkpoint-dir"] == train["CheckpointConfig"]["LocalPath"]
    assert train["HyperParameters"]["save-steps"] == "0"
    assert train["HyperParameters"]["logging-steps"] == "20"
    # the SDK-3 driver runs the entry script
    assert train["AlgorithmSpecification"]["ContainerEntrypoint"] == ["/bin/bash"]
    assert "sm_drivers/sm_train.sh" in train["AlgorithmSpecification"]["ContainerArguments"][1]


def test_train_reports_its_metrics_to_sagemaker(built):
    """The job's MetricDefinitions read what train.py prints, within the service's limits."""
    import botocore.session

    from scripts.medtx_config import MLM_METRICS, TRAINING_METRICS, metric_line

    _, definition = built
    spec = flatten(definition["Steps"])["Train"]["Arguments"]["AlgorithmSpecification"]
    metrics = {d["Name"]: d["Regex"] for d in spec["MetricDefinitions"]}
    assert set(metrics) == {*TRAINING_METRICS.values(), *MLM_METRICS.values()}
    model = botocore.session.get_session().get_service_model("sagemaker")
    assert len(metrics) <= model.shape_for("MetricDefinitionList").metadata["max"]
    assert all(len(regex) <= model.shape_for("MetricRegex").metadata["max"] for regex in metrics.values())
    # a log of the Trainer's, as train.py prints it, gives each metric its own value back
    logs = {key: (i + 1) / 4 for i, key in enumerate(TRAINING_METRICS)} | {"epoch": 2.0, "eval_runtime": 9}
    line = metric_line(logs, TRAINING_METRICS)
    assert line is not None
    for key, name in TRAINING_METRICS.items():
        found = re.search(metrics[name], line)
        assert found and float(found.group(1)) == logs[key], name
    assert re.search(metrics["mlm:loss"], line) is None
    assert metric_line({"eval_runtime": 9.0, "eval_loss": float("nan")}, TRAINING_METRICS) is None


def test_evaluate_reads_model_artifact_and_publishes_stable_keys(built):
    _, definition = built
    steps = flatten(definition["Steps"])
    evaluate = steps["Evaluate"]["Arguments"]
    inputs = {i["InputName"]: i["S3Input"]["S3Uri"] for i in evaluate["ProcessingInputs"]}
    assert inputs["model"] == {"Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"}
    # what it evaluates is named in evaluation.json: the archive (the same one as the champion's is
    # not scored twice) and the data version it was trained on, which the registries list
    arguments = evaluate["AppSpecification"]["ContainerArguments"]
    assert arguments[arguments.index("--model-data") + 1] == inputs["model"]
    assert arguments[arguments.index("--input-version") + 1] == {"Get": "Parameters.InputDataVersion"}
    assert inputs["validation"] == {
        "Get": "Steps.Preprocess.ProcessingOutputConfig.Outputs['eval'].S3Output.S3Uri"
    }
    outputs = {o["OutputName"]: o["S3Output"]["S3Uri"] for o in evaluate["ProcessingOutputConfig"]["Outputs"]}
    assert outputs["publish"] == f"s3://{BUCKET}/preprocess/pre-processed/eval"
    assert "Execution.PipelineExecutionId" in json.dumps(outputs["evaluation"])  # per-execution copy
    # the headline row of the figures over retrainings: its own key per execution, never rewritten
    execution = {"Get": "Execution.PipelineExecutionId"}
    assert outputs["history"] == {
        "Std:Join": {"On": "/", "Values": [f"s3://{BUCKET}/history/evaluations", execution]}
    }
    assert arguments[arguments.index("--execution-id") + 1] == execution
    assert steps["Evaluate"]["PropertyFiles"] == [
        {"PropertyFileName": "EvaluationReport", "OutputName": "evaluation", "FilePath": "evaluation.json"}
    ]
    preprocess = steps["Preprocess"]["Arguments"]
    pre_outputs = {
        o["OutputName"]: o["S3Output"]["S3Uri"] for o in preprocess["ProcessingOutputConfig"]["Outputs"]
    }
    assert pre_outputs["publish"] == f"s3://{BUCKET}/preprocess"
    assert all(
        "Execution.PipelineExecutionId" in json.dumps(v) for k, v in pre_outputs.items() if k != "publish"
    )
    raw = {i["InputName"]: i["S3Input"]["S3Uri"] for i in preprocess["ProcessingInputs"]}["raw"]
    assert raw == {"Get": "Parameters.InputDataUri"}


def test_condition_reads_evaluation_json_and_fail_message_names_figures(built):
    _, definition = built
    steps = flatten(definition["Steps"])
    conditions = steps["CheckQuality"]["Arguments"]["Conditions"]
    paths = [c["LeftValue"]["Std:JsonGet"]["Path"] for c in conditions]
    assert paths == [
        "multiclass_classification_metrics.macro_f1.value",
        "macro_f1_minus_baseline",
        "macro_f1_minus_champion",
        "behaviour_agreement.value",
    ]
    assert all(
        c["LeftValue"]["Std:JsonGet"]["PropertyFile"]
        == {"Get": "Steps.Evaluate.PropertyFiles.EvaluationReport"}
        for c in conditions
    )
    assert [c["RightValue"] for c in conditions] == [
        {"Get": "Parameters.MinMacroF1"},
        {"Get": "Parameters.MinBaselineMargin"},
        {"Get": "Parameters.MinChampionMargin"},
        {"Get": "Parameters.MinBehaviourAgreement"},
    ]
    message = json.dumps(steps["QualityGateFailed"]["Arguments"]["ErrorMessage"])
    assert "MinMacroF1" in message and "text.baseline_macro_f1" in message
    assert "text.champion_macro_f1" in message  # evaluation.json's figures to four decimals
    # the Evaluate step reads the served model's folder, which the build marks so it is never empty
    evaluate = steps["Evaluate"]["Arguments"]
    (champion,) = [i for i in evaluate["ProcessingInputs"] if i["InputName"] == "champion"]
    assert champion["S3Input"]["S3Uri"] == PipelineConfig().champion_uri(BUCKET)
    assert "--champion" in evaluate["AppSpecification"]["ContainerArguments"]


def test_register_uses_inference_dlc_metrics_and_approval_parameter(built):
    _, definition = built
    steps = flatten(definition["Steps"])
    register = steps["RegisterModel"]["Arguments"]
    container = register["InferenceSpecification"]["Containers"][0]
    assert "huggingface-pytorch-inference" in container["Image"] and "transformers5.5.3" in container["Image"]
    assert container["ModelDataUrl"] == {"Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"}
    assert register["ModelApprovalStatus"] == {"Get": "Parameters.ModelApprovalStatus"}
    assert register["ModelPackageGroupName"] == PipelineConfig().model_package_group
    assert "evaluation.json" in json.dumps(register["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"])
    # what the version is made of, on the package (Studio's custom metadata): data, model, code, execution
    made_of = register["CustomerMetadataProperties"]
    channels = steps["Train"]["Arguments"]["InputDataConfig"]
    (trained_by,) = [c["DataSource"]["S3DataSource"]["S3Uri"] for c in channels if c["ChannelName"] == "code"]
    inputs = steps["Evaluate"]["Arguments"]["ProcessingInputs"]
    (measured_by,) = [i["S3Input"]["S3Uri"] for i in inputs if i["InputName"] == "code"]
    assert made_of.pop("CodeBundle") == trained_by.rstrip("/")  # Train's content-addressed bundle
    assert made_of.pop("EvaluationCodeBundle") == measured_by.rstrip("/")
    assert made_of == {
        "InputDataUri": {"Get": "Parameters.InputDataUri"},
        "InputDataVersion": {"Get": "Parameters.InputDataVersion"},
        "BaseModel": {"Get": "Parameters.ModelName"},
        "SourceCommit": {"Get": "Parameters.SourceCommit"},
        "PipelineExecutionId": {"Get": "Execution.PipelineExecutionId"},
    }
    # the parameters recorded there are the ones `start`/`run` check before anything starts
    recorded = {v["Get"].removeprefix("Parameters.") for v in made_of.values() if "Parameters." in v["Get"]}
    assert recorded == set(RECORDED_PARAMETERS)
    create = steps["CreateModel"]["Arguments"]["PrimaryContainer"]
    assert create["ModelDataUrl"] == {"Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"}
    assert steps["CreateModel"]["Arguments"]["ModelName"] == PipelineConfig().endpoint_name  # a prefix
    # the model names the package registered from its archive: what the endpoint serves, by version
    assert create["Environment"]["MEDTX_MODEL_PACKAGE_ARN"] == {"Get": "Steps.RegisterModel.ModelPackageArn"}
    # every container runs without the libraries' progress bars (carriage-return lines in CloudWatch Logs)
    from steps.common import CONTAINER_ENV

    registered = steps["RegisterModel"]["Arguments"]["InferenceSpecification"]["Containers"][0]
    environments = [steps[name]["Arguments"]["Environment"] for name in ("Preprocess", "Train", "Evaluate")]
    for environment in [*environments, create["Environment"], registered["Environment"]]:
        assert CONTAINER_ENV.items() <= environment.items()
    endpoint_config = steps["EndpointConfig"]["Arguments"]["ProductionVariants"][0]
    assert endpoint_config["ModelName"] == {"Get": "Steps.CreateModel.ModelName"}
    assert endpoint_config["InstanceType"] == {"Get": "Parameters.EndpointInstanceType"}


def test_jobs_keep_their_name_prefixes(built):
    """With ``use_custom_job_prefix`` the service names jobs ``<prefix>-<suffix>``: model archives land
    under ``models/huggingface-*/output/`` as in the reference layout."""
    _, definition = built
    steps = flatten(definition["Steps"])
    assert steps["Train"]["Arguments"]["TrainingJobName"] == "huggingface"
    assert steps["Preprocess"]["Arguments"]["ProcessingJobName"] == "medtx-preprocess"
    assert steps["Evaluate"]["Arguments"]["ProcessingJobName"] == "medtx-evaluate"


def test_job_steps_use_hugging_face_training_dlc(built):
    _, definition = built
    steps = flatten(definition["Steps"])
    images = [
        steps["Preprocess"]["Arguments"]["AppSpecification"]["ImageUri"],
        steps["Train"]["Arguments"]["AlgorithmSpecification"]["TrainingImage"],
        steps["Evaluate"]["Arguments"]["AppSpecification"]["ImageUri"],
    ]
    assert all(
        "huggingface-pytorch-training" in i and "transformers5.3.0" in i and REGION in i for i in images
    )
    assert steps["Preprocess"]["Arguments"]["AppSpecification"]["ContainerEntrypoint"] == [
        "python3",
        "/opt/ml/processing/input/code/preprocess.py",
    ]


@pytest.mark.parametrize("name", ["Preprocess", "Train", "Evaluate"])
def test_job_steps_cache_and_retry(built, name):
    _, definition = built
    step = flatten(definition["Steps"])[name]
    if name == "Evaluate":  # its comparison with the served model must be this execution's
        assert "CacheConfig" not in step
    else:
        assert step["CacheConfig"] == {"Enabled": True, "ExpireAfter": "P30D"}
    kinds = {t for policy in step["RetryPolicies"] for t in policy["ExceptionType"]}
    assert {"Step.THROTTLING", "Step.SERVICE_FAULT", "SageMaker.CAPACITY_ERROR"} <= kinds


def test_two_builds_are_byte_identical_and_code_changes_move_the_key(built, aws, tmp_path, monkeypatch):
    from pipeline import code_bundle, get_pipeline

    pipeline, _ = built
    again = get_pipeline(region=REGION, role=ROLE)
    assert again.definition() == pipeline.definition()
    built_steps = [flatten(json.loads(pipeline.definition())["Steps"])]
    copy = tmp_path / "scripts"
    copy.mkdir()
    for path in code_bundle.bundle_files(code_bundle.SCRIPTS_DIR):
        (copy / path.name).write_bytes(path.read_bytes())
    monkeypatch.setattr(code_bundle, "SCRIPTS_DIR", copy)

    def changed(name: str) -> set[str]:
        """The job steps whose arguments move when ``name`` changes (their cache keys)."""
        (copy / name).write_text((copy / name).read_text() + "\n# changed\n")
        built_steps.append(flatten(json.loads(get_pipeline(region=REGION, role=ROLE).definition())["Steps"]))
        before, after = built_steps[-2:]
        return {
            step
            for step in ("Preprocess", "Train", "Evaluate", "RecordChampion")
            if after[step] != before[step]
        }

    # each step runs its own bundle: an evaluation change leaves Train (a GPU job) cached
    assert changed("evaluate.py") == {"Evaluate"}
    assert changed("train.py") == {"Train"}
    assert changed("inference.py") == {"Train"}  # the endpoint handler training puts in the archive
    assert changed("medtx_behaviour.py") == {"Evaluate"}
    assert changed("preprocess.py") == {"Preprocess"}
    assert changed("champion.py") == {"RecordChampion"}
    assert changed("medtx_common.py") == {
        "Preprocess",
        "Train",
        "Evaluate",
        "RecordChampion",
    }  # all import it


def test_no_account_literals_in_the_definition(built):
    _, definition = built
    text = json.dumps(definition)
    assert ROLE in text  # from the argument
    assert "111111111111" not in text


def test_overrides_reach_parameter_defaults(aws):
    from pipeline import get_pipeline

    definition = json.loads(
        get_pipeline(
            region=REGION, role=ROLE, train__epochs="5", min_macro_f1="0.5", deploy_model="true"
        ).definition()
    )
    params = {p["Name"]: p["DefaultValue"] for p in definition["Parameters"]}
    assert params["Epochs"] == "5" and params["MinMacroF1"] == 0.5 and params["DeployModel"] == "true"
    with pytest.raises(ValueError, match="unknown setting"):
        get_pipeline(region=REGION, role=ROLE, no_such_field=1)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"train__epochs": "abc"}, "setting train__epochs='abc' is not a number"),
        ({"train__max_length": "12.5"}, "setting train__max_length='12.5' is not an integer"),
        ({"train__group_by_length": "maybe"}, "setting train__group_by_length='maybe' is not true or false"),
        ({"min_macro_f1": "high"}, "setting min_macro_f1='high' is not a number"),
        ({"endpoint_capture_percent": "101"}, "endpoint_capture_percent must be 0 to 100; got 101"),
        # a setting that may be unset has its type too (it stayed the string given, and autoscaling
        # failed later comparing "lots" with 0)
        (
            {"endpoint_invocations_per_instance": "lots"},
            "setting endpoint_invocations_per_instance='lots' is not an integer",
        ),
    ],
)
def test_a_setting_of_the_wrong_type_is_named(override, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        PipelineConfig().replace(**override)


def test_a_setting_that_may_be_unset_takes_its_type_or_none():
    cfg = PipelineConfig().replace(
        endpoint_invocations_per_instance="250", data__num_classes="none", kms_key_id="alias/medtx"
    )
    assert cfg.endpoint_invocations_per_instance == 250 and cfg.data.num_classes is None
    assert cfg.kms_key_id == "alias/medtx"
    assert PipelineConfig().replace(data__num_classes="12").data.num_classes == 12


def test_missing_role_is_a_clear_error(aws):
    from pipeline import get_pipeline

    with pytest.raises(ValueError, match="missing role"):
        get_pipeline(region=REGION)


def test_secure_defaults_isolate_what_needs_no_internet(built):
    _, definition = built
    steps = flatten(definition["Steps"])
    assert steps["Evaluate"]["Arguments"]["NetworkConfig"]["EnableNetworkIsolation"] is True
    # Preprocess and Train download the tokenizer / model from the Hugging Face hub
    assert steps["Preprocess"]["Arguments"]["NetworkConfig"]["EnableNetworkIsolation"] is False
    assert steps["Train"]["Arguments"]["EnableNetworkIsolation"] is False
    assert steps["Train"]["Arguments"]["EnableInterContainerTrafficEncryption"] is True
    assert steps["CreateModel"]["Arguments"]["EnableNetworkIsolation"] is True


def test_kms_and_vpc_settings_reach_every_job(aws, monkeypatch):
    from pipeline import get_pipeline

    monkeypatch.setenv("PIPELINE_KMS_KEY_ID", "alias/medtx")  # as the stack's CodeBuild project sets it
    pipeline = get_pipeline(region=REGION, role=ROLE, subnets="subnet-1,subnet-2", security_group_ids="sg-1")
    steps = flatten(json.loads(pipeline.definition())["Steps"])
    for name in ("Preprocess", "Evaluate"):
        args = steps[name]["Arguments"]
        assert args["ProcessingOutputConfig"]["KmsKeyId"] == "alias/medtx"
        assert args["ProcessingResources"]["ClusterConfig"]["VolumeKmsKeyId"] == "alias/medtx"
        assert args["NetworkConfig"]["VpcConfig"] == {
            "Subnets": ["subnet-1", "subnet-2"],
            "SecurityGroupIds": ["sg-1"],
        }
    train = steps["Train"]["Arguments"]
    assert train["OutputDataConfig"]["KmsKeyId"] == train["ResourceConfig"]["VolumeKmsKeyId"] == "alias/medtx"
    assert train["VpcConfig"]["Subnets"] == ["subnet-1", "subnet-2"]
    assert steps["EndpointConfig"]["Arguments"]["KmsKeyId"] == "alias/medtx"
    with pytest.raises(ValueError, match="both subnets and security_group_ids"):
        get_pipeline(region=REGION, role=ROLE, subnets="subnet-1")


def test_the_pipelines_endpoint_captures_answers_as_medtx_deploy_does(built, aws, monkeypatch):
    """``DeployModel=true`` deploys through the pipeline's own EndpointConfig step: with
    ``endpoint_capture_percent`` it captures the answers (never the requests) to the stack bucket's
    capture prefix, encrypted, in the request ``medtx deploy`` sends; without it, nothing."""
    import boto3

    from pipeline import deploy, get_pipeline

    _, plain = built
    assert "DataCaptureConfig" not in flatten(plain["Steps"])["EndpointConfig"]["Arguments"]
    monkeypatch.setenv("PIPELINE_KMS_KEY_ID", "alias/medtx")  # as the stack's CodeBuild project sets them
    monkeypatch.setenv("ARTIFACT_BUCKET", "stack-bucket")
    boto3.client("s3", region_name=REGION).create_bucket(Bucket="stack-bucket")
    pipeline = get_pipeline(region=REGION, role=ROLE, endpoint_capture_percent="25")
    config = flatten(json.loads(pipeline.definition())["Steps"])["EndpointConfig"]["Arguments"]
    assert config["DataCaptureConfig"] == {
        "EnableCapture": True,
        "InitialSamplingPercentage": 25,
        "DestinationS3Uri": "s3://stack-bucket/endpoint-capture",
        "CaptureOptions": [{"CaptureMode": "Output"}],
        "CaptureContentTypeHeader": {"JsonContentTypes": ["application/json"]},
        "KmsKeyId": "alias/medtx",
    }
    same = deploy.capture_request(25, "s3://stack-bucket/endpoint-capture", "alias/medtx")
    assert config["DataCaptureConfig"] == same


def test_long_text_settings_reach_preprocess_and_training(aws):
    """The encoding is chosen once in the config; preprocess encodes with it (the model archive
    carries it on to evaluation and the endpoint) and training gets its schedule settings."""
    from pipeline import get_pipeline

    definition = json.loads(
        get_pipeline(
            region=REGION,
            role=ROLE,
            train__long_text="chunks",
            train__chunk_stride="32",
            train__max_chunks="6",
            train__drop_line_break_commas="true",
            train__headings_window="true",
            train__lr_scheduler="cosine",
            train__layer_lr_decay="0.8",
            train__chunk_loss="note",
            train__pooling="mean",
        ).definition()
    )
    steps = flatten(definition["Steps"])
    given = container_flags(steps["Preprocess"])
    assert given["--long-text"] == "chunks" and given["--chunk-stride"] == "32"
    assert given["--max-chunks"] == "6" and given["--head-tokens"] == "128"
    assert given["--drop-line-break-commas"] == "true" and given["--headings-window"] == "true"
    assert given["--max-length"] == {"Get": "Parameters.MaxLength"}
    hyper = steps["Train"]["Arguments"]["HyperParameters"]
    assert hyper["lr-scheduler"] == "cosine" and hyper["pad-to-multiple-of"] == "64"
    assert hyper["layer-lr-decay"] == "0.8"
    assert hyper["chunk-loss"] == "note" and hyper["pooling"] == "mean"
    with pytest.raises(ValueError, match="unknown train setting"):
        get_pipeline(region=REGION, role=ROLE, train__long_txt="chunks")
    with pytest.raises(ValueError, match="long_text must be one of"):
        get_pipeline(region=REGION, role=ROLE, train__long_text="sliding")
    with pytest.raises(ValueError, match=r"layer_lr_decay must be in \(0, 1\]"):
        get_pipeline(region=REGION, role=ROLE, train__layer_lr_decay="1.5")
    with pytest.raises(ValueError, match="pooling must be one of"):
        get_pipeline(region=REGION, role=ROLE, train__pooling="max")
    with pytest.raises(ValueError, match="chunk_loss must be one of"):
        get_pipeline(region=REGION, role=ROLE, train__chunk_loss="doc")
    with pytest.raises(ValueError, match="headings_window needs long_text=chunks; got 'truncate'"):
        get_pipeline(region=REGION, role=ROLE, train__headings_window="true")


def test_the_description_as_an_input_of_its_own_is_set_with_the_text_fields(aws):
    """``fields_window`` needs text fields before the transcription: the two settings belong to two
    groups, are given in one call and checked together; preprocessing gets both."""
    from pipeline import get_pipeline

    definition = json.loads(
        get_pipeline(
            region=REGION,
            role=ROLE,
            train__long_text="chunks",
            train__fields_window="true",
            data__text_fields="description,transcription",
        ).definition()
    )
    given = container_flags(flatten(definition["Steps"])["Preprocess"])
    assert given["--fields-window"] == "true" and given["--text-fields"] == "description,transcription"
    with pytest.raises(ValueError, match="text_fields must end with transcription and name another field"):
        get_pipeline(region=REGION, role=ROLE, train__long_text="chunks", train__fields_window="true")
    with pytest.raises(ValueError, match="fields_window needs long_text=chunks"):
        PipelineConfig().replace(train__fields_window="true", data__text_fields="description,transcription")
    with pytest.raises(ValueError, match="keywords leak the label"):
        PipelineConfig().replace(data__text_fields="keywords,transcription")


def test_each_setting_named_as_a_parameters_default_is_that_parameters_default(aws):
    """``PARAMETER_OF_SETTING`` (what ``medtx config`` shows): every setting it names, given a value of
    its own, becomes the default of that parameter in the definition; it names every parameter but
    the two ``medtx start`` fills in (the data's URI, from bucket and key, and its version)."""
    from pipeline import get_pipeline
    from pipeline.definition import INPUT_VERSION, PARAMETER_OF_SETTING, SOURCE_COMMIT

    given = {
        "processing_instance_type": "ml.c5.large",
        "training_instance_type": "ml.g6.xlarge",
        "training_instance_count": "2",
        "evaluation_instance_type": "ml.c5.xlarge",
        "train__model_name": "bert-base-uncased",
        "train__max_length": "256",
        "train__epochs": "7",
        "train__learning_rate": "3e-05",
        "train__train_batch_size": "12",
        "data__min_class_samples": "31",
        "min_macro_f1": "0.37",
        "min_baseline_margin": "0.02",
        "min_champion_margin": "-0.01",
        "min_behaviour_agreement": "0.9",
        "model_approval_status": "Approved",
        "deploy_model": "true",
        "endpoint_instance_type": "ml.c5.2xlarge",
    }
    assert set(given) == set(PARAMETER_OF_SETTING)
    definition = json.loads(get_pipeline(region=REGION, role=ROLE, **given).definition())
    defaults = {p["Name"]: p["DefaultValue"] for p in definition["Parameters"]}
    assert set(defaults) - set(PARAMETER_OF_SETTING.values()) == {
        "InputDataUri",
        INPUT_VERSION,
        SOURCE_COMMIT,
    }
    for setting, parameter in PARAMETER_OF_SETTING.items():
        found, wanted = str(defaults[parameter]), given[setting]
        numbers = re.fullmatch(r"-?[\d.e-]+", wanted) is not None
        assert float(found) == float(wanted) if numbers else found == wanted, (setting, found)


def test_a_preset_stands_for_its_settings_and_each_given_beside_it_wins(aws):
    """``preset=title-headings`` is the five settings of the best CPU-scale measurement, in two groups;
    a setting given with it (from ``--set`` or ``MEDTX_SETTINGS``) replaces the preset's."""
    from pipeline import get_pipeline

    cfg = PipelineConfig().replace(preset="title-headings")
    assert (cfg.train.long_text, cfg.train.max_chunks) == ("chunks", 1)
    assert cfg.train.headings_window and cfg.train.fields_window
    assert cfg.data.text_fields == ("sample_name", "transcription")
    assert PipelineConfig().replace(preset="title-headings", train__max_chunks="3").train.max_chunks == 3
    definition = json.loads(get_pipeline(region=REGION, role=ROLE, preset="title-headings").definition())
    given = container_flags(flatten(definition["Steps"])["Preprocess"])
    assert given["--text-fields"] == "sample_name,transcription" and given["--max-chunks"] == "1"
    assert given["--headings-window"] == "true" and given["--fields-window"] == "true"
    with pytest.raises(ValueError, match=re.escape("unknown preset 'best' (presets: title-headings)")):
        PipelineConfig().replace(preset="best")


def test_bootstrap_settings_reach_evaluation(aws):
    """Evaluation's resampling is set in the config like the rest of the container settings."""
    from pipeline import get_pipeline

    definition = json.loads(
        get_pipeline(
            region=REGION, role=ROLE, evaluate__bootstrap_resamples="500", evaluate__confidence_level="0.9"
        ).definition()
    )
    given = container_flags(flatten(definition["Steps"])["Evaluate"])
    assert given["--bootstrap-resamples"] == "500" and given["--confidence-level"] == "0.9"
    with pytest.raises(ValueError, match="confidence_level must lie between 0 and 1"):
        get_pipeline(region=REGION, role=ROLE, evaluate__confidence_level="95")
    with pytest.raises(ValueError, match="bootstrap_resamples must be 0"):
        get_pipeline(region=REGION, role=ROLE, evaluate__bootstrap_resamples="-1")


def test_behaviour_checks_reach_evaluation_as_one_comma_separated_flag(aws):
    """The behavioural checks are a tuple in the config, one flag value for the script; empty: none."""
    from evaluate import parse_args
    from pipeline import get_pipeline

    def flags(**overrides):
        definition = json.loads(get_pipeline(region=REGION, role=ROLE, **overrides).definition())
        return container_flags(flatten(definition["Steps"])["Evaluate"])

    given = flags()
    assert (
        given["--behaviour-checks"] == "gender_swap,typos,line_break_commas"
        and given["--typo-rate"] == "0.05"
    )
    assert parse_args(["--behaviour-checks", given["--behaviour-checks"]]).behaviour_checks == (
        "gender_swap",
        "typos",
        "line_break_commas",
    )
    assert flags(evaluate__behaviour_checks="typos")["--behaviour-checks"] == "typos"
    assert flags(evaluate__behaviour_checks="")["--behaviour-checks"] == ""
    assert parse_args(["--behaviour-checks", ""]).behaviour_checks == ()
    with pytest.raises(SystemExit):  # argparse's usage error naming the check, not a traceback
        parse_args(["--behaviour-checks", "typos,shout"])
    with pytest.raises(ValueError, match="unknown behaviour check"):
        get_pipeline(region=REGION, role=ROLE, evaluate__behaviour_checks="typos,shout")
    # a gate on the checks needs checks to run, and a share between 0 and 1
    with pytest.raises(ValueError, match=r"min_behaviour_agreement > 0 needs evaluate\.behaviour_checks"):
        get_pipeline(region=REGION, role=ROLE, evaluate__behaviour_checks="", min_behaviour_agreement="0.9")
    with pytest.raises(ValueError, match=r"min_behaviour_agreement must lie in \[0, 1\]; got 95"):
        get_pipeline(region=REGION, role=ROLE, min_behaviour_agreement="95")


def test_domain_adaptation_settings_reach_training(aws):
    """Task-adaptive pretraining is off by default and set like the rest of the schedule."""
    from pipeline import get_pipeline

    def hyper(**overrides):
        definition = json.loads(get_pipeline(region=REGION, role=ROLE, **overrides).definition())
        return flatten(definition["Steps"])["Train"]["Arguments"]["HyperParameters"]

    assert hyper()["mlm-epochs"] == "0.0"
    given = hyper(train__mlm_epochs="3", train__mlm_learning_rate="5e-5", train__mlm_probability="0.2")
    settings = (given["mlm-epochs"], given["mlm-learning-rate"], given["mlm-probability"])
    assert settings == ("3.0", "5e-05", "0.2")
    with pytest.raises(ValueError, match="mlm_epochs must be 0"):
        get_pipeline(region=REGION, role=ROLE, train__mlm_epochs="-1")
    with pytest.raises(ValueError, match="mlm_probability must lie between 0 and 1"):
        get_pipeline(region=REGION, role=ROLE, train__mlm_probability="15")


def test_every_container_setting_reaches_its_job(aws):
    """Each field of the container settings reaches the code that reads it, so no ``--set`` override
    is dropped on its way to SageMaker: ``TrainConfig`` fields that ``scripts/train.py`` takes as Train
    hyperparameters and the rest (the encoding, which travels in the split) as Preprocess arguments,
    ``DataConfig`` as Preprocess arguments, ``EvalConfig`` as Evaluate arguments, and
    ``InferenceConfig`` in the model's environment, which ``scripts/inference.py`` reads back."""
    pytest.importorskip("transformers")
    import dataclasses

    import train
    from medtx_config import DataConfig, EvalConfig, InferenceConfig, TrainConfig
    from pipeline import get_pipeline

    overrides = {
        "train__torch_compile": "true",
        "train__gradient_accumulation_steps": "4",
        "train__precision": "fp32",
        "evaluate__baseline_min_df": "3",
        "inference__max_texts": "8",
        "inference__precision": "fp32",
    }
    steps = flatten(json.loads(get_pipeline(region=REGION, role=ROLE, **overrides).definition())["Steps"])
    hyperparameters = steps["Train"]["Arguments"]["HyperParameters"]
    preprocess, evaluate = container_flags(steps["Preprocess"]), container_flags(steps["Evaluate"])
    taken_by_train = set(vars(train.parse_args([])))
    missing = []
    for field in dataclasses.fields(TrainConfig):
        flag = field.name.replace("_", "-")
        if field.name in taken_by_train and flag not in hyperparameters:
            missing.append(f"train.{field.name} (Train hyperparameter)")
        elif field.name not in taken_by_train and f"--{flag}" not in preprocess:
            missing.append(f"train.{field.name} (Preprocess argument)")
    for group, config, step_flags in (("data", DataConfig, preprocess), ("evaluate", EvalConfig, evaluate)):
        for field in dataclasses.fields(config):
            if f"--{field.name.replace('_', '-')}" not in step_flags:
                missing.append(f"{group}.{field.name}")
    assert not missing
    assert (hyperparameters["torch-compile"], hyperparameters["gradient-accumulation-steps"]) == ("true", "4")
    assert hyperparameters["precision"] == "fp32" and evaluate["--baseline-min-df"] == "3"

    served = InferenceConfig(max_texts=8, precision="fp32")
    assert evaluate["--precision"] == "fp32"  # evaluation runs the forward pass as the endpoint does
    containers = (
        steps["CreateModel"]["Arguments"]["PrimaryContainer"],
        *steps["RegisterModel"]["Arguments"]["InferenceSpecification"]["Containers"],
    )
    for container in containers:
        assert InferenceConfig.from_environment(container["Environment"]) == served
        assert served.environment().items() <= container["Environment"].items()


def test_differences_name_parameters_steps_and_values():
    from pipeline.definition_diff import MOST_PER_STEP, differences

    def step(name, kind="Processing", **arguments):
        return {"Name": name, "Type": kind, "Arguments": arguments}

    gate = step("Gate", "Condition", IfSteps=[step("Register", Image="a")], ElseSteps=[step("Fail")])
    deployed = {
        "Version": "2020-12-01",
        "Parameters": [{"Name": "Epochs", "DefaultValue": "3"}, {"Name": "Old", "DefaultValue": "x"}],
        "Steps": [step("Train", Args=list(range(3))), step("Gone"), gate],
    }
    moved_gate = step("Gate", "Condition", IfSteps=[step("Register", Image="b")], ElseSteps=[step("Fail")])
    built = {
        "Version": "2020-12-01",
        "Parameters": [{"Name": "Epochs", "DefaultValue": "5"}, {"Name": "New", "DefaultValue": "y"}],
        "Steps": [step("Train", Args=[0, 1, 2, 3]), step("Extra", "Training"), moved_gate],
    }
    assert differences(deployed, built) == [
        "parameter Epochs: default '3' -> '5'",
        "parameter New: added (default 'y')",
        "parameter Old: removed",
        "step Gone: removed",
        "step Extra: added (Training)",
        "step Train: ['Arguments']['Args'][3]: added 3",
        "step Register: ['Arguments']['Image']: 'a' -> 'b'",  # the branch's step, not the condition
    ]
    assert differences(deployed, deployed) == []
    many = {**deployed, "Steps": [step("Train", Args=[10 + i for i in range(3)] + list(range(20)))]}
    lines = differences({**deployed, "Steps": [step("Train", Args=[])]}, many)
    assert (
        len(lines) == MOST_PER_STEP + 1 and lines[-1] == f"step Train: and {23 - MOST_PER_STEP} more changes"
    )
    assert differences(deployed, {**deployed, "Version": "2021"})[-1].startswith(
        "the definition's other fields"
    )


def test_spot_training_is_off_by_default_and_waits_within_its_bound_when_on(built, aws):
    """Managed spot training: the Train job asks for spare capacity with a bound on training plus
    waiting, and keeps its per-execution checkpoints (an interrupted job resumes from them)."""
    from pipeline import get_pipeline

    _, definition = built
    default = flatten(definition["Steps"])["Train"]["Arguments"]
    assert "EnableManagedSpotTraining" not in default
    assert default["StoppingCondition"] == {"MaxRuntimeInSeconds": PipelineConfig().max_training_seconds}
    config = PipelineConfig().replace(spot_training="true", max_spot_wait_seconds="36000")
    spot = get_pipeline(region=REGION, role=ROLE, config=config)
    train = flatten(json.loads(spot.definition())["Steps"])["Train"]["Arguments"]
    assert train["EnableManagedSpotTraining"] is True
    assert train["StoppingCondition"] == {
        "MaxRuntimeInSeconds": PipelineConfig().max_training_seconds,
        "MaxWaitTimeInSeconds": 36000,
    }
    assert train["CheckpointConfig"] == default["CheckpointConfig"]
    with pytest.raises(
        ValueError, match=r"max_spot_wait_seconds \(3600\) must be at least max_training_seconds"
    ):
        PipelineConfig().replace(spot_training="true", max_spot_wait_seconds="3600")
