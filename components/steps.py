"""The pipeline steps as KFP lightweight components, before an image is chosen.

Each function is the body of one `@dsl.component`: it imports `slimnlp` inside (so the pipeline
compiles without torch), calls the matching `slimnlp.steps` function on the artifact paths, and
logs the step's numbers to `Output[Metrics]`. `make_components` in this package applies
`dsl.component(base_image=...)`, so the image comes from one setting in the run config.

Every component takes the same three parameters, and `data_fingerprint` last:
    config_json: the step's part of the RunConfig as JSON (`run_parameters.task_config`: what the
        step reads, so KFP's cache key changes exactly when its result could, and where it logs);
        the whole config works too (the grid pipeline, tests).
    parent_run_id: MLflow parent run id; "" = none, and tracking falls back to the MLFLOW_RUN_ID
        that KFP injects.
    tracking_uri: MLflow tracking URI; "" = none (MLFLOW_TRACKING_URI, then the config decide).

No `from __future__ import annotations` here: KFP reads the Input/Output annotations as objects.
"""

from kfp.dsl import HTML, Artifact, ClassificationMetrics, Dataset, Input, Markdown, Metrics, Model, Output


def prepare_data(
    config_json: str,
    parent_run_id: str,
    tracking_uri: str,
    data: Output[Dataset],
    metrics: Output[Metrics],
    data_fingerprint: str = "",
):
    """Load, clean and split the labelled data (slimnlp.steps.prepare_data).

    Args:
        config_json: The step's config as JSON (what it reads, and where it logs).
        parent_run_id: MLflow parent run id; "" falls back to MLFLOW_RUN_ID.
        tracking_uri: MLflow tracking URI; "" keeps the environment's or the config's.
        data: Output directory: train/dev/test.arrow, label_map.json, data_report.json.
        metrics: The step's numeric metrics and its wall time (wall_time_s).
        data_fingerprint: The data's content fingerprint (resolve-config); only KFP's cache key reads it.
    """
    from slimnlp.steps.entry import run_component

    for name, value in run_component(
        "prepare-data", config_json, parent_run_id, tracking_uri, data.path
    ).items():
        metrics.log_metric(name, value)


def pretrain_mlm(
    config_json: str,
    parent_run_id: str,
    tracking_uri: str,
    model: Output[Model],
    metrics: Output[Metrics],
    data: Input[Dataset] = None,
    data_fingerprint: str = "",
):
    """In-domain masked-LM pretraining on pretrain.corpus + the training text (slimnlp.steps.pretrain_mlm).

    Args:
        config_json: The step's config as JSON (what it reads, and where it logs).
        parent_run_id: MLflow parent run id; "" falls back to MLFLOW_RUN_ID.
        tracking_uri: MLflow tracking URI; "" keeps the environment's or the config's.
        model: Output masked-LM model directory (train-teacher's starting point).
        metrics: The step's numeric metrics and its wall time (wall_time_s).
        data: The prepare-data output (its training text joins the corpus); optional.
        data_fingerprint: The data's content fingerprint (resolve-config); only KFP's cache key reads it.
    """
    from slimnlp.steps.entry import run_component

    for name, value in run_component(
        "pretrain-mlm",
        config_json,
        parent_run_id,
        tracking_uri,
        model.path,
        data=data.path if data is not None else None,
    ).items():
        metrics.log_metric(name, value)


def train_teacher(
    config_json: str,
    parent_run_id: str,
    tracking_uri: str,
    data: Input[Dataset],
    model: Output[Model],
    metrics: Output[Metrics],
    pretrained: Input[Model] = None,
    data_fingerprint: str = "",
):
    """Fine-tune (or build from config and train) the teacher (slimnlp.steps.train_teacher).

    Args:
        config_json: The step's config as JSON (what it reads, and where it logs).
        parent_run_id: MLflow parent run id; "" falls back to MLFLOW_RUN_ID.
        tracking_uri: MLflow tracking URI; "" keeps the environment's or the config's.
        data: The prepare-data output.
        model: Output model directory (the teacher).
        metrics: The step's numeric metrics and its wall time (wall_time_s).
        pretrained: Optional pretrain-mlm output to start from (instead of teacher.checkpoint).
        data_fingerprint: The data's content fingerprint (resolve-config); only KFP's cache key reads it.
    """
    from slimnlp.steps.entry import run_component

    for name, value in run_component(
        "train-teacher",
        config_json,
        parent_run_id,
        tracking_uri,
        model.path,
        pretrained=pretrained.path if pretrained is not None else None,
        data=data.path,
    ).items():
        metrics.log_metric(name, value)


