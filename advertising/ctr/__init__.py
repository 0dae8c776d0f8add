"""Click-through-rate model: hashed features -> logistic regression -> calibration.

Plain NumPy/scikit-learn; knows nothing of Django, so it is trained and tested on small arrays
and used by both the Celery retraining task and `manage.py evaluate_ctr`.
"""

from .model import CTRModel, evaluate_time_split, metrics_for

__all__ = ["CTRModel", "evaluate_time_split", "metrics_for"]
