from __future__ import annotations

import pytest
from pydantic import ValidationError

from gateway.core.settings import Settings


def test_defaults_follow_design(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TD_REGION", "TD_POSTBACK_ENDPOINT", "TD_P13N_ENDPOINT", "RR_ENVIRONMENT"):
        monkeypatch.delenv(name, raising=False)
    s = Settings()
    assert s.td_postback_base == "https://in.treasuredata.com"
    assert not s.td_postback_is_v2
    assert s.td_p13n_base == "https://us01.p13n.in.treasuredata.com"
    assert s.rokt_endpoint == "https://server-api.rokt.com"
    assert s.rr_profile_command_base == "https://gateway.richrelevance.com/profile-command/v1"
    assert s.rr_content_update_base == "https://gateway.richrelevance.com/contentupdate/v1"
    assert s.upstream_timeout_seconds < 10  # below the template's function timeout


def test_region_and_environment_shape_endpoints(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TD_REGION", "ap01")
    monkeypatch.setenv("RR_ENVIRONMENT", "staging-gateway")
    monkeypatch.setenv("TD_POSTBACK_ENDPOINT", "")
    s = Settings()
    assert s.td_postback_base == "https://tokyo.in.treasuredata.com"
    assert s.td_p13n_base == "https://ap01.p13n.in.treasuredata.com"
    assert s.rr_content_update_base == (
        "https://staging-gateway.richrelevance.com/contentupdate/v1"
    )


def test_rr_environments_and_chunk_size(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RR_ENVIRONMENT", "qa-gateway")
    monkeypatch.setenv("RR_CONTENT_CHUNK_SIZE", "25")
    s = Settings()
    assert s.rr_profile_command_base == "https://qa-gateway.richrelevance.com/profile-command/v1"
    assert s.rr_content_chunk_size == 25
    monkeypatch.setenv("RR_ENVIRONMENT", "prod-gateway")
    with pytest.raises(ValidationError):
        Settings()


@pytest.mark.parametrize(
    ("region", "host"),
    [
        ("us01", "https://in.treasuredata.com"),
        ("ap01", "https://tokyo.in.treasuredata.com"),
        ("eu01", "https://eu01.in.treasuredata.com"),
        ("ap02", "https://ap02.in.treasuredata.com"),
    ],
)
def test_postback_host_is_the_documents_host_of_the_region(
    region: str, host: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Where a wrong write key is a 403; the v2 host would answer 200 and drop the record.
    monkeypatch.setenv("TD_REGION", region)
    monkeypatch.delenv("TD_POSTBACK_ENDPOINT", raising=False)
    assert Settings().td_postback_base == host


def test_endpoint_override_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TD_POSTBACK_ENDPOINT", "https://us01.records.in.treasuredata.com/")
    s = Settings()
    assert s.td_postback_base == "https://us01.records.in.treasuredata.com"
    assert s.td_postback_is_v2


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("TD_REGION", "mars01"),
        ("RR_ENVIRONMENT", "prod"),
        ("TD_POSTBACK_ENDPOINT", "ftp://in.treasuredata.com"),
        ("UPSTREAM_TIMEOUT_SECONDS", "60"),
        ("UPSTREAM_TIMEOUT_SECONDS", "0"),
        ("ROKT_ENDPOINT", "server-api.rokt.com"),
        ("ROKT_RETRY_DELAY_SECONDS", "5"),  # Rokt advises 1-2 s
        ("ROKT_CACHE_TTL_SECONDS", "-1"),
    ],
)
def test_invalid_configuration_is_refused(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        Settings()
