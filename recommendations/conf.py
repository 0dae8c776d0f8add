"""Constants of the recommendations app. Its tunable settings (RECOMMENDATIONS_*) live in
ecommerce/settings.py and are read from django.conf.settings where they are used."""

from __future__ import annotations

# The registry name of the model whose precomputed rows serve shoppers.
ACTIVE_MODEL_NAME = "recommendations.personalized"
