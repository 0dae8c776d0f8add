"""Database backends: Django's, with the changes this project needs (see each module)."""
