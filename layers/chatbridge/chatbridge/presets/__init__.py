"""Ready-made provider setups: ``chatbridge presets list`` / ``presets apply NAME``.

Each provider is one data module (``telegram.py``...) holding a ``Preset``; this registry names them.
``build`` (in ``model``) turns a preset plus ``--set`` values into the three objects to store.
"""

from __future__ import annotations

from chatbridge.errors import PresetError
from chatbridge.presets import messenger, openwa, telegram, twilio, viber, whatsapp_cloud
from chatbridge.presets.model import Parameter, Preset, PresetSetup, build

PRESETS: dict[str, Preset] = {preset.name: preset for preset in (
    openwa.PRESET, whatsapp_cloud.PRESET, telegram.PRESET, twilio.PRESET, viber.PRESET, messenger.PRESET)}


def get_preset(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        raise PresetError(f"no preset {name!r} (presets: {', '.join(PRESETS)})") from None


__all__ = ["PRESETS", "Parameter", "Preset", "PresetError", "PresetSetup", "build", "get_preset"]