def prune(
    config_json: str,
    parent_run_id: str,
    tracking_uri: str,
    data: Input[Dataset],
    teacher: Input[Model],
    model: Output[Model],
    metrics: Output[Metrics],
    data_fingerprint: str = "",
):
    """Structured pruning of heads and FFN neurons with physical removal (slimnlp.steps.prune).

    Args:
        config_json: The step's config as JSON (what it reads, and where it logs).
        parent_run_id: MLflow parent run id; "" falls back to MLFLOW_RUN_ID.
        tracking_uri: MLflow tracking URI; "" keeps the environment's or the config's.
        data: The prepare-data output.
        teacher: The train-teacher model directory.
        model: Output model directory (the pruned model).
        metrics: The step's numeric metrics and its wall time (wall_time_s).
        data_fingerprint: The data's content fingerprint (resolve-config); only KFP's cache key reads it.
    """
    from slimnlp.steps.entry import run_component

    for name, value in run_component(
        "prune", config_json, parent_run_id, tracking_uri, model.path, data=data.path, teacher=teacher.path
    ).items():
        metrics.log_metric(name, value)


def distill(
    config_json: str,
    parent_run_id: str,
    tracking_uri: str,
    data: Input[Dataset],
    teacher: Input[Model],
    student: Input[Model],
    model: Output[Model],
    metrics: Output[Metrics],
    data_fingerprint: str = "",
):
    """Knowledge distillation from the teacher into the student (slimnlp.steps.distill).

    Args:
        config_json: The step's config as JSON (what it reads, and where it logs).
        parent_run_id: MLflow parent run id; "" falls back to MLFLOW_RUN_ID.
        tracking_uri: MLflow tracking URI; "" keeps the environment's or the config's.
        data: The prepare-data output.
        teacher: The train-teacher model directory.
        student: The student to distil into (the prune output).
        model: Output model directory (the distilled student).
        metrics: The step's numeric metrics and its wall time (wall_time_s).
        data_fingerprint: The data's content fingerprint (resolve-config); only KFP's cache key reads it.
    """
    from slimnlp.steps.entry import run_component

    for name, value in run_component(
        "distill",
        config_json,
        parent_run_id,
        tracking_uri,
        model.path,
        data=data.path,
        teacher=teacher.path,
        student=student.path,
    ).items():
        metrics.log_metric(name, value)


def finetune_amp(
    config_json: str,
    parent_run_id: str,
    tracking_uri: str,
    data: Input[Dataset],
    teacher: Input[Model],
    student: Input[Model],
    model: Output[Model],
    metrics: Output[Metrics],
    data_fingerprint: str = "",
):
    """Mixed-precision fine-tune of the student (slimnlp.steps.finetune_amp).

    Args:
        config_json: The step's config as JSON (what it reads, and where it logs).
        parent_run_id: MLflow parent run id; "" falls back to MLFLOW_RUN_ID.
        tracking_uri: MLflow tracking URI; "" keeps the environment's or the config's.
        data: The prepare-data output.
        teacher: The train-teacher model directory (for the KD term).
        student: The student to fine-tune (the distill output).
        model: Output model directory (the final student).
        metrics: The step's numeric metrics and its wall time (wall_time_s).
        data_fingerprint: The data's content fingerprint (resolve-config); only KFP's cache key reads it.
    """
    from slimnlp.steps.entry import run_component

    for name, value in run_component(
        "finetune-amp",
        config_json,
        parent_run_id,
        tracking_uri,
        model.path,
        data=data.path,
        teacher=teacher.path,
        student=student.path,
    ).items():
        metrics.log_metric(name, value)


def export_onnx(
    config_json: str,
    parent_run_id: str,
    tracking_uri: str,
    data: Input[Dataset],
    model: Input[Model],
    onnx: Output[Artifact],
    metrics: Output[Metrics],
    data_fingerprint: str = "",
):
    """ONNX export with a parity check and optional int8 (slimnlp.steps.export_onnx).

    Args:
        config_json: The step's config as JSON (what it reads, and where it logs).
        parent_run_id: MLflow parent run id; "" falls back to MLFLOW_RUN_ID.
        tracking_uri: MLflow tracking URI; "" keeps the environment's or the config's.
        data: The prepare-data output (texts for the parity check).
        model: The model directory to export (the finetune-amp output).
        onnx: Output directory: model.onnx, model.int8.onnx, tokenizer and config.
        metrics: The step's numeric metrics and its wall time (wall_time_s).
        data_fingerprint: The data's content fingerprint (resolve-config); only KFP's cache key reads it.
    """
    from slimnlp.steps.entry import run_component

    for name, value in run_component(
        "export-onnx", config_json, parent_run_id, tracking_uri, onnx.path, data=data.path, model=model.path
    ).items():
        metrics.log_metric(name, value)


