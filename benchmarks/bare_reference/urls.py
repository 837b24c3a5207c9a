"""One URL: a constant JSON body."""

from django.http import HttpRequest, JsonResponse
from django.urls import path


def constant(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok", "answer": 42})


urlpatterns = [path("constant", constant)]
