"""mediarouter: ask for `openrouter/google/veo-3.1`, get a saved video back."""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING, Any

from ._version import __version__
from .clock import Clock, SystemClock
from .errors import (
    AllCandidatesFailed,
    AuthenticationFailed,
    BudgetExceeded,
    CancelNotSupported,
    CapabilityMismatch,
    ConfigurationError,
    Conflict,
    InsufficientCredits,
    InvalidRequest,
    JobCancelled,
    JobError,
    JobExpired,
    JobFailed,
    JobTimeout,
    MediaRouterError,
    NotFound,
    OutputGone,
    OutputNotSaved,
    PayloadTooLarge,
    PermissionDenied,
    ProtocolError,
    ProviderUnavailable,
    RateLimited,
    SubmitUnknown,
    UnknownProvider,
)
from .failover import FailoverPolicy
from .observability import default_listeners as _default_listeners  # noqa: F401  (redacts httpx/httpcore logs)
from .refs import ModelRef

if TYPE_CHECKING:
    from .capabilities import Capabilities, Modality, ModelInfo
    from .describing import describe_sync, describe_video
    from .hookspecs import hookimpl
    from .jobs import Job, JobOutput, JobState, JobStatus
    from .provider import Download, Provider
    from .request import FrameImage, InputReference, VideoRequest
    from .results import Attempt, MediaFile, VideoResult
    from .router import Router, generate, generate_sync
    from .settings import MediaRouterSettings
    from .understanding import DescribeModel, Describer, DescribeRequest, DescribeResult
    from .validation import validate_request

#: Names imported on first use (issue #15: start-up). The router pulls in settings
#: (pydantic-settings, platformdirs), the journal (sqlite3) and plugin loading (pluggy, entry
#: points); the request, job and result models pull in pydantic. A script that only catches an
#: error, and `mediarouter --help`, need none of them. The errors, the clock, FailoverPolicy and
#: ModelRef are plain classes and load eagerly.
_LAZY = {
    "Capabilities": "capabilities",
    "Modality": "capabilities",
    "ModelInfo": "capabilities",
    "Job": "jobs",
    "JobOutput": "jobs",
    "JobState": "jobs",
    "JobStatus": "jobs",
    "Download": "provider",
    "Provider": "provider",
    "FrameImage": "request",
    "InputReference": "request",
    "VideoRequest": "request",
    "Attempt": "results",
    "MediaFile": "results",
    "VideoResult": "results",
    "DescribeModel": "understanding",
    "Describer": "understanding",
    "DescribeRequest": "understanding",
    "DescribeResult": "understanding",
    "validate_request": "validation",
    "Router": "router",
    "generate": "router",
    "generate_sync": "router",
    "MediaRouterSettings": "settings",
    "describe_sync": "describing",
    "describe_video": "describing",
    "hookimpl": "hookspecs",
}

__all__ = [
    "__version__",
    "AllCandidatesFailed",
    "Attempt",
    "AuthenticationFailed",
    "BudgetExceeded",
    "CancelNotSupported",
    "Capabilities",
    "CapabilityMismatch",
    "Clock",
    "ConfigurationError",
    "FailoverPolicy",
    "Conflict",
    "DescribeModel",
    "DescribeRequest",
    "DescribeResult",
    "Describer",
    "Download",
    "FrameImage",
    "InputReference",
    "InsufficientCredits",
    "InvalidRequest",
    "Job",
    "JobCancelled",
    "JobError",
    "JobExpired",
    "JobFailed",
    "JobOutput",
    "JobState",
    "JobStatus",
    "JobTimeout",
    "MediaFile",
    "MediaRouterSettings",
    "MediaRouterError",
    "ModelInfo",
    "ModelRef",
    "Modality",
    "NotFound",
    "OutputGone",
    "OutputNotSaved",
    "PayloadTooLarge",
    "PermissionDenied",
    "ProtocolError",
    "Provider",
    "ProviderUnavailable",
    "RateLimited",
    "Router",
    "SubmitUnknown",
    "SystemClock",
    "UnknownProvider",
    "VideoRequest",
    "VideoResult",
    "describe_sync",
    "describe_video",
    "generate",
    "generate_sync",
    "hookimpl",
    "validate_request",
]

# A library must not configure logging for its host; without a handler of our own, Python's
# last-resort handler would print our warnings to stderr.
logging.getLogger("mediarouter").addHandler(logging.NullHandler())


if not TYPE_CHECKING:  # mypy sees the real imports above; at run time these load on first use

    def __getattr__(name: str) -> Any:
        module = _LAZY.get(name)
        if module is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f".{module}", __name__), name)
        globals()[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(globals()) | set(_LAZY))
