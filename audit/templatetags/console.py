"""Template tags for the fast admin list pages (see ``audit.admin_tools``)."""

from __future__ import annotations

from django import template
from django.contrib.admin.templatetags.admin_list import pagination

from audit.admin_tools import date_hierarchy_context

register = template.Library()


@register.inclusion_tag("admin/date_hierarchy.html")
def console_date_hierarchy(cl) -> dict:
    return date_hierarchy_context(cl)


@register.inclusion_tag("admin/console/pagination.html")
def console_pagination(cl) -> dict:
    context = pagination(cl)
    context["count_is_capped"] = getattr(cl.paginator, "is_capped", False)
    return context
