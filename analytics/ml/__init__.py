"""Django-free ML code of the analytics app (NumPy and scikit-learn only)."""
