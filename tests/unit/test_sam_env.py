"""env.local.json (`sam local --config-env local`'s --env-vars) follows the template."""

from __future__ import annotations

from devserver.sam_env import ENV_FILE, default_env_file, default_sandbox_urls, local_env
from devserver.template import Template


def test_committed_env_file_is_up_to_date() -> None:
    assert ENV_FILE.read_text() == default_env_file(), (
        "run `make env-local` and commit env.local.json"
    )


def test_every_function_points_at_loopback_only() -> None:
    env = local_env(Template(), "http://127.0.0.1:4566", default_sandbox_urls())
    assert sorted(env) == sorted(fn.logical_id for fn in Template().functions())
    for variables in env.values():
        assert variables["AWS_ENDPOINT_URL"] == "http://127.0.0.1:4566"
        for key, value in variables.items():
            if key.endswith(("_ENDPOINT", "_URL")) and value:
                assert value.startswith("http://127.0.0.1:"), (key, value)
