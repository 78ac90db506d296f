"""Taking an image away: any member downloads any image the team shares, as an attachment named
from its prompt, with the request written into the file and the pixels untouched."""

from __future__ import annotations

import io
import logging
from urllib.parse import quote

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.template.loader import render_to_string
from django.utils import timezone
from PIL import Image

from generations.models import Generation, Status
from tests.rows import batch, generation
from tests.support import new_generation, opened, page_text, png_text, run_until_finished

pytestmark = pytest.mark.django_db

THAI = "แมวสีส้มนั่งบนหลังคา"


def body_of(response) -> bytes:
    return b"".join(response.streaming_content)


def stored(name: str | None) -> bytes:
    assert name
    with default_storage.open(name, "rb") as f:
        data: bytes = f.read()
    return data


def with_second_image(row, kind: str = "WEBP"):
    """Give ``row`` a second image, stored the way the lifecycle stores one."""
    out = io.BytesIO()
    Image.radial_gradient("L").convert("RGB").save(out, kind)
    name = default_storage.save(
        f"generations/{row.uuid}-1.{kind.lower()}", ContentFile(out.getvalue())
    )
    return row.images.create(position=1, image=name, width=256, height=256)


def test_it_requires_sign_in(client, alice):
    row = generation(alice)
    response = client.get(f"/generations/{row.pk}/download/")
    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/")


def test_it_gives_a_member_another_members_image_with_the_request_written_in(alice, bob_client):
    row = generation(alice, prompt="A fox in snow", negative_prompt="fog", seed=7)
    response = bob_client.get(f"/generations/{row.pk}/download/")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    data = body_of(response)
    assert response["Content-Length"] == str(len(data))
    assert png_text(data)["Description"] == "A fox in snow"
    assert png_text(data)["parameters"] == (
        "A fox in snow\nNegative prompt: fog\nSeed: 7, Size: 128x128, Model: google-imagen4, "
        'Aspect ratio: "1:1"'
    )
    assert opened(data).tobytes() == opened(stored(row.image.name)).tobytes()


def test_it_names_the_attachment_from_the_prompt(alice, alice_client):
    row = generation(alice, prompt="A fox, in the snow!")
    response = alice_client.get(f"/generations/{row.pk}/download/")
    assert response["Content-Disposition"] == 'attachment; filename="a-fox-in-the-snow.png"'


def test_it_names_a_thai_prompt_in_utf8_with_an_ascii_fallback(alice, alice_client):
    row = generation(alice, prompt=THAI)
    response = alice_client.get(f"/generations/{row.pk}/download/")
    assert response["Content-Disposition"] == (
        f"attachment; filename=\"image-{row.pk}.png\"; filename*=UTF-8''{quote(THAI)}.png"
    )
    assert png_text(body_of(response))["Description"] == THAI


def test_it_gives_the_second_image_for_n_2(alice, alice_client):
    row = generation(alice, prompt="Two moons", seed=3)
    second = with_second_image(row)
    response = alice_client.get(f"/generations/{row.pk}/download/?n=2")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/webp"
    assert response["Content-Disposition"] == 'attachment; filename="two-moons-2.webp"'
    image = opened(body_of(response))
    xmp = image.getxmp()["xmpmeta"]["RDF"]["Description"]
    assert (xmp["description"]["Alt"]["li"]["text"], xmp["Seed"]) == ("Two moons", "3")
    assert xmp["Size"] == "256x256"
    assert image.tobytes() == opened(stored(second.image.name)).tobytes()


def test_it_writes_xmp_into_a_jpeg(alice, alice_client):
    row = generation(alice, prompt="A lighthouse")
    with_second_image(row, "JPEG")
    response = alice_client.get(f"/generations/{row.pk}/download/?n=2")
    assert response["Content-Disposition"] == 'attachment; filename="a-lighthouse-2.jpg"'
    xmp = opened(body_of(response)).getxmp()["xmpmeta"]["RDF"]["Description"]
    assert xmp["description"]["Alt"]["li"]["text"] == "A lighthouse"


@pytest.mark.parametrize("n", ["0", "-1", "two", "", "1.5", "²", "9" * 30])
def test_it_answers_400_with_a_plain_message_for_a_bad_n(alice, alice_client, n):
    row = generation(alice)
    response = alice_client.get(f"/generations/{row.pk}/download/", {"n": n})
    assert response.status_code == 400
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response.content.decode() == (
        "Choose the image by its number: n=1 for the first image, n=2 for the second, and so on."
    )


def test_it_answers_404_for_an_image_number_it_does_not_have(alice, alice_client):
    row = generation(alice)
    assert alice_client.get(f"/generations/{row.pk}/download/?n=2").status_code == 404


