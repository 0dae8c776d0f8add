"""MovieLens importer on a tiny folder written here (the real data is never copied into the repo)."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from ecommerce.importers.movielens import import_movielens
from ecommerce.models import Category, Event, IngestionToken, Product, User
from ecommerce.services.events import event_id_for

pytestmark = pytest.mark.django_db

GENRES = [
    "unknown",
    "Action",
    "Adventure",
    "Animation",
    "Children's",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
]


def _flags(*names: str) -> str:
    return "|".join("1" if g in names else "0" for g in GENRES)


def _folder(tmp_path):
    (tmp_path / "u.genre").write_text("".join(f"{g}|{i}\n" for i, g in enumerate(GENRES)))
    (tmp_path / "u.user").write_text("1|24|M|technician|85711\n2|53|F|other|94043\nbad line\n")
    (tmp_path / "u.item").write_bytes(
        (
            "1|Toy Story (1995)|01-Jan-1995||http://x|" + _flags("Animation", "Children's", "Comedy") + "\n"
            "2|Caf\xe9 Society (1995)|01-Jan-1995||http://x|" + _flags("Drama") + "\n"
        ).encode("latin-1")
    )
    (tmp_path / "u.data").write_text(
        "1\t1\t5\t874965758\n2\t2\t3\t876893171\n1\t2\t4\t878542960\n9\t1\t5\t874965758\nnot a rating\n"
    )
    return tmp_path


def test_import_movielens_users_items_and_ratings(tmp_path):
    report = import_movielens(directory=_folder(tmp_path), progress=False)
    first = User.objects.get(external_id="movielens:1")
    assert (first.birth_year, first.gender) == (1998 - 24, "m")
    assert User.objects.get(external_id="movielens:2").gender == "f"
    toy_story = Product.objects.get(sku="ML-1")
    assert toy_story.category.name == "Animation" and toy_story.category.parent.name == "Movies"
    assert toy_story.attributes["genres"] == ["Animation", "Children's", "Comedy"]
    assert Product.objects.get(sku="ML-2").title == "Café Society (1995)"
    assert Event.objects.filter(type="rating").count() == 3
    rating = Event.objects.get(pk=event_id_for("movielens", "1", "1", "874965758"))
    assert rating.properties["rating"] == 5 and rating.user == first
    assert report.skipped["u.data: unknown user or item"] == 1
    assert report.skipped["u.data: malformed line"] == 1
    assert report.skipped["u.user: malformed line"] == 1
    assert Category.objects.filter(parent__name="Movies").count() == len(GENRES)


def test_import_movielens_rerun_adds_nothing(tmp_path):
    folder = _folder(tmp_path)
    import_movielens(directory=folder, progress=False)
    counts = (User.objects.count(), Product.objects.count(), Event.objects.count(), Category.objects.count())
    report = import_movielens(directory=folder, progress=False)
    assert (User.objects.count(), Product.objects.count(), Event.objects.count(), Category.objects.count()) == counts
    assert all(n == 0 for n in report.created.values())


def test_import_dataset_movielens_command_needs_a_movielens_folder(tmp_path):
    with pytest.raises(CommandError, match="u.user is missing"):
        call_command("import_dataset", "movielens", str(tmp_path), "--no-progress")
    out = StringIO()
    call_command(
        "import_dataset", "movielens", str(_folder(tmp_path)), "--no-progress", "--limit-rows", "1", stdout=out
    )
    assert Event.objects.count() == 1 and "Import finished" in out.getvalue()


def test_create_ingestion_token_prints_the_token_once_and_stores_its_hash():
    out, err = StringIO(), StringIO()
    call_command("create_ingestion_token", "warehouse", stdout=out, stderr=err)
    raw = out.getvalue().strip()
    token = IngestionToken.objects.get(name="warehouse")
    assert raw.startswith("ing_") and raw not in token.key_hash
    assert "shown once" in err.getvalue()
    with pytest.raises(CommandError, match="exists already"):
        call_command("create_ingestion_token", "warehouse", stdout=StringIO(), stderr=StringIO())


def test_ingestion_token_from_the_command_lets_an_integration_set_user_id(api_client, user):
    out = StringIO()
    call_command("create_ingestion_token", "crm", stdout=out, stderr=StringIO())
    response = api_client.post(
        "/api/events/",
        {
            "events": [
                {
                    "id": str(event_id_for("t", 1)),
                    "type": "page_view",
                    "occurred_at": "2026-01-01T00:00:00Z",
                    "user_id": user.pk,
                }
            ]
        },
        format="json",
        HTTP_AUTHORIZATION=f"Bearer {out.getvalue().strip()}",
    )
    assert response.status_code == 200 and response.json()["accepted"] == 1
    assert Event.objects.get().user == user
