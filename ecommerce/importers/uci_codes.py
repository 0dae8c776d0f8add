"""Facts about the UCI Online Retail file shared by the importer and the offline evaluation.

Plain constants with no imports, so Django-free code (recommendations/evaluation.py) can use them.
"""

from __future__ import annotations

# Stock codes that are fees or adjustments (postage, bank charges, manual corrections...), not products.
FEE_STOCK_CODES = frozenset({"POST", "DOT", "M", "C2", "BANK CHARGES", "D", "AMAZONFEE", "B", "CRUK", "S"})
