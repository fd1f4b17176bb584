"""Fault drills: real PostgreSQL, Redis, Celery workers and fake vendors on loopback, faults injected.

Helpers are in ``tests.drills.helpers``.
"""
