"""Lists that cost the same at ten thousand rows and at ten million.

Two things make a page of a big table slow: counting every matching row for the paginator,
and walking past every row before the page for its OFFSET. Here a count stops at a cap
("more than 10,000"), and a page first reads only its primary keys (an index-only walk of
the list's index), then loads just those rows with the columns the list shows.
"""

from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.utils.functional import cached_property


def list_count_cap() -> int:
    """How far lists count before saying "more than" (settings.LIST_COUNT_CAP: 200 pages of 50)."""
    return int(settings.LIST_COUNT_CAP)


def capped_count(queryset: QuerySet[Any], cap: int) -> int:
    """How many rows `queryset` has, counting no further than `cap` + 1 (more than `cap` reads as cap + 1)."""
    return queryset.order_by().values("pk")[: cap + 1].count()


def past_cap(queryset: QuerySet[Any]) -> bool:
    """Whether `queryset` holds more rows than lists count to (reads at most cap + 1 of them)."""
    cap = list_count_cap()
    return capped_count(queryset, cap) > cap


def count_text(count: int, cap: int) -> str:
    """A capped count as people read it: "1,234", or "more than 10,000"."""
    return f"more than {cap:,}" if count > cap else f"{count:,}"


class CappedPaginator(Paginator[Any]):
    """Django's paginator with a capped count and pages read by primary key first.

    `count` stops at `cap`; `capped` says there are more. `columns`, when given, are the
    only columns loaded for a page's rows (`QuerySet.only`).
    """

    template_name = "admin_sites/pagination_capped.html"  # unfold includes the paginator's own

    def __init__(
        self, object_list: Any, per_page: int, *args: Any, columns: Sequence[str] = (), **kwargs: Any
    ) -> None:
        super().__init__(object_list, per_page, *args, **kwargs)
        self.columns = tuple(columns)
        self.cap = list_count_cap()

    @cached_property
    def _counted(self) -> int:
        if isinstance(self.object_list, QuerySet):
            return capped_count(self.object_list, self.cap)
        return len(self.object_list)

    @cached_property
    def count(self) -> int:
        return min(self._counted, self.cap)

    @property
    def capped(self) -> bool:
        return self._counted > self.cap

    @property
    def count_text(self) -> str:
        return count_text(self._counted, self.cap)

    @property
    def noun(self) -> str:
        """What the list holds, as people say it: "tickets", not a proxy's "ticket archive"."""
        model = getattr(self.object_list, "model", None)
        if model is None:
            return ""
        meta = model._meta.concrete_model._meta
        return str(meta.verbose_name if self._counted == 1 else meta.verbose_name_plural)

    def page(self, number: Any) -> Page[Any]:
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        rows = self.object_list
        if not isinstance(rows, QuerySet):
            return Page(rows[bottom:top], number, self)
        # The page's keys from the list's index alone, then only those rows: an OFFSET deep in
        # the list then skips index entries, not whole rows with their JSON.
        keys = list(rows.values_list("pk", flat=True)[bottom:top])
        page_rows = rows.filter(pk__in=keys)
        if self.columns:
            page_rows = page_rows.only(*self.columns)
        return Page(page_rows, number, self)
