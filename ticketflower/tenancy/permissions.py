from django.core.exceptions import PermissionDenied

from ticketflower.accounts.models import User
from ticketflower.tenancy.models import SystemRole


def require_system_role(user: User, role: SystemRole) -> None:
    """Raise PermissionDenied unless `user` is an active member of a company holding `role`."""
    if not user.is_active or user.company_id is None or not user.has_system_role(role):
        raise PermissionDenied(f"This needs the {role.label} role.")
