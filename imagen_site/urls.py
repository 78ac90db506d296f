import posixpath
from typing import Any

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.db.models import QuerySet
from django.http import Http404, HttpRequest
from django.http.response import HttpResponseBase
from django.urls import URLPattern, URLResolver, include, path, re_path

from generations.models import Generation, GenerationImage
from generations.signin import AdminSignInForm, SignInForm
from imagen_site import operations, storage


def owned_by_a_live_generation(name: str) -> QuerySet[Any, Any]:
    """The generation, not deleted, that owns the stored file ``name`` (as its image, its
    thumbnail or one of its result's images): one query, each branch through an index."""
    live = Generation.objects.filter(deleted_at__isnull=True).order_by()  # no ORDER BY in a UNION
    images = GenerationImage.objects.filter(image=name, generation__deleted_at__isnull=True)
    return (
        live.filter(image=name)
        .values_list("pk", flat=True)
        .union(
            live.filter(thumbnail=name).values_list("pk", flat=True),
            images.order_by().values_list("generation_id", flat=True),
        )
    )


@login_required  # images are the team's: members only, even by direct link
def serve_media(request: HttpRequest, path: str) -> HttpResponseBase:
    # Named as serve() will read it, so "a/./b" or "a//b" cannot pass for another name. Only a
    # file a live generation owns is served: a deleted generation's images are gone for members.
    name = posixpath.normpath(path).lstrip("/")
    if not owned_by_a_live_generation(name).exists():
        raise Http404("No such image.")
    # The file from the folder, or a redirect to a signed URL of the bucket (storage.py).
    return storage.member_response(request, name)


# The admin's sign-in is slowed like the studio's (generations/signin.py).
admin.site.login_form = AdminSignInForm

# Only what the product uses: members get accounts from an admin, and ask one for a new password,
# so there is no sign-up and no password reset (an unthrottled mail to any address).
accounts: list[URLPattern | URLResolver] = [
    path("login/", auth_views.LoginView.as_view(authentication_form=SignInForm), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password_change/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path(
        "password_change/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
]

urlpatterns: list[URLPattern | URLResolver] = [
    path("healthz", operations.healthz, name="healthz"),
    path("metrics", operations.metrics_page, name="metrics"),
    path("admin/", admin.site.urls),
    path("accounts/", include(accounts)),
    path("", include("generations.urls")),
    # Every image goes through the studio's check, in production too: no proxy serves media.
    re_path(r"^media/(?P<path>.*)$", serve_media),
]
