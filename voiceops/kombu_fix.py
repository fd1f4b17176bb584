"""Work-around for a celery/kombu 5.7.0 bug that kills a worker when the Redis broker goes away.

A worker waiting on the broker while it holds a reserved (prefetched, not started) message closes
its channel again after ``Connection.collect()`` has dropped the transport; restoring the unacked
message then raises ``AttributeError: 'NoneType' object has no attribute 'hostname'`` and the
worker exits. The reserved message is still in the broker's unacked set (Redis restores it after
the visibility timeout), so leaving it there is safe. Proven by
``tests/drills/test_broker_restart.py``; remove when kombu fixes ``QoS.restore_unacked``.
"""

import logging

from kombu.transport import redis as kombu_redis

_restore_unacked = kombu_redis.QoS.restore_unacked


def _restore_unacked_or_leave(self, client=None):
    try:
        return _restore_unacked(self, client)
    except AttributeError:
        logging.getLogger("voiceops").warning(
            "broker connection gone: %d reserved message(s) left to the broker", len(self._delivered)
        )
        self._delivered.clear()


def install() -> None:
    kombu_redis.QoS.restore_unacked = _restore_unacked_or_leave
