"""Where the images are kept: a local folder (the embedded default) or a private S3-compatible
bucket (``AWS_STORAGE_BUCKET_NAME``), chosen by ``STORAGES["default"]`` in settings.

The rest of the code reads and writes through Django's storage API and never asks which one is in
use. Both storages link a file the same way, ``/media/<name>`` (``url()``): a studio URL that checks
the member and the generation (``imagen_site.urls.serve_media``) before ``member_response``
answers it, with the file itself from the folder, or with a redirect to a signed URL of the bucket
that works for ``AWS_QUERYSTRING_EXPIRE`` seconds. The bucket itself stays private. The bucket's
storage is in ``storage_s3.py``, so the embedded default never imports boto3.
"""

from __future__ import annotations

import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import FileSystemStorage, storages
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.views.static import serve


class MemberServed:
    """A storage whose files reach a member only through the studio's own check."""

    def member_response(self, request: HttpRequest, name: str) -> HttpResponseBase:
        """The answer to a member allowed to see the stored file ``name``."""
        raise NotImplementedError

    def check(self) -> None:
        """Raise if files cannot be kept now (``/healthz``); quick, and reads no file."""
        raise NotImplementedError


class LocalMediaStorage(MemberServed, FileSystemStorage):
    """The embedded default: files under MEDIA_ROOT, sent by Django to the members it let in."""

    def member_response(self, request: HttpRequest, name: str) -> HttpResponseBase:
        # serve() answers conditional requests and refuses to leave the folder.
        return serve(request, name, document_root=str(self.location))

    def check(self) -> None:
        folder = Path(self.location)
        folder.mkdir(parents=True, exist_ok=True)  # as the first save would
        if not os.access(folder, os.W_OK):
            raise OSError(f"this process cannot write to the media folder {folder}")


def media_storage() -> MemberServed:
    """The storage in use, which keeps images for members only."""
    storage = storages["default"]
    if not isinstance(storage, MemberServed):
        raise ImproperlyConfigured(
            "STORAGES['default'] must be imagen_site.storage.LocalMediaStorage or "
            "imagen_site.storage_s3.PrivateS3Storage: only they keep images for members only"
        )
    return storage


def member_response(request: HttpRequest, name: str) -> HttpResponseBase:
    """What a member allowed to see ``name`` gets from the storage in use."""
    return media_storage().member_response(request, name)
