from django.http import HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from voiceops.urls import urlpatterns as voiceops_urlpatterns


@csrf_exempt
def bare(request):
    """Answers what ihuyi expects and does nothing else."""
    return HttpResponse("success", content_type="text/plain")


urlpatterns = [path("bench/bare/", bare), *voiceops_urlpatterns]
