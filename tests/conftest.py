"""Shared fixtures: fake vendors on loopback and vendor accounts pointing at them."""

import pytest


@pytest.fixture
def start_fake():
    """Start fake vendor servers for one test and stop them afterwards: ``start_fake(FakeIhuyi())``."""
    started = []

    def start(fake):
        started.append(fake.start())
        return fake

    yield start
    for fake in started:
        fake.stop()
