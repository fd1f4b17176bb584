"""Settings for benchmark servers: the real ones, plus a bare view as the framework's ceiling."""

from voiceops.settings import *  # noqa: F403

ROOT_URLCONF = "bench_urls"
