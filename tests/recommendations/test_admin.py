"""Merchant admin: versions with metrics and CTR, preview with reasons, retrain, rules."""

from __future__ import annotations

import pytest

from ecommerce.models import AuditLogEntry, Event, ModelVersion
from recommendations.models import BusinessRules
from recommendations.services import recommenders_train
from tests.factories import EventFactory
from tests.factories.recommendations import two_cluster_shop

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, staff):
    client.force_login(staff)
    return client


def test_admin_versions_list_shows_offline_metrics_and_online_ctr(admin_client):
    customers, cluster_a, _ = two_cluster_shop()
    recommenders_train()
    version = ModelVersion.objects.get(name="recommendations.personalized", status="active")
    for _ in range(4):
        EventFactory(
            type=Event.Type.RECOMMENDATION_IMPRESSION,
            product=cluster_a[0],
            properties={"slot": "home", "model_version": version.version},
        )
    EventFactory(
        type=Event.Type.RECOMMENDATION_CLICK,
        product=cluster_a[0],
        properties={"slot": "home", "model_version": version.version},
    )
    response = admin_client.get("/admin/recommendations/recommenderversion/")
    html = response.content.decode()
    assert response.status_code == 200
    assert f"{version.metrics['ndcg@10']:.4f}" in html
    assert "25.00%" in html
    assert "Retrain now" in html


def test_admin_preview_shows_reasons_and_audits(admin_client, staff):
    customers, _, _ = two_cluster_shop()
    recommenders_train()
    response = admin_client.get(f"/admin/recommendations/recommenderversion/preview/?customer={customers[0].pk}")
    html = response.content.decode()
    assert response.status_code == 200
    assert "Because you bought Scented candle" in html
    assert "Buy it again" in html
    assert AuditLogEntry.objects.filter(actor=staff, subject=customers[0], action="recommendations.preview").exists()


def test_admin_preview_unknown_customer_says_so(admin_client):
    response = admin_client.get("/admin/recommendations/recommenderversion/preview/?customer=nobody")
    assert "No customer" in response.content.decode()


def test_admin_retrain_now_enqueues_the_task_after_commit(admin_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        response = admin_client.post("/admin/recommendations/recommenderversion/retrain/", follow=True)
    assert response.status_code == 200
    assert "Retraining started" in response.content.decode()
    assert len(callbacks) == 1  # the task is sent only once the request's transaction commits


def test_admin_retrain_requires_post(admin_client):
    assert admin_client.get("/admin/recommendations/recommenderversion/retrain/").status_code == 405


def test_admin_business_rules_editable(admin_client):
    response = admin_client.post(
        "/admin/recommendations/businessrules/add/",
        {
            "name": "Christmas",
            "is_active": "on",
            "exclude_out_of_stock": "on",
            "max_per_category": "2",
            "boost_factor": "1.5",
        },
    )
    assert response.status_code == 302
    assert BusinessRules.objects.get(name="Christmas").max_per_category == 2


def test_admin_not_staff_redirected(client, user):
    client.force_login(user)
    assert client.get("/admin/recommendations/recommenderversion/preview/").status_code == 302


def test_admin_preview_and_retrain_need_their_permissions(client, staff_in_role, django_capture_on_commit_callbacks):
    # given: an analyst may list the versions but neither preview a customer nor retrain
    client.force_login(staff_in_role("analyst"))
    listing = client.get("/admin/recommendations/recommenderversion/")
    assert listing.status_code == 200 and "Retrain now" not in listing.content.decode()
    assert client.get("/admin/recommendations/recommenderversion/preview/").status_code == 403
    with django_capture_on_commit_callbacks() as callbacks:
        assert client.post("/admin/recommendations/recommenderversion/retrain/").status_code == 403
    assert callbacks == []
    # a catalog manager retrains; a support agent previews
    client.force_login(staff_in_role("catalog_manager"))
    assert client.post("/admin/recommendations/recommenderversion/retrain/").status_code == 302
    client.force_login(staff_in_role("support_agent"))
    assert client.get("/admin/recommendations/recommenderversion/preview/").status_code == 200
