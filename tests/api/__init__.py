"""REST API tests (helpers in ``tests.api.helpers``)."""
