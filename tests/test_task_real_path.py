"""The real path: a Celery worker, the real simulator, a submit that ends with a stored image."""

from __future__ import annotations

import io

import pytest
from django.core.files.storage import default_storage
from PIL import Image

from generations.models import Generation, LedgerEntry, Status
from tests.support import finished, wait_for

pytestmark = [pytest.mark.slow]


def test_a_submit_ends_with_a_stored_decodable_image(
    sim, celery_worker, alice_client, form_data, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post("/generations/", form_data(aspect_ratio="16:9"))
    assert response.status_code == 302
    generation_id = Generation.objects.get().pk

    generation = wait_for(lambda: finished(generation_id), timeout=60)

    assert generation.status == Status.SUCCEEDED, generation.error_message
    with default_storage.open(generation.image.name) as f:
        image = Image.open(io.BytesIO(f.read()))
        image.load()
    assert image.size == (1408, 768)
    assert sim.state.creates_total == 1
    assert LedgerEntry.objects.filter(generation_id=generation_id).count() == 2
