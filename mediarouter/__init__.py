"""mediarouter: ask for `openrouter/google/veo-3.1`, get a saved video back."""

from __future__ import annotations

import logging

from ._version import __version__
from .capabilities import Capabilities, Modality, ModelInfo
from .clock import Clock, SystemClock
from .describing import describe_sync, describe_video
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
from .hookspecs import hookimpl
from .jobs import Job, JobOutput, JobState, JobStatus
from .provider import Download, Provider
from .refs import ModelRef
from .request import FrameImage, InputReference, VideoRequest
from .results import Attempt, MediaFile, VideoResult
from .router import Router, generate, generate_sync
from .settings import MediaRouterSettings
from .understanding import DescribeModel, Describer, DescribeRequest, DescribeResult
from .validation import validate_request

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
