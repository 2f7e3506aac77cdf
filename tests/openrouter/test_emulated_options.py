"""The core's provider-neutral emulator options, as the OpenRouter emulator reads them."""

from __future__ import annotations

import pytest
from mediarouter_openrouter.emulated import emulator_config_from_options

from mediarouter import ConfigurationError


def test_specs_naming_another_backends_model_are_left_to_that_backend() -> None:
    config = emulator_config_from_options(
        {"inject": ["submit:402:google/veo-3.1", "status:500:fal-ai/veo3x2", "submit:500"]}
    )
    assert [(i.phase, i.outcome, i.model) for i in config.injections] == [
        ("submit", 402, "google/veo-3.1"),
        ("submit", 500, None),
    ]


def test_a_spec_naming_a_chat_model_is_the_emulators_own() -> None:
    """Chat models (what `describe` asks) are served here too, though not in the video catalog."""
    config = emulator_config_from_options({"inject": ["chat:500:google/gemini-2.5-pro", "chat:500:gemini-2.5-pro"]})
    assert [(i.phase, i.outcome, i.model) for i in config.injections] == [("chat", 500, "google/gemini-2.5-pro")]


def test_an_unknown_option_is_an_error_naming_the_known_ones() -> None:
    with pytest.raises(ConfigurationError, match="polls_before_completed"):
        emulator_config_from_options({"polls": 3})
