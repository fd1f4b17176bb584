"""The embedded broker never hands a worker a message file that is still being written."""

from queue import Empty

import pytest
from kombu import Connection
from kombu.transport import filesystem

from voiceops import kombu_fix


@pytest.fixture
def channel(tmp_path):
    kombu_fix.install()
    options = {"data_folder_in": str(tmp_path), "data_folder_out": str(tmp_path)}
    with Connection("filesystem://", transport_options=options) as connection:
        yield connection.default_channel


def test_a_message_is_invisible_to_the_consumer_until_it_is_whole(channel, monkeypatch):
    seen_while_writing = []
    lock = filesystem.lock

    def lock_then_look(file, flags):  # the producer holds the file and has not written it yet
        lock(file, flags)
        try:
            seen_while_writing.append(channel._get("dispatch"))
        except Empty:
            seen_while_writing.append("nothing")

    monkeypatch.setattr(filesystem, "lock", lock_then_look)
    channel._put("dispatch", {"body": "a call to send"})
    monkeypatch.undo()
    assert seen_while_writing == ["nothing"]  # before: the empty file, a JSONDecodeError, a dead worker
    assert channel._get("dispatch") == {"body": "a call to send"}  # then the whole message, once
    with pytest.raises(Empty):
        channel._get("dispatch")
