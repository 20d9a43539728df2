"""The Docker-free local runner: ``medtx run --local`` executes the pipeline definition on this machine.

``runner`` walks the definition, ``jobs`` runs processing and training jobs, ``store`` maps S3 to
folders, ``registry`` and ``endpoint`` stand in for the Model Registry and endpoints, ``expressions``
resolves the definition's expressions, ``show`` prints progress and the summary.
"""

#: Where ``medtx run --local`` keeps its store unless ``--store`` says otherwise.
DEFAULT_STORE = "runs/store"
