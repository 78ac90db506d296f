"""The private bucket (``AWS_STORAGE_BUCKET_NAME``): django-storages' S3 backend, whose links go
through the studio (see ``imagen_site/storage.py``)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urljoin

from botocore.config import Config
from django.conf import settings
from django.http import HttpRequest, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.utils.encoding import filepath_to_uri
from storages.backends.s3 import S3Storage

from imagen_site.storage import MemberServed

CLIENT_LIMITS = Config(connect_timeout=3, read_timeout=10, retries={"max_attempts": 2})


class PrivateS3Storage(MemberServed, S3Storage):  # type: ignore[misc]  # storages has no types
    """A private bucket: pages link ``/media/<name>``, which redirects a member to a signed URL
    that stops working after ``AWS_QUERYSTRING_EXPIRE`` seconds."""

    client_config: Config
    querystring_expire: int
    bucket_name: str
    connection: Any

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        # A slow bucket fails a call in seconds instead of holding a web or worker thread.
        self.client_config = self.client_config.merge(CLIENT_LIMITS)

    def url(
        self, name: str, parameters: Any = None, expire: Any = None, http_method: Any = None
    ) -> str:
        return urljoin(settings.MEDIA_URL, filepath_to_uri(name))

    def member_response(self, request: HttpRequest, name: str) -> HttpResponseBase:
        signed = super().url(name)
        response = HttpResponseRedirect(signed)
        # The member's own browser may reuse the redirect while the signed URL still works, so a
        # page of thumbnails is not signed again on every visit; no shared cache keeps it.
        response["Cache-Control"] = f"private, max-age={self.querystring_expire // 2}"
        return response

    def check(self) -> None:
        # HEAD on the bucket: the server answers, the keys work and the bucket is there.
        self.connection.meta.client.head_bucket(Bucket=self.bucket_name)
