"""Contract-test kit for mediarouter provider plugins.

Install `mediarouter-contracts`, write a `WireAdapter` for your API's wire format and a
`ProviderContract` subclass with a provider factory, and pytest runs the same rules that
guard the OpenRouter plugin against your provider. See docs/plugin-authors.md.
"""

from __future__ import annotations

from .adapter import DownloadLink, ResponseContext, WireAdapter, json_response
from .clock import FakeClock
from .describe import DESCRIBE_ERRORS, DescribeContract, DescribeWireAdapter
from .profiles import active_profile, contract_settings
from .runner import CancelPoint, EngineOptions, JobRun, run_job, run_listing
from .scenarios import (
    DEFAULT_VIDEO,
    FOREIGN_ORIGIN,
    OK,
    PHASES,
    ConnectError,
    Delay,
    HttpError,
    Malformed,
    Mutated,
    Ok,
    Outcome,
    Phase,
    Scenario,
    Script,
    StatusName,
    Truncated,
)
from .strategies import (
    InvalidCase,
    invalid_cases_for,
    invalid_requests_for,
    requests_for,
    scenarios,
    successful_scenarios,
)
from .suite import DEFAULT_CAPABILITIES, EXPECTED_ERRORS, ContractViolation, ProviderContract, expected_sleeps
from .transport import RecordedRequest, ScenarioOverrun, ScenarioTransport

__all__ = [
    # the suite
    "ProviderContract",
    "ContractViolation",
    "DEFAULT_CAPABILITIES",
    "EXPECTED_ERRORS",
    "expected_sleeps",
    # the optional describe (video-to-text) contract
    "DescribeContract",
    "DescribeWireAdapter",
    "DESCRIBE_ERRORS",
    # the adapter an author writes
    "WireAdapter",
    "ResponseContext",
    "DownloadLink",
    "json_response",
    # scenarios
    "Scenario",
    "Script",
    "Outcome",
    "Ok",
    "OK",
    "HttpError",
    "Malformed",
    "Truncated",
    "ConnectError",
    "Delay",
    "Mutated",
    "Phase",
    "PHASES",
    "StatusName",
    "DEFAULT_VIDEO",
    "FOREIGN_ORIGIN",
    # strategies
    "requests_for",
    "invalid_requests_for",
    "invalid_cases_for",
    "InvalidCase",
    "scenarios",
    "successful_scenarios",
    # running jobs
    "FakeClock",
    "ScenarioTransport",
    "RecordedRequest",
    "ScenarioOverrun",
    "EngineOptions",
    "CancelPoint",
    "JobRun",
    "run_job",
    "run_listing",
    "active_profile",
    "contract_settings",
]
