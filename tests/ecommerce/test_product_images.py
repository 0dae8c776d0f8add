"""Product pictures: upload checked by Pillow, stored under MEDIA_ROOT with a thumbnail, shown in
the admin and the shop; anything else is refused with a message that says why."""

import io
import os

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from ecommerce.errors import DomainError, PermissionDenied
from ecommerce.models import Product
from ecommerce.services.catalog import product_image_clear, product_image_set
from tests.factories import ProductFactory, RoleStaffFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.MEDIA_URL = "/media/"
    settings.PRODUCT_THUMBNAIL_SIZE = 480
    return tmp_path / "media"


def _image(fmt: str = "PNG", size: tuple[int, int] = (1200, 800), name: str = "photo.png") -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 40, 90)).save(buffer, format=fmt)
    return SimpleUploadedFile(name, buffer.getvalue(), content_type=f"image/{fmt.lower()}")


@pytest.fixture
def catalog_manager():
    return RoleStaffFactory(role="catalog_manager")


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_a_valid_image_is_stored_with_a_thumbnail(catalog_manager, media_root):
    product = ProductFactory(sku="MUG-01")
    product_image_set(product=product, upload=_image(), actor=catalog_manager)
    product.refresh_from_db()
    assert product.image.name.startswith("products/mug-01-") and product.image.name.endswith(".png")
    assert (media_root / product.image.name).exists()
    with Image.open(media_root / product.image_thumbnail.name) as thumb:
        assert thumb.format == "WEBP" and max(thumb.size) == 480 and thumb.size == (480, 320)
    assert product.thumbnail_url.startswith("/media/products/thumbs/")


def test_replacing_an_image_deletes_the_old_files(catalog_manager, media_root, django_capture_on_commit_callbacks):
    product = ProductFactory()
    with django_capture_on_commit_callbacks(execute=True):
        product_image_set(product=product, upload=_image(), actor=catalog_manager)
    first = media_root / Product.objects.get(pk=product.pk).image.name
    with django_capture_on_commit_callbacks(execute=True):
        product_image_set(product=product, upload=_image("JPEG", name="b.jpg"), actor=catalog_manager)
    assert not first.exists() and (media_root / Product.objects.get(pk=product.pk).image.name).exists()
    with django_capture_on_commit_callbacks(execute=True):
        product_image_clear(product=product, actor=catalog_manager)
    assert not Product.objects.get(pk=product.pk).image and not list((media_root / "products").glob("*.jpg"))


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (
            SimpleUploadedFile("notes.png", b"this is not a picture at all", content_type="image/png"),
            "not an image we can read",
        ),
        (SimpleUploadedFile("empty.png", b"", content_type="image/png"), "empty"),
        (_image("BMP", (20, 20), "old.bmp"), "BMP images are not accepted"),
        (_image("PNG", (6000, 5000)), "6000 × 5000 pixels"),
    ],
)
def test_what_is_not_an_acceptable_image_is_refused(catalog_manager, upload, message):
    product = ProductFactory()
    with pytest.raises(DomainError, match=message):
        product_image_set(product=product, upload=upload, actor=catalog_manager)
    assert not Product.objects.get(pk=product.pk).image


def _noise(size: int = 300) -> SimpleUploadedFile:
    """A photo-like PNG that does not compress: about 270 KB for 300 x 300."""
    buffer = io.BytesIO()
    Image.frombytes("RGB", (size, size), os.urandom(size * size * 3)).save(buffer, format="PNG")
    return SimpleUploadedFile("noise.png", buffer.getvalue(), content_type="image/png")


def test_an_oversized_file_is_refused(catalog_manager, settings):
    settings.PRODUCT_IMAGE_MAX_BYTES = 100 * 1024
    with pytest.raises(DomainError, match=r"^The image is 26\d KB; the limit is 100 KB\.$"):
        product_image_set(product=ProductFactory(), upload=_noise(), actor=catalog_manager)
    settings.PRODUCT_IMAGE_MAX_BYTES = 5 * 1024 * 1024
    assert product_image_set(product=ProductFactory(), upload=_noise(), actor=catalog_manager).image


def test_uploading_needs_change_product():
    with pytest.raises(PermissionDenied):
        product_image_set(product=ProductFactory(), upload=_image(), actor=RoleStaffFactory(role="support_agent"))


def _change_form(product: Product, **extra) -> dict:
    return {
        "sku": product.sku,
        "title": product.title,
        "description": product.description,
        "category": product.category_id,
        "price": "9.99",
        "currency": "GBP",
        "stock": "5",
        "is_active": "on",
        "image_url": "",
        "attributes": "{}",
        "created_at_0": "2026-01-01",
        "created_at_1": "10:00:00",
        **extra,
    }


def test_admin_upload_shows_the_thumbnail(catalog_manager):
    product = ProductFactory()
    client = _client(catalog_manager)
    response = client.post(f"/admin/ecommerce/product/{product.pk}/change/", _change_form(product, upload=_image()))
    assert response.status_code == 302, response.content.decode()[:3000]
    product.refresh_from_db()
    listing = client.get("/admin/ecommerce/product/").content.decode()
    assert f'<img class="admin-thumb" src="{product.image_thumbnail.url}"' in listing
    change = client.get(f"/admin/ecommerce/product/{product.pk}/change/").content.decode()
    assert 'class="admin-thumb-large"' in change


@pytest.mark.parametrize(
    ("upload", "limit", "message"),
    [
        (
            SimpleUploadedFile("cv.pdf", b"%PDF-1.4 not an image", content_type="application/pdf"),
            None,
            "That file is not an image we can read. Upload a JPEG, PNG, WebP or GIF file.",
        ),
        (_noise(), 100 * 1024, "the limit is 100 KB"),
    ],
)
def test_admin_refuses_a_bad_upload_with_a_clear_message(catalog_manager, settings, upload, limit, message):
    if limit:
        settings.PRODUCT_IMAGE_MAX_BYTES = limit
    product = ProductFactory(title="Old title")
    response = _client(catalog_manager).post(
        f"/admin/ecommerce/product/{product.pk}/change/", _change_form(product, upload=upload, title="New title")
    )
    assert response.status_code == 200
    assert message in response.content.decode()
    product.refresh_from_db()
    assert not product.image and product.title == "Old title"  # nothing half-written


def test_storefront_shows_the_uploaded_picture_and_falls_back_to_the_tile(catalog_manager, client):
    with_picture, without = ProductFactory(), ProductFactory()
    product_image_set(product=with_picture, upload=_image(), actor=catalog_manager)
    with_picture.refresh_from_db()
    page = client.get(f"/products/{with_picture.pk}/").content.decode()
    assert f'<img class="tile uploaded" src="{with_picture.image.url}"' in page
    plain = client.get(f"/products/{without.pk}/").content.decode()
    assert 'class="tile placeholder"' in plain


def test_media_are_served_only_when_media_serve_is_on(catalog_manager, client, settings):
    product = ProductFactory()
    product_image_set(product=product, upload=_image(), actor=catalog_manager)
    product.refresh_from_db()
    settings.MEDIA_SERVE = False
    assert client.get(product.image_thumbnail.url).status_code == 404
    settings.MEDIA_SERVE = True
    served = client.get(product.image_thumbnail.url)
    assert served.status_code == 200 and served["Content-Type"] == "image/webp"
