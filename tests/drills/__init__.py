"""Fault drills: real PostgreSQL, Redis, Celery workers and fake vendors on loopback, faults injected (helpers in ``tests.drills.helpers``)."""
