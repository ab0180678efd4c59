"""Pagination for lists that grow (tickets, tasks): `?page=2&page_size=50`.

A paginated answer is `{"count", "count_capped", "next", "previous", "results": [...]}`.
`count` stops at 10,000 (`count_capped` is then true, and the pages end there: narrow the
list to reach further), so a page costs the same however many rows there are
(ticketflower.core.paging). Lists bounded by what a company defines (ticket types) are
plain arrays.
"""

from typing import Any

from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response

from ticketflower.core.paging import CappedPaginator


class ApiPagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
    django_paginator_class = CappedPaginator

    def get_paginated_response(self, data: Any) -> Response:
        response = super().get_paginated_response(data)
        response.data = {
            "count": response.data["count"],
            "count_capped": bool(self.page.paginator.capped),  # type: ignore[union-attr]
            **{key: value for key, value in response.data.items() if key != "count"},
        }
        return response

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        described = super().get_paginated_response_schema(schema)
        described["properties"]["count"]["description"] = "How many there are, up to 10,000."
        described["properties"] = {
            "count": described["properties"]["count"],
            "count_capped": {
                "type": "boolean",
                "description": "True past 10,000: `count` stops there, and so do the pages.",
            },
            **{k: v for k, v in described["properties"].items() if k != "count"},
        }
        described["required"] = ["count", "count_capped", "results"]
        return described
