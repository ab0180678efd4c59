from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.http import HttpRequest

from ticketflower.accounts.models import User


class EmailBackend(ModelBackend):
    """Django's password backend, loading users across companies.

    A session or a login has no company context yet: the company comes *from* the user.
    """

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> User | None:
        user = super().authenticate(request, username=username, password=password, **kwargs)
        return user if isinstance(user, User) else None

    def get_user(self, user_id: Any) -> User | None:
        try:
            user = User.unscoped.select_related("company").get(pk=user_id)
        except (User.DoesNotExist, ValueError, TypeError):
            return None
        return user if self.user_can_authenticate(user) else None
