"""How legitimate spending looks per merchant category: amounts, card presence and visit shares.

The generator draws legitimate transactions from these profiles (``generator.py``).
"""

from __future__ import annotations

# Median amount in USD and log-normal spread per merchant category, and how often the card is present.
CATEGORY_PROFILE: dict[str, tuple[float, float, float]] = {
    # category: (median USD, sigma, card-present probability)
    "Retail": (45.0, 0.8, 0.65),
    "Electronics": (180.0, 0.9, 0.40),
    "Clothing": (60.0, 0.7, 0.60),
    "Groceries": (38.0, 0.6, 0.90),
    "Pharmacy": (22.0, 0.6, 0.85),
    "Entertainment": (30.0, 0.8, 0.35),
    "Dining": (35.0, 0.6, 0.90),
    "Travel": (420.0, 0.9, 0.20),
    "Utilities": (95.0, 0.5, 0.05),
    "Healthcare": (120.0, 0.9, 0.70),
}
# How often each category is visited (share of legitimate transactions).
CATEGORY_WEIGHT: dict[str, float] = {
    "Retail": 14,
    "Electronics": 5,
    "Clothing": 8,
    "Groceries": 24,
    "Pharmacy": 7,
    "Entertainment": 8,
    "Dining": 18,
    "Travel": 4,
    "Utilities": 6,
    "Healthcare": 6,
}
