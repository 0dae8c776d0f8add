"""Catalog writes: a product's uploaded picture.

An upload is checked with Pillow before anything is stored (its bytes, its real format, its pixel
count: a small file can still decode to a huge bitmap), then stored under MEDIA_ROOT with a
random name, with a thumbnail made here, once, at upload time (a service, never a signal), so pages
only ever read files.
"""

from __future__ import annotations

import io
import logging
import secrets
from typing import IO

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils.text import slugify
from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import DomainError
from ..models import Product, User
from ..resilience import CacheUnavailable
from ..roles import perm_require
from ..selectors.catalog import CATALOGUE_GENERATION_KEY

logger = logging.getLogger(__name__)

CHANGE_PRODUCT = "ecommerce.change_product"
# Pillow format name -> file extension. Only web formats every browser shows.
ALLOWED_FORMATS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "GIF": "gif"}
FORMATS_TEXT = "JPEG, PNG, WebP or GIF"


def catalogue_generation_bump() -> None:
    """Retire every cached storefront page (prices, stock, titles, categories changed)."""
    from django.core.cache import cache

    try:
        cache.incr(CATALOGUE_GENERATION_KEY)
    except ValueError:  # no generation yet: the next read starts a fresh one
        cache.delete(CATALOGUE_GENERATION_KEY)
    except CacheUnavailable:
        # The lost write is replayed as a delete when Redis answers (ecommerce/cache_backend.py),
        # and a deleted generation restarts from the clock (catalogue_generation).
        logger.warning("catalogue.generation_bump_lost")


def catalogue_changed() -> None:
    """Call after a write that pages show: bumps once the transaction commits."""
    transaction.on_commit(catalogue_generation_bump)


def _megabytes(size: int) -> str:
    if size < 1024 * 1024:
        return f"{max(size // 1024, 1)} KB"
    return f"{size / (1024 * 1024):.1f} MB".replace(".0 MB", " MB")


def product_image_check(upload: IO[bytes]) -> str:
    """Raise DomainError unless `upload` is an allowed image within the limits; return its format."""
    size = getattr(upload, "size", None)
    if size is None:
        upload.seek(0, io.SEEK_END)
        size = upload.tell()
    limit = settings.PRODUCT_IMAGE_MAX_BYTES
    if size > limit:
        raise DomainError(f"The image is {_megabytes(size)}; the limit is {_megabytes(limit)}.")
    if not size:
        raise DomainError("The file is empty.")
    try:
        upload.seek(0)
        with Image.open(upload) as image:
            image_format = image.format or ""
            width, height = image.size
            image.verify()  # reads the whole file: a truncated or forged image fails here
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise DomainError(f"That file is not an image we can read. Upload a {FORMATS_TEXT} file.") from None
    finally:
        upload.seek(0)
    if image_format not in ALLOWED_FORMATS:
        raise DomainError(f"{image_format or 'That'} images are not accepted. Upload a {FORMATS_TEXT} file.")
    if width * height > settings.PRODUCT_IMAGE_MAX_PIXELS:
        raise DomainError(
            f"The image is {width} × {height} pixels; at most "
            f"{settings.PRODUCT_IMAGE_MAX_PIXELS:,} pixels are accepted."
        )
    return image_format


def _thumbnail(upload: IO[bytes]) -> bytes:
    size = settings.PRODUCT_THUMBNAIL_SIZE
    upload.seek(0)
    with Image.open(upload) as image:
        image = ImageOps.exif_transpose(image)  # phone photos carry their rotation in EXIF
        image.thumbnail((size, size))
        if image.mode not in ("RGB", "RGBA"):
            image = image.convert("RGBA" if "transparency" in image.info or image.mode in ("LA", "P") else "RGB")
        out = io.BytesIO()
        image.save(out, format="WEBP", quality=82)
    upload.seek(0)
    return out.getvalue()


def product_image_set(*, product: Product, upload: IO[bytes], actor: User | None) -> Product:
    """Store `upload` as the product's picture with a thumbnail; replaces (and deletes) the old ones."""
    perm_require(actor, CHANGE_PRODUCT, "You may not change products.")
    image_format = product_image_check(upload)
    thumbnail = _thumbnail(upload)
    # A random part: names cannot be guessed, and a replaced image never hits a stale cache.
    stem = f"{slugify(product.sku)[:40] or 'product'}-{secrets.token_hex(4)}"
    old = [f.name for f in (product.image, product.image_thumbnail) if f]
    with transaction.atomic():
        locked = Product.objects.select_for_update().get(pk=product.pk)
        upload.seek(0)
        locked.image.save(f"{stem}.{ALLOWED_FORMATS[image_format]}", ContentFile(upload.read()), save=False)
        locked.image_thumbnail.save(f"{stem}.webp", ContentFile(thumbnail), save=False)
        locked.save(update_fields=["image", "image_thumbnail"])
        catalogue_changed()
        transaction.on_commit(lambda: _delete_files(old))
    logger.info("catalog.product_image_set", extra={"product_id": locked.pk})
    product.image, product.image_thumbnail = locked.image, locked.image_thumbnail
    return locked


def product_image_clear(*, product: Product, actor: User | None) -> Product:
    """Remove the uploaded picture; the storefront falls back to the image URL or the tile."""
    perm_require(actor, CHANGE_PRODUCT, "You may not change products.")
    old = [f.name for f in (product.image, product.image_thumbnail) if f]
    with transaction.atomic():
        Product.objects.filter(pk=product.pk).update(image="", image_thumbnail="")
        transaction.on_commit(lambda: _delete_files(old))
        catalogue_changed()
    product.image, product.image_thumbnail = "", ""
    return product


def _delete_files(names: list[str]) -> None:
    from django.core.files.storage import default_storage

    for name in names:
        try:
            default_storage.delete(name)
        except OSError:  # already gone: nothing to clean
            logger.warning("catalog.image_delete_failed", extra={"file": name})
