"""`{% workflow_graph bundle %}`: the workflow's picture, for admin pages."""

from typing import Any

from django import template
from django.utils.safestring import SafeString, mark_safe

from ticketflower.definitions.graph import workflow_graph_svg

register = template.Library()


@register.simple_tag
def workflow_graph(bundle: dict[str, Any]) -> SafeString:
    # Only the drawing function's own output is marked safe: it escapes every text it draws.
    return mark_safe(workflow_graph_svg(bundle))  # noqa: S308