@pytest.mark.parametrize(
    "state", ["deleted", Status.QUEUED, Status.PROCESSING, Status.DOWNLOADING, Status.FAILED]
)
def test_it_answers_404_for_a_deleted_or_unfinished_or_failed_one(alice, bob_client, state):
    # Its image is stored (as it is while the lifecycle is still saving, or after a failure that
    # came once the file was in), so only the state keeps it from the download.
    row = generation(alice)
    if state == "deleted":
        Generation.objects.filter(pk=row.pk).update(deleted_at=timezone.now())
    else:
        Generation.objects.filter(pk=row.pk).update(status=state)
    assert bob_client.get(f"/generations/{row.pk}/download/").status_code == 404


def test_it_answers_404_for_an_unknown_one(alice_client):
    assert alice_client.get("/generations/999999/download/").status_code == 404


def test_it_answers_404_when_the_file_is_gone_from_storage(alice, alice_client):
    row = generation(alice)
    default_storage.delete(str(row.image.name))
    assert alice_client.get(f"/generations/{row.pk}/download/").status_code == 404


def test_it_gives_the_original_as_it_is_when_it_cannot_write_into_it(alice, alice_client, caplog):
    row = generation(alice)
    broken = b"\x89PNG\r\n\x1a\n" + b"not the chunks of a PNG"
    with default_storage.open(str(row.image.name), "wb") as f:
        f.write(broken)
    with caplog.at_level(logging.WARNING, logger="generations.views"):
        response = alice_client.get(f"/generations/{row.pk}/download/")
    assert response.status_code == 200
    assert body_of(response) == broken
    assert "served without its request written in" in caplog.text


def test_it_streams_a_file_over_the_byte_cap_as_it_is(alice, alice_client, settings):
    row = generation(alice)
    settings.RESULT_MAX_BYTES = 100
    response = alice_client.get(f"/generations/{row.pk}/download/")
    assert response.status_code == 200
    assert body_of(response) == stored(row.image.name)


def test_it_keeps_the_download_out_of_shared_caches(alice, alice_client):
    row = generation(alice)
    response = alice_client.get(f"/generations/{row.pk}/download/")
    assert "private" in response["Cache-Control"]


def test_it_refuses_a_post(alice, alice_client):
    row = generation(alice)
    assert alice_client.post(f"/generations/{row.pk}/download/").status_code == 405


def test_it_gives_each_image_of_a_real_result(sim, alice, alice_client):
    row = run_until_finished(new_generation(alice, prompt="Two moons [sim:multi]", seed=11))
    assert row.status == Status.SUCCEEDED
    for n in (1, 2):
        data = body_of(alice_client.get(f"/generations/{row.pk}/download/?n={n}"))
        assert "Seed: 11, Size: " in png_text(data)["parameters"]
        original = opened(stored(row.images.get(position=n - 1).image.name))
        assert opened(data).tobytes() == original.tobytes()


# -- The link partial ------------------------------------------------------------------------------


def test_its_link_is_a_plain_download_link(alice):
    row = generation(alice)
    html = page_text(render_to_string("generations/_download_link.html", {"generation": row}))
    assert html.strip() == (
        f'<a class="download" href="/generations/{row.pk}/download/" download> Download </a>'
    )


def test_its_link_names_the_image_of_several(alice):
    row = generation(alice)
    context = {"generation": row, "n": 2}
    html = page_text(render_to_string("generations/_download_link.html", context))
    assert f'href="/generations/{row.pk}/download/?n=2" download> Download image 2 </a>' in html


def test_its_link_is_left_out_for_an_unfinished_one(alice):
    row = generation(alice, Status.PROCESSING)
    assert render_to_string("generations/_download_link.html", {"generation": row}).strip() == ""


# -- A request of several images (issue 11) ------------------------------------------------------


def test_it_counts_n_through_every_image_of_a_request(alice, bob_client):
    lead, _, third = batch(alice, Status.SUCCEEDED, Status.FAILED, Status.SUCCEEDED, seed=70)
    data = body_of(bob_client.get(f"/generations/{lead.pk}/download/?n=2"))
    assert "Seed: 72, " in png_text(data)["parameters"]  # the third image's: the second failed
    original = opened(stored(third.images.get().image.name))
    assert opened(data).tobytes() == original.tobytes()
    assert bob_client.get(f"/generations/{lead.pk}/download/?n=3").status_code == 404


def test_it_downloads_a_request_whose_first_image_failed(alice, alice_client):
    lead, _ = batch(alice, Status.FAILED, Status.SUCCEEDED, seed=5)
    response = alice_client.get(f"/generations/{lead.pk}/download/")
    assert response.status_code == 200
    assert "Seed: 6, " in png_text(body_of(response))["parameters"]
