"""Page-numbered lists that read ``page`` as strictly as the schema states it."""

from django.utils.translation import gettext
from rest_framework.exceptions import NotFound
from rest_framework.pagination import PageNumberPagination


class StrictPageNumberPagination(PageNumberPagination):
    def get_page_number(self, request, paginator):
        """``?page=`` given empty is no page (404), not silently the first one."""
        number = request.query_params.get(self.page_query_param)
        if number is not None and not number.strip():
            raise NotFound(gettext("Invalid page."))
        return super().get_page_number(request, paginator)
