from django.http import HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from apikeys.scopes import SEND_CALLS
from campaigns.api.serializers import SingleCallRequestSerializer
from voiceops.urls import urlpatterns as voiceops_urlpatterns


@csrf_exempt
def bare(request):
    """Answers what ihuyi expects and does nothing else."""
    return HttpResponse("success", content_type="text/plain")


class AcceptFloor(APIView):
    """What every accepted call costs before any work: DRF with our API-key authentication, scope
    check and body validation, answering 201 without touching the database beyond the key."""

    required_scopes = (SEND_CALLS,)

    def post(self, request):
        body = SingleCallRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return Response({"mobile": body.validated_data["mobile"], "state": "queued"}, status=status.HTTP_201_CREATED)


urlpatterns = [
    path("bench/bare/", bare),
    path("bench/accept-floor/", AcceptFloor.as_view()),
    *voiceops_urlpatterns,
]
