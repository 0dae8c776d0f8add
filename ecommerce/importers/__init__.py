"""Streaming importers for the real data sets (UCI Online Retail, MovieLens 100K).

`python manage.py import_dataset online_retail PATH` and `import_dataset movielens DIR` call
these; the demo seed imports its shipped UCI slice through the same code.
"""
