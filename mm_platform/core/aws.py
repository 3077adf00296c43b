"""AWS resources. S3 is dagster-aws's S3Resource; DynamoDB uses the same boto3 configuration base,
so an endpoint override points both at moto (embedded, tests) or leaves them on AWS (production)."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config
from dagster_aws.s3 import S3Resource
from dagster_aws.utils import ResourceWithBoto3Configuration

from mm_platform.core.settings import Settings

# moto accepts any credentials; AWS itself gets the default credential chain (None)
EMBEDDED_CREDENTIALS = {"aws_access_key_id": "embedded", "aws_secret_access_key": "embedded"}


class DynamoDBResource(ResourceWithBoto3Configuration):
    """A boto3 DynamoDB client and service resource."""

    def _session(self) -> boto3.session.Session:
        return boto3.session.Session(
            profile_name=self.profile_name,
            aws_access_key_id=self.aws_access_key_id,
            aws_secret_access_key=self.aws_secret_access_key,
            aws_session_token=self.aws_session_token,
            region_name=self.region_name,
        )

    def _kwargs(self) -> dict[str, Any]:
        return {
            "endpoint_url": self.endpoint_url,
            "use_ssl": self.use_ssl,
            "verify": self.verify,
            "config": Config(retries={"max_attempts": self.max_attempts, "mode": "standard"}),
        }

    def get_client(self) -> Any:
        return self._session().client("dynamodb", **self._kwargs())

    def get_resource(self) -> Any:
        return self._session().resource("dynamodb", **self._kwargs())

    def get_table(self, name: str) -> Any:
        return self.get_resource().Table(name)


def aws_kwargs(settings: Settings) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"region_name": settings.aws_region, "endpoint_url": settings.aws_endpoint_url}
    if settings.embedded:
        kwargs.update(EMBEDDED_CREDENTIALS)
    return kwargs


def build_aws_resources(settings: Settings) -> dict[str, Any]:
    kwargs = aws_kwargs(settings)
    return {"s3": S3Resource(**kwargs), "dynamodb": DynamoDBResource(**kwargs)}
