"""Writing compiled layouts: one row per distinct module, and a release's frozen set."""

from typing import Any

from ticketflower.layouts.compiler import CompiledModule, compile_layout
from ticketflower.layouts.models import CompiledLayout
from ticketflower.layouts.slots import bundle_slots


def layout_store(source: str) -> CompiledModule:
    """Compile `source` (LayoutInvalid if it does not) and keep the module servable by its hash."""
    compiled = compile_layout(source)
    CompiledLayout.objects.get_or_create(
        sha256=compiled.sha256, defaults={"code": compiled.code, "compiler": compiled.compiler}
    )
    return compiled


def release_layouts(bundle: dict[str, Any]) -> dict[str, str]:
    """Compile and store every layout of a validated bundle, defaults included: path → module hash.

    A release keeps this map, so it runs exactly the modules it was published with even when
    the compiler or the defaults change later.
    """
    return {slot.path: layout_store(slot.effective_source()).sha256 for slot in bundle_slots(bundle)}
