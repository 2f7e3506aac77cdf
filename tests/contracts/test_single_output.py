"""A provider whose API has one output per job passes the kit once it says so (`max_outputs = 1`); without it,
the kit draws jobs with two outputs, which such a backend cannot serve, and rule 1 says so."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import httpx
import pytest
from hypothesis import settings
from mediarouter_contracts import ContractViolation
from mediarouter_contracts.adapter import ResponseContext

from . import example_plugin
from .example_plugin import BASE_URL, AcmeWireAdapter


class SoloAdapter(AcmeWireAdapter):
    """The Acme API as if a job had one video: it lists only the first one, and every download is that one."""

    def output_index(self, request: httpx.Request) -> int:
        return 0

    def poll_response(self, ctx: ResponseContext) -> httpx.Response:
        return super().poll_response(dataclasses.replace(ctx, links=ctx.links[:1]))


class Solo(example_plugin.TestAcmeContract):  # not named Test…: run rule by rule below
    adapter: ClassVar[AcmeWireAdapter] = SoloAdapter(BASE_URL)

    def hypothesis_settings(self, scale: float = 1.0, *, minimum: int = 2) -> settings:
        return settings(super().hypothesis_settings(scale, minimum=minimum), database=None)


class SoloDeclared(Solo):
    max_outputs: ClassVar[int] = 1


def test_a_one_output_api_that_declares_it_passes_rules_1_and_10() -> None:
    contract = SoloDeclared()
    contract.test_rule1_completed_job_saves_exact_bytes_and_reports_cost_and_job_id()
    contract.test_rule10_cancellation_at_any_await_point_leaves_nothing_behind()


def test_without_the_declaration_rule_1_finds_the_second_output_missing() -> None:
    with pytest.raises(ContractViolation, match=r"^rule 1: .*output"):
        Solo().test_rule1_completed_job_saves_exact_bytes_and_reports_cost_and_job_id()
