"""Vendor push endpoints (plain Django views, not the DRF API): ``views`` answers each push,
``accounts`` keeps each vendor's active accounts for the hot path, ``urls`` keeps their addresses."""
