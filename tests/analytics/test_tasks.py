import pytest

from analytics.models import DailyMetric, Segment
from analytics.tasks import cluster_segments_task, refresh_rollups_task
from ecommerce import plugins
from tests.factories.analytics import build_demo_shop


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_refresh_rollups_and_segments_run_on_a_real_worker(celery_worker_real):
    build_demo_shop(shoppers=12)

    rolled = refresh_rollups_task.delay().get(timeout=120)
    again = refresh_rollups_task.delay("2024-05-01", "2024-06-30").get(timeout=120)
    segments = cluster_segments_task.delay().get(timeout=300)

    assert rolled["days"] >= 60 and again["days"] == 61
    assert DailyMetric.objects.filter(metric="orders").exists()
    assert segments["clusters"]["clusters"] >= 2
    assert Segment.objects.filter(kind="rfm").count() == 10


def test_plugins_registered():
    assert any(s.app == "analytics" for s in plugins.demo_steps())
    assert any(s.app == "analytics" for s in plugins.training_jobs())
    assert any(s.app == "analytics" for s in plugins.erasure_steps())
    assert any(s.app == "analytics" for s in plugins.export_steps())


@pytest.mark.django_db
def test_demo_step_fills_rollups_and_segments():
    import io

    from analytics.demo import demo_analytics

    build_demo_shop(shoppers=12)
    out = io.StringIO()
    demo_analytics(seed=1, stdout=out)

    assert "rolled up" in out.getvalue()
    assert Segment.objects.filter(kind="cluster").exists()
