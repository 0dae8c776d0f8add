import csv
import io
import re
from datetime import date

import pytest
from django.urls import reverse

from analytics.rollups import rollups_refresh_days
from tests.analytics.conftest import at, event

pytestmark = pytest.mark.django_db

GET_ENDPOINTS = ["kpis", "trends", "retention", "rfm", "segments", "top", "heatmap", "distributions"]


@pytest.mark.parametrize("name", GET_ENDPOINTS)
def test_analytics_api_needs_the_analytics_permission(name, user_client, api_client, staff_in_role):
    assert user_client.get(reverse(f"analytics:{name}")).status_code == 403
    assert api_client.get(reverse(f"analytics:{name}")).status_code == 403
    # is_staff alone (an employee without the analyst role) is not enough
    api_client.force_login(staff_in_role(None))
    assert api_client.get(reverse(f"analytics:{name}")).status_code == 403
    api_client.force_login(staff_in_role("analyst"))
    assert api_client.get(reverse(f"analytics:{name}")).status_code == 200


def test_funnel_api_needs_the_analytics_permission(user_client):
    assert user_client.post(reverse("analytics:funnel"), {}, format="json").status_code == 403


@pytest.mark.parametrize("name", GET_ENDPOINTS)
def test_analytics_api_answers_staff_on_empty_data(name, staff_client):
    response = staff_client.get(reverse(f"analytics:{name}"))
    assert response.status_code == 200, response.content


@pytest.mark.parametrize(
    ("name", "query", "message"),
    [
        ("kpis", "start=2024-13-01&end=2024-12-31", "start"),
        ("kpis", "start=2024-03-10&end=2024-03-01", "end must not be before start"),
        ("trends", "metric=happiness", "Unknown metric"),
        ("trends", "interval=fortnight", "interval"),
        ("retention", "period=year", "period"),
        ("retention", "event=teleport", "Unknown event"),
        ("top", "dimension=colours", "dimension"),
        ("distributions", "field=shoe_size", "field"),
        ("heatmap", "event=teleport", "Unknown event"),
        ("kpis", "segment=no-such-segment", "Unknown segment"),
        ("kpis", "category=999999", "Unknown category"),
    ],
)
def test_analytics_api_rejects_bad_input_with_400(name, query, message, staff_client):
    response = staff_client.get(reverse(f"analytics:{name}") + "?" + query)
    assert response.status_code == 400
    assert message in response.content.decode()


def test_funnel_api_validates_steps_and_window(staff_client):
    url = reverse("analytics:funnel")
    bad_step = staff_client.post(url, {"steps": ["product_view", "teleport"]}, format="json")
    bad_window = staff_client.post(url, {"window": "soon"}, format="json")
    one_step = staff_client.post(url, {"steps": ["product_view"]}, format="json")

    assert bad_step.status_code == 400 and "Unknown step" in bad_step.json()["detail"]
    assert bad_window.status_code == 400 and "window" in bad_window.json()
    assert one_step.status_code == 400


def test_funnel_api_counts_and_csv(staff_client, user):
    event("product_view", at(2024, 5, 1, 10), user=user)
    event("add_to_cart", at(2024, 5, 1, 10, 30), user=user)
    rollups_refresh_days(start=date(2024, 5, 1), end=date(2024, 5, 31))
    url = reverse("analytics:funnel")
    body = {
        "steps": ["product_view", "add_to_cart"],
        "window": "1h",
        "range": {"start": "2024-05-01", "end": "2024-05-31"},
    }

    response = staff_client.post(url, body, format="json")
    exported = staff_client.post(url + "?format=csv", body, format="json")

    assert response.status_code == 200
    assert [s["count"] for s in response.json()["step_counts"]] == [1, 1]
    rows = list(csv.DictReader(io.StringIO(exported.content.decode())))
    assert [(r["step"], r["count"]) for r in rows] == [("product_view", "1"), ("add_to_cart", "1")]


