from django.conf import settings
from django.contrib import admin
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.urls import URLPattern, URLResolver, include, path, re_path
from django.views.static import serve


@login_required  # images are the team's: members only, even by direct link
def serve_media(request: HttpRequest, path: str) -> HttpResponseBase:
    # MEDIA_ROOT is read per request, not frozen at import, so a changed setting is honoured.
    return serve(request, path, document_root=str(settings.MEDIA_ROOT))


urlpatterns: list[URLPattern | URLResolver] = [
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("generations.urls")),
]

if settings.SERVE_MEDIA:
    # Only on the embedded default; production serves media from its storage or proxy.
    urlpatterns += [
        re_path(r"^media/(?P<path>.*)$", serve_media),
    ]
