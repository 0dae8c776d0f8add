"""Natural-language understanding for the support bot: plain scikit-learn, no Django.

- ``text``: normalisation, language detection, typo/shorthand augmentation.
- ``data``: the shipped training data (Bitext CDLA-Sharing-1.0 + our own English and Chinese examples).
- ``intents``: the intent classifier (char + word n-gram TF-IDF -> logistic regression) with a
  confidence threshold chosen on validation data, and a keyword fallback when no model is trained.
- ``entities``: order numbers, emails, amounts, product mentions.
- ``faq``: TF-IDF retrieval over the merchant's FAQ entries.
"""

OUT_OF_SCOPE = "out_of_scope"