def benchmark(
    config_json: str,
    parent_run_id: str,
    tracking_uri: str,
    data: Input[Dataset],
    teacher: Input[Model],
    student: Input[Model],
    student_onnx: Input[Artifact],
    results: Output[Artifact],
    metrics: Output[Metrics],
    report: Output[HTML],
    figures: Output[Metrics],
    confusion: Output[ClassificationMetrics],
    summary: Output[Markdown],
    data_fingerprint: str = "",
):
    """Teacher vs. student on the same test set and harness (slimnlp.steps.benchmark).

    Args:
        config_json: The step's config as JSON (what it reads, and where it logs).
        parent_run_id: MLflow parent run id; "" falls back to MLFLOW_RUN_ID.
        tracking_uri: MLflow tracking URI; "" keeps the environment's or the config's.
        data: The prepare-data output (the test set).
        teacher: The train-teacher model directory.
        student: The final student model directory (the finetune-amp output).
        student_onnx: The student's ONNX export (the export-onnx output).
        results: Output directory: results.json, results.md, results.csv, report.html and plots.
        metrics: The step's numeric metrics and its wall time (wall_time_s).
        report: The report (report.html), shown in the KFP UI.
        figures: Headline figures: teacher and student accuracy, macro-F1, size, latency and ratios.
        confusion: The student's confusion matrix on the test set.
        summary: The results table (results.md).
        data_fingerprint: The data's content fingerprint (resolve-config); only KFP's cache key reads it.
    """
    from slimnlp.mlops import ui_outputs
    from slimnlp.steps.entry import run_component

    for name, value in run_component(
        "benchmark",
        config_json,
        parent_run_id,
        tracking_uri,
        results.path,
        data=data.path,
        teacher=teacher.path,
        student=student.path,
        student_onnx=student_onnx.path,
    ).items():
        metrics.log_metric(name, value)
    with open(report.path, "w", encoding="utf-8") as handle:
        handle.write(ui_outputs.report_html(results.path))
    for name, value in ui_outputs.headline_figures(results.path).items():
        figures.log_metric(name, value)
    confusion.log_confusion_matrix(*ui_outputs.student_confusion(results.path))
    with open(summary.path, "w", encoding="utf-8") as handle:
        handle.write(ui_outputs.results_markdown(results.path))


def promote(
    config_json: str,
    parent_run_id: str,
    tracking_uri: str,
    data: Input[Dataset],
    teacher: Input[Model],
    student_onnx: Input[Artifact],
    results: Input[Artifact],
    decision: Output[Artifact],
    metrics: Output[Metrics],
    decision_md: Output[Markdown],
    data_fingerprint: str = "",
):
    """Register the student in the MLflow registry and gate its promotion (slimnlp.steps.promote).

    Args:
        config_json: The step's config as JSON (what it reads, and where it logs).
        parent_run_id: MLflow parent run id; "" falls back to MLFLOW_RUN_ID.
        tracking_uri: MLflow tracking URI; "" keeps the environment's or the config's.
        data: The prepare-data output (the test set the champion is re-scored on).
        teacher: The train-teacher model directory (its source is recorded).
        student_onnx: The student's ONNX export: what is registered, as an MLflow pyfunc.
        results: The benchmark output (accuracy, latency and size of teacher and student).
        decision: Output directory: decision.json (version, aliases, reasons) and the pyfunc.
        metrics: promoted (0/1), registered_version and the wall time (wall_time_s).
        decision_md: The decision with each gate check's figures and the run's MLflow and KFP ids.
        data_fingerprint: The data's content fingerprint (resolve-config); only KFP's cache key reads it.
    """
    from slimnlp.mlops import ui_outputs
    from slimnlp.steps.entry import run_component

    for name, value in run_component(
        "promote",
        config_json,
        parent_run_id,
        tracking_uri,
        decision.path,
        data=data.path,
        teacher=teacher.path,
        student_onnx=student_onnx.path,
        results=results.path,
    ).items():
        metrics.log_metric(name, value)
    with open(decision_md.path, "w", encoding="utf-8") as handle:
        handle.write(ui_outputs.decision_markdown(decision.path))
