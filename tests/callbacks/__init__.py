"""Callback tests (helpers in ``tests.callbacks.helpers``)."""
