"""A missing emulator extra is a one-line ConfigurationError naming what to install, never an ImportError."""

from __future__ import annotations

import pytest

from mediarouter import ConfigurationError
from mediarouter.emulation.loading import load_emulator


def test_a_missing_package_names_the_extra_to_install() -> None:
    def build() -> object:
        raise ModuleNotFoundError("No module named 'starlette'", name="starlette")

    with pytest.raises(ConfigurationError) as info:
        load_emulator(build, provider="acme", label="Acme", hint="pip install 'mediarouter-acme[emulator]'")
    assert "the Acme emulator needs extra packages (starlette)" in str(info.value)
    assert info.value.hint == "pip install 'mediarouter-acme[emulator]'" and info.value.provider == "acme"


def test_the_transport_is_returned_when_the_packages_are_there() -> None:
    sentinel = object()
    assert load_emulator(lambda: sentinel, provider="acme", label="Acme", hint="x") is sentinel


def test_specs_naming_another_backends_model_are_left_to_it() -> None:
    from mediarouter.emulation.injection import spec_model, specs_for

    assert spec_model("submit:402:google/veo-3.1x2") == "google/veo-3.1"
    assert spec_model("poll:failed") is None and spec_model("poll:500x3") is None
    assert spec_model("status:500:fal-ai/kling-video/v2.1/master/text-to-video") == (
        "fal-ai/kling-video/v2.1/master/text-to-video"
    )
    specs = ["submit:402:google/veo-3.1", "status:500:fal-ai/veo3x1", "poll:500"]
    assert specs_for(specs, lambda model: model.startswith("fal-ai/")) == ["status:500:fal-ai/veo3x1", "poll:500"]
