"""The retry event source's ScalingConfig.MaximumConcurrency as the local runtime reads it."""

from __future__ import annotations

from pathlib import Path

import pytest

from devserver.template import Template

FUNCTION = """
Parameters:
  RetryMaxConcurrency:
    Type: Number
    Default: 3
Resources:
  RetryFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/retry
      Events:
        Retries:
          Type: SQS
          Properties:
            Queue: !GetAtt RetryQueue.Arn
{scaling}
"""
SCALING = "            ScalingConfig:\n              MaximumConcurrency: {}"


def retry_source(tmp_path: Path, scaling: str) -> tuple[Template, dict[str, object]]:
    path = tmp_path / "template.yaml"
    path.write_text(FUNCTION.format(scaling=scaling))
    template = Template(path)
    [source] = template.function("RetryFunction").sqs_sources
    return template, source


@pytest.mark.parametrize(
    ("scaling", "expected"),
    [
        ("", 2),  # the template's RetryMaxConcurrency default
        (SCALING.format("5"), 5),
        (SCALING.format("!Ref RetryMaxConcurrency"), 3),
    ],
    ids=["absent", "number", "parameter"],
)
def test_maximum_concurrency(tmp_path: Path, scaling: str, expected: int) -> None:
    template, source = retry_source(tmp_path, scaling)

    assert template.max_concurrency(source) == expected


def test_the_templates_retry_source_runs_two_at_most() -> None:
    template = Template()
    [source] = template.function("RetryFunction").sqs_sources
    assert template.max_concurrency(source) == 2
