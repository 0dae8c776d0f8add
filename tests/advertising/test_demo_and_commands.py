"""Demo step, plugin registration, and the evaluate_ctr command on a small CSV."""

import csv
import json
from io import StringIO

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from advertising.models import Campaign, DailyReport, Impression
from ecommerce import plugins
from tests.factories import ProductFactory, UserFactory


@pytest.mark.django_db
def test_demo_step_builds_campaigns_traffic_purchases_and_reports_once():
    from advertising.demo import DEMO_IMPRESSIONS, seed_demo_advertising
    from advertising.models import Ad, Conversion

    for _ in range(12):
        ProductFactory()  # twelve categories
    for i in range(40):
        UserFactory(birth_year=1960 + i, gender="fm"[i % 2])

    out = StringIO()
    seed_demo_advertising(seed=3, stdout=out)
    campaigns = Campaign.objects.all()
    assert campaigns.count() >= 12 and set(campaigns.values_list("status", flat=True)) == {"active"}
    assert campaigns.values("advertiser").distinct().count() >= 3
    assert set(campaigns.values_list("bid_type", flat=True)) == {"cpc", "cpm"}
    assert Impression.objects.count() == DEMO_IMPRESSIONS
    assert DailyReport.objects.exists()
    # purchases by clicking shoppers within the window are attributed once each
    assert Conversion.objects.exists()
    assert Conversion.objects.values("order").distinct().count() == Conversion.objects.count()
    for conversion in Conversion.objects.select_related("click", "order"):
        assert conversion.order.user_id == conversion.click.user_id
        assert conversion.click.created_at <= conversion.order.placed_at
    # CPM impressions paid price / 1000 each
    cpm = Impression.objects.filter(bid_type="cpm").first()
    assert cpm.charged == cpm.price / 1000
    for campaign in campaigns:
        assert campaign.spend_total <= campaign.total_budget
    # every seeded ad lands on its product page (a relative URL) and passes validation: editable
    for ad in Ad.objects.select_related("product"):
        assert ad.landing_url == ad.product.get_absolute_url() and ad.landing_url.startswith("/")
        ad.full_clean()
    assert "Advertiser login" in out.getvalue()
    seed_demo_advertising(seed=3, stdout=StringIO())  # a rerun adds nothing
    assert Impression.objects.count() == DEMO_IMPRESSIONS


def test_plugins_registered():
    assert "advertising" in {s.app for s in plugins.demo_steps()}
    demo = next(s for s in plugins.demo_steps() if s.app == "advertising")
    core_orders = [s.order for s in plugins.demo_steps() if s.app == "ecommerce"]
    assert all(demo.order > o for o in core_orders)
    assert "advertising" in {s.app for s in plugins.training_jobs()}
    assert "advertising" in {s.app for s in plugins.erasure_steps()}
    assert "advertising" in {s.app for s in plugins.export_steps()}


def _write_click_log(path, n=3000, seed=0):
    rng = np.random.default_rng(seed)
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["user", "app", "os", "ts", "clicked"])
        for i in range(n):
            app, os_ = int(rng.integers(6)), int(rng.integers(3))
            p = 0.03 + 0.3 * (app == 2)
            writer.writerow(
                [
                    int(rng.integers(400)),
                    app,
                    os_,
                    f"2024-01-01 {i // 3600:02d}:{(i // 60) % 60:02d}:{i % 60:02d}",
                    int(rng.random() < p),
                ]
            )


def test_evaluate_ctr_command_writes_metrics(tmp_path):
    log = tmp_path / "clicks.csv"
    _write_click_log(log)
    out = tmp_path / "metrics.json"
    stdout = StringIO()
    call_command(
        "evaluate_ctr",
        "--csv",
        str(log),
        "--label",
        "clicked",
        "--time-column",
        "ts",
        "--features",
        "user,app,os",
        "--test-fraction",
        "0.25",
        "--json",
        str(out),
        "--c-grid",
        "0.3,1",
        "--n-features",
        str(2**14),
        stdout=stdout,
    )
    result = json.loads(out.read_text())
    assert result["n_train"] == 2250 and result["n_test"] == 750
    assert result["auc"] > 0.7 and 0.5 < result["calibration"] < 1.5
    assert {"n_train", "n_test", "auc", "logloss", "calibration", "fit_seconds"} <= set(json.loads(stdout.getvalue()))
    assert result["params"]["count_features"][0] == "user"  # the entity column is found by cardinality


def test_evaluate_ctr_command_rejects_bad_input(tmp_path):
    with pytest.raises(CommandError):
        call_command(
            "evaluate_ctr",
            "--csv",
            str(tmp_path / "missing.csv"),
            "--label",
            "y",
            "--time-column",
            "t",
            "--features",
            "a",
        )
    log = tmp_path / "clicks.csv"
    _write_click_log(log, n=50)
    with pytest.raises(CommandError):
        call_command(
            "evaluate_ctr", "--csv", str(log), "--label", "clicked", "--time-column", "ts", "--features", "nope"
        )


def test_evaluate_ctr_orders_numeric_time_as_numbers(tmp_path):
    # given a log whose epoch-second times would sort wrongly as text ("10" < "9")
    log = tmp_path / "epoch.csv"
    rng = np.random.default_rng(2)
    with open(log, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["app", "t", "y"])
        for i in range(1200):
            app = int(rng.integers(4))
            # early rows (t < 960) never click app 3; a text sort would mix late rows into training
            writer.writerow([app, i, int(i >= 960 and app == 3 and rng.random() < 0.5 or rng.random() < 0.05)])
    out = tmp_path / "m.json"
    call_command(
        "evaluate_ctr",
        "--csv",
        str(log),
        "--label",
        "y",
        "--time-column",
        "t",
        "--features",
        "app",
        "--test-fraction",
        "0.2",
        "--json",
        str(out),
        "--no-tune",
        "--n-features",
        "1024",
        stdout=StringIO(),
    )
    result = json.loads(out.read_text())
    assert result["n_test"] == 240
    # trained only on the first 960 rows, the model cannot know app 3 gets clicked later
    assert result["calibration"] < 0.8
