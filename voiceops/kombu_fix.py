"""Work-arounds for two kombu 5.7.0 bugs that kill a worker.

**Redis broker gone.** A worker waiting on the broker while it holds a reserved (prefetched, not started) message closes
its channel again after ``Connection.collect()`` has dropped the transport; restoring the unacked
message then raises ``AttributeError: 'NoneType' object has no attribute 'hostname'`` and the
worker exits. The reserved message is still in the broker's unacked set (Redis restores it after
the visibility timeout), so leaving it there is safe. Proven by
``tests/drills/test_broker_restart.py``; remove when kombu fixes ``QoS.restore_unacked``.

**Filesystem broker (the embedded default) read half-written.** ``Channel._put`` creates the message
file under its final name and only then writes it, so a worker listing the folder in between takes
the empty file, fails to decode it and stops for good ("Unrecoverable error: JSONDecodeError"; the
message is lost too; celery/kombu#1551). The message is written to a name the consumer does not look
at and renamed into place, which is atomic on one filesystem. Proven by ``tests/test_kombu_fix.py``.
"""

import logging
import os
import uuid

from kombu.transport import filesystem as kombu_filesystem
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


def _put_whole(self, queue, payload, **kwargs):
    """Put ``payload`` onto ``queue``: written under a temporary name, then renamed to one ``_get`` reads."""
    name = f"{int(round(kombu_filesystem.monotonic() * 1000))}_{uuid.uuid4()}.{queue}.msg"
    final = os.path.join(self.data_folder_out, name)
    partial = f"{final}.partial"  # "….msg.partial" is not "<queue>.msg": the consumer skips it
    try:
        with open(partial, "wb", buffering=0) as file:
            kombu_filesystem.lock(file, kombu_filesystem.LOCK_EX)
            try:
                file.write(kombu_filesystem.str_to_bytes(kombu_filesystem.dumps(payload)))
            finally:
                kombu_filesystem.unlock(file)
        os.replace(partial, final)
    except OSError as exc:
        raise kombu_filesystem.ChannelError(f"Cannot add file {final!r} to directory") from exc


def install() -> None:
    kombu_redis.QoS.restore_unacked = _restore_unacked_or_leave
    kombu_filesystem.Channel._put = _put_whole
