"""Where the review and serving commands read from: the local store of ``medtx run --local``, or
SageMaker with S3 (``--sagemaker``), behind one reader, so a command is written once for both."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pipeline.cli.common import resolve_region


@dataclass(frozen=True)
class Registry:
    """One model registry with its artifacts: ``describe(group, version)`` and ``by_arn(arn)``
    (DescribeModelPackage's shape; ``by_arn`` gives None for no such package), ``read(uri)`` (an
    artifact's bytes) and ``served(endpoint)`` (the ARN of the package the endpoint serves; None when
    it serves none or does not run)."""

    describe: Callable[[str, int], dict]
    by_arn: Callable[[str], dict | None]
    read: Callable[[str], bytes]
    served: Callable[[str], str | None]

    def evaluation_uri(self, package: str) -> str | None:
        """Where the package ARN ``package``'s ``evaluation.json`` is (its model quality statistics);
        None for no such package, or one that records no evaluation."""
        from pipeline import registry

        described = self.by_arn(package)
        return registry.statistics_uri(described) if described else None


def open_registry(store: Path, sagemaker: bool, region: str | None) -> Registry:
    from pipeline import registry

    if sagemaker:
        import boto3

        from pipeline import deploy as dep

        region = resolve_region(region)
        client = boto3.client("sagemaker", region_name=region)

        def served(endpoint: str) -> str | None:
            found = dep.served_package(client, endpoint)
            return found[1] if found else None

        return Registry(
            describe=lambda group, version: registry.describe(client, group, version),
            by_arn=lambda arn: dep.found_or_none(client.describe_model_package, ModelPackageName=arn),
            read=registry.s3_reader(boto3.client("s3", region_name=region)),
            served=served,
        )
    from pipeline.local import endpoint
    from pipeline.local import registry as local_registry
    from pipeline.local.store import Store

    local = Store(store)

    def served_here(name: str) -> str | None:
        record = endpoint.current(local, name)
        return record.get("ModelPackageArn") if record and record["EndpointStatus"] == "InService" else None

    return Registry(
        describe=lambda group, version: local_registry.describe(local, group, version),
        by_arn=lambda arn: local_registry.by_arn(local, arn),
        read=lambda uri: local.path(uri).read_bytes(),
        served=served_here,
    )
