"""Writing compiled layouts: one row per distinct module, and a release's frozen set."""

from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from ticketflower.definitions.models import WorkflowRelease
from ticketflower.layouts.compiler import CompiledModule, compile_layout
from ticketflower.layouts.models import CompiledLayout
from ticketflower.layouts.slots import bundle_slots


def layout_store(source: str) -> CompiledModule:
    """Compile `source` (LayoutInvalid if it does not) and keep the module servable by its hash."""
    compiled = compile_layout(source)
    _, made = CompiledLayout.objects.get_or_create(
        sha256=compiled.sha256, defaults={"code": compiled.code, "compiler": compiled.compiler}
    )
    if not made:  # used again: not one for the clean-up to take (unused_layouts_remove)
        recently = timezone.now() - timedelta(days=1)
        CompiledLayout.objects.filter(sha256=compiled.sha256, created_at__lt=recently).update(
            created_at=timezone.now()
        )
    return compiled


def layouts_freeze(bundle: dict[str, Any]) -> dict[str, str]:
    """Compile and store every layout of a validated bundle, defaults included: path → module hash.

    A release keeps this map, so it runs exactly the modules it was published with even when
    the compiler or the defaults change later.
    """
    return {slot.path: layout_store(slot.effective_source()).sha256 for slot in bundle_slots(bundle)}


def unused_layouts_remove(*, older_than: datetime) -> int:
    """Delete compiled modules no release runs that were made before `older_than`.

    Previews and saved drafts compile too; a page showing one compiles it again when needed.
    Releases of every company count (modules are shared by hash), so this reads them unscoped.
    """
    used: set[str] = set()
    for layouts in WorkflowRelease.unscoped.values_list("layouts", flat=True).iterator():
        used.update(layouts.values())
    stale = CompiledLayout.objects.filter(created_at__lt=older_than).exclude(sha256__in=used)
    deleted, _ = stale.delete()
    return deleted
