"""Which sandbox plays which vendor endpoint in the local runtime."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from devserver.vendors.base import VendorSandbox
from devserver.vendors.richrelevance import CONTENT_PREFIX, PROFILE_PREFIX, RichRelevanceSandbox
from devserver.vendors.rokt import RoktSandbox
from devserver.vendors.td_personalization import TdPersonalizationSandbox
from devserver.vendors.td_postback import TdPostbackSandbox


@dataclass(frozen=True)
class SandboxSpec:
    name: str
    factory: Callable[..., VendorSandbox]
    default_port: int
    # function environment variable -> path under the sandbox's base URL
    endpoints: dict[str, str]


SANDBOXES: list[SandboxSpec] = [
    SandboxSpec(
        "td-postback",
        TdPostbackSandbox,
        4010,
        {"TD_POSTBACK_ENDPOINT": "", "TD_INGEST_ENDPOINT": ""},
    ),
    SandboxSpec("td-p13n", TdPersonalizationSandbox, 4011, {"TD_P13N_ENDPOINT": ""}),
    SandboxSpec("rokt", RoktSandbox, 4012, {"ROKT_ENDPOINT": ""}),
    SandboxSpec(
        "richrelevance",
        RichRelevanceSandbox,
        4013,
        {
            "RR_PROFILE_COMMAND_ENDPOINT": PROFILE_PREFIX,
            "RR_CONTENT_UPDATE_ENDPOINT": CONTENT_PREFIX,
        },
    ),
]
