"""Pagination for lists that grow (tickets, tasks): `?page=2&page_size=50`.

A paginated answer is `{"count", "next", "previous", "results": [...]}`. Lists bounded by
what a company defines (ticket types) are plain arrays.
"""

from rest_framework.pagination import PageNumberPagination


class ApiPagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
