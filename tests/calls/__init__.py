"""Single calls over the API (helpers in helpers.py)."""
