"""Reads of the core domain. Import from the submodules: selectors.catalog, selectors.orders, ..."""
