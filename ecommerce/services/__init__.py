"""Writes of the core domain. Import from the submodules: services.orders, services.events, ..."""
