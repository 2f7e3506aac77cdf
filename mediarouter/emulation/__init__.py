"""Provider-neutral parts for in-process emulators of video APIs.

Every backend plugin ships an emulator of its API so tests, demos and ``--emulator`` runs spend
no money; the parts that do not depend on one API live here, shared instead of copied:

- ``injection``: the ``PHASE:OUTCOME[:MODEL][xN]`` grammar (phases a backend declares, outcomes
  defined once) and the Injector that arms and spends injections;
- ``jobs``: the pending → in_progress → completed | failed | cancelled | expired state machine;
- ``journal``: the request journal, counted per phase, never holding a secret;
- ``errors``: ApiError (status + message/body) and the network faults;
- ``mp4``: real MP4s written with PyAV, rendered once per shape (an LRU cache);
- ``transport``: the in-process httpx transport and ``serve()`` for uvicorn;
- ``asgi``: Starlette helpers (JSON bodies, byte ranges, injected network outcomes).

This package imports no starlette, uvicorn or PyAV: ``mp4`` loads PyAV on first render,
``asgi`` needs starlette, ``serve`` imports uvicorn when called.
"""

from __future__ import annotations

from .errors import ApiError, ConnectionDropped, NetworkFault, NoAnswer
from .injection import (
    DROP,
    GARBAGE,
    JOB_OUTCOMES,
    NETWORK_OUTCOMES,
    SLOW,
    TIMEOUT,
    Injection,
    InjectionGrammar,
    Injector,
    PhaseSpec,
)
from .jobs import ACTIVE, TERMINAL, Job, JobMachine, JobStatus, Schedule
from .journal import Journal, safe_headers

__all__ = [
    "ACTIVE",
    "DROP",
    "GARBAGE",
    "JOB_OUTCOMES",
    "NETWORK_OUTCOMES",
    "SLOW",
    "TERMINAL",
    "TIMEOUT",
    "ApiError",
    "ConnectionDropped",
    "Injection",
    "InjectionGrammar",
    "Injector",
    "Job",
    "JobMachine",
    "JobStatus",
    "Journal",
    "NetworkFault",
    "NoAnswer",
    "PhaseSpec",
    "Schedule",
    "safe_headers",
]
