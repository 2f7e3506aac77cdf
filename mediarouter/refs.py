"""Model references: `provider/model-id`."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import InvalidRequest

__all__ = ["ModelRef"]


@dataclass(frozen=True, slots=True)
class ModelRef:
    """`openrouter/google/veo-3.1` → provider `openrouter`, model id `google/veo-3.1`.

    The first path segment names the plugin; the rest is the provider's own model id, which
    is what the plugin receives (its own prefix stripped).
    """

    provider: str
    model_id: str

    @classmethod
    def parse(cls, ref: str) -> ModelRef:
        text = (ref or "").strip()
        provider, sep, model_id = text.partition("/")
        if not sep or not provider or not model_id or model_id.startswith("/"):
            raise InvalidRequest(
                f"model ref {ref!r} is not of the form 'provider/model-id'",
                hint="Example: openrouter/google/veo-3.1 (run `mediarouter models` to list them)",
            )
        return cls(provider=provider, model_id=model_id)

    def __str__(self) -> str:
        return f"{self.provider}/{self.model_id}"