def test_trends_api_shape_and_csv(staff_client, gmv_shop):
    rollups_refresh_days(start=date(2024, 3, 1), end=date(2024, 3, 31))
    url = reverse("analytics:trends") + "?metric=revenue&interval=day&start=2024-03-01&end=2024-03-03"

    data = staff_client.get(url).json()
    exported = staff_client.get(url + "&format=csv")

    assert data == {
        "metric": "revenue",
        "interval": "day",
        "series": [
            {"period": "2024-03-01", "value": 25.0},
            {"period": "2024-03-02", "value": 4.5},
            {"period": "2024-03-03", "value": 0},
        ],
    }
    assert exported["Content-Type"].startswith("text/csv")
    # money in CSV: 2 places and a currency column
    assert exported.content.decode().splitlines()[:3] == [
        "period,value,currency",
        "2024-03-01,25.00,GBP",
        "2024-03-02,4.50,GBP",
    ]


def test_retention_api_shape(staff_client, gmv_shop):
    rollups_refresh_days(start=date(2024, 1, 1), end=date(2024, 4, 30))
    data = staff_client.get(reverse("analytics:retention") + "?period=month&start=2024-02-01&end=2024-04-30").json()

    assert data["period"] == "month"
    # alice: first order Feb, again Mar and Apr ; bob: first non-cancelled order Mar
    assert data["cohorts"] == [
        {"cohort": "2024-02-01", "size": 1, "retained": [1, 1, 1]},
        {"cohort": "2024-03-01", "size": 1, "retained": [1, 0]},
    ]


def test_kpis_and_top_csv_exports(staff_client, gmv_shop):
    rollups_refresh_days(start=date(2024, 1, 1), end=date(2024, 4, 30))
    kpis = staff_client.get(reverse("analytics:kpis") + "?start=2024-03-01&end=2024-03-31&format=csv")
    top = staff_client.get(reverse("analytics:top") + "?dimension=products&start=2024-03-01&end=2024-03-31&format=csv")

    kpi_rows = {r["key"]: r for r in csv.DictReader(io.StringIO(kpis.content.decode()))}
    assert (kpi_rows["gmv"]["value"], kpi_rows["gmv"]["currency"]) == ("29.50", "GBP")
    assert kpi_rows["orders"]["currency"] == ""  # not money
    top_rows = list(csv.DictReader(io.StringIO(top.content.decode())))
    assert "Mug" in top.content.decode()
    assert all(re.fullmatch(r"\d+\.\d\d", r["revenue"]) and r["currency"] == "GBP" for r in top_rows)


def test_schema_documents_analytics_endpoints(staff_client):
    schema = staff_client.get(reverse("schema") + "?format=json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    for name in ["kpis", "trends", "funnel", "retention", "rfm", "segments", "top", "heatmap", "distributions"]:
        assert f"/api/analytics/{name}/" in paths


def test_dashboard_page_needs_the_analytics_permission(client, user, staff_in_role):
    url = reverse("analytics:dashboard")
    assert client.get(url).status_code == 302  # anonymous: to the admin login
    for refused in (user, staff_in_role(None), staff_in_role("marketing")):
        client.force_login(refused)
        assert client.get(url).status_code == 403
    client.force_login(staff_in_role("analyst"))
    response = client.get(url)
    assert response.status_code == 200
    assert b"analytics/chartjs" in response.content or b"chart" in response.content


def test_kpis_api_filters_by_segment(staff_client, gmv_shop):
    from analytics.services import segment_save

    rollups_refresh_days(start=date(2024, 1, 1), end=date(2024, 4, 30))
    segment_save(key="bobs", name="Bob only", user_ids=[gmv_shop["bob"].pk])

    data = staff_client.get(reverse("analytics:kpis") + "?start=2024-03-01&end=2024-03-31&segment=bobs").json()

    kpis = {k["key"]: k["value"] for k in data["kpis"]}
    assert kpis["gmv"] == 4.5 and kpis["orders"] == 1 and kpis["visitors"] == 1
