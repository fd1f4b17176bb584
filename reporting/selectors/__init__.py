"""Reads for the reporting pages: ``dashboard`` (the admin home page) and ``finance`` (balances, spend)."""
