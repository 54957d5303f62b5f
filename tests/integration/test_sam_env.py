"""The queues and secrets that env.local.json names are the ones provision() creates in moto."""

from __future__ import annotations

import boto3
import pytest
import requests

from devserver.aws_resources import provision
from devserver.sam_env import local_refs
from devserver.template import Template


def test_local_refs_name_what_provision_creates(
    moto_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    requests.post(f"{moto_url}/moto-api/reset", timeout=5)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    template = Template()
    created = provision(template)

    predicted = local_refs(template, moto_url)

    secrets = template.of_type("AWS::SecretsManager::Secret")
    assert {k: v for k, v in predicted.items() if k not in secrets} == {
        k: v for k, v in created.items() if k not in secrets
    }
    sm = boto3.client("secretsmanager")
    for name in secrets:
        assert sm.describe_secret(SecretId=predicted[name])["ARN"] == created[name]
