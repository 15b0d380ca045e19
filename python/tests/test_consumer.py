"""The Python consumer library under a real fbench run: attach, verified frames, numpy
shapes, release semantics, a consumer that raises, the resource tracker. Assertions are on
counts, sequence numbers, stamps and statuses, never on time."""

import json

import pytest

from conftest import segments_of

# Each consumer script writes what it saw to $OUT_DIR/seen-<id>.json.
PRELUDE = """
import json, os, sys
import numpy as np
import fbench

def save(info, **seen):
    path = os.path.join(os.environ["OUT_DIR"], f"seen-{info['id']}.json")
    with open(path, "w") as f:
        json.dump(seen, f)
"""


def seen(tmp_path, consumer_id):
    return json.loads((tmp_path / f"seen-{consumer_id}.json").read_text())


def test_attach_and_read_frames_whose_stamps_verify(run, tmp_path):
    script = PRELUDE + """
stamps_ok = True
seqs = []
with fbench.consumer() as frames:
    info = frames.info
    for frame in frames:
        flat = frame.array.reshape(-1)
        # The sequence number in the first 8 bytes of every 4 KiB page and in the last 8.
        for offset in list(range(0, flat.size - 8, 4096)) + [flat.size - 8]:
            stamp = int.from_bytes(bytes(flat[offset:offset + 8]), "little")
            stamps_ok &= stamp == frame.seq
        seqs.append(frame.publish_seq)
        del flat
save(info, stamps_ok=stamps_ok, seqs=seqs)
"""
    r = run(script, consumers=2)
    result = r.result()
    assert result["torn_frames"] == 0
    assert result["consumers_lost"] == 0
    for consumer in result["per_consumer"]:
        assert consumer["kind"] == "external"
        assert consumer["status"] == "ok"
        assert consumer["frames_seen"] > 0
        assert consumer["age_ns"]["count"] == consumer["frames_seen"]
        mine = seen(tmp_path, consumer["id"])
        assert mine["stamps_ok"]
        assert mine["seqs"] == sorted(set(mine["seqs"])), "publish_seq only grows"
        # frames captured in warm-up are read but not counted
        assert len(mine["seqs"]) >= consumer["frames_seen"]
    assert segments_of(r.pid) == []


@pytest.mark.parametrize("fmt,shape", [
    ("rgb24", [120, 160, 3]),
    ("bgr24", [120, 160, 3]),
    ("gray", [120, 160]),
    ("yuyv", [120, 160, 2]),
    ("nv12", [180, 160]),
    ("i420", [180, 160]),
    ("yuv444p", [3, 120, 160]),
])
def test_numpy_shape_and_dtype_per_pixel_format(run, tmp_path, fmt, shape):
    script = PRELUDE + """
with fbench.consumer() as frames:
    info = frames.info
    frame = next(iter(frames))
    a = frame.array
    result = dict(shape=list(a.shape), dtype=str(a.dtype), writeable=bool(a.flags.writeable),
                  owns=bool(a.flags.owndata), info_shape=info["shape"], format=info["format"])
    del a
    for frame in frames:
        pass
save(info, **result)
"""
    run(script, consumers=1, fmt=fmt, duration="300ms").result()
    mine = seen(tmp_path, 0)
    assert mine["shape"] == shape
    assert mine["info_shape"] == shape
    assert mine["dtype"] == "uint8"
    assert mine["writeable"] is False
    assert mine["owns"] is False  # a view of the slot, not a copy
    assert mine["format"] == fmt


def test_release_refuses_while_a_view_is_alive(run, tmp_path):
    script = PRELUDE + """
with fbench.consumer() as frames:
    info = frames.info
    it = iter(frames)
    first = next(it)
    kept = first.array[::2]          # a derived view keeps the frame's lease too
    try:
        next(it)
        refused = False
    except BufferError as e:
        refused = "view" in str(e)
    held_seq = first.seq
    still_readable = bool(first.array is not None)
    del kept
    second = next(it)                # now the first frame can go
    try:
        first.array
        stale_refused = False
    except RuntimeError:
        stale_refused = True
    try:
        second.array[0, 0, 0] = 1
        write_refused = False
    except ValueError:
        write_refused = True
    copy = second.array.copy()       # a copy may outlive the frame
    for frame in it:
        pass
save(info, refused=refused, stale_refused=stale_refused, write_refused=write_refused,
     still_readable=still_readable, advanced=second.publish_seq > first.publish_seq,
     copy_ok=copy.shape == (120, 160, 3))
"""
    result = run(script, consumers=1).result()
    assert result["per_consumer"][0]["status"] == "ok"
    assert result["torn_frames"] == 0
    mine = seen(tmp_path, 0)
    assert mine == dict(refused=True, stale_refused=True, write_refused=True,
                        still_readable=True, advanced=True, copy_ok=True)


def test_a_consumer_that_raises_is_reported_crashed_and_the_run_completes(run, tmp_path):
    script = PRELUDE + """
with fbench.consumer() as frames:
    for n, frame in enumerate(frames):
        if frames.info["id"] == 0 and n == 5:
            raise RuntimeError("a model that fails mid-run")
"""
    r = run(script, consumers=2)
    result = r.result()
    status = {c["id"]: c["status"] for c in result["per_consumer"]}
    assert status == {0: "crashed", 1: "ok"}
    assert result["consumers_lost"] == 1
    assert "a model that fails mid-run" in r.stderr
    assert segments_of(r.pid) == []


def test_the_resource_tracker_leaves_the_segment_alone(run, tmp_path):
    # Consumer 0 leaves early (its interpreter exits while the run goes on); consumer 1 then
    # checks the segment is still there, and reads on to the end.
    script = PRELUDE + """
import multiprocessing.resource_tracker as tracker
run_name = json.loads(os.environ[fbench.ENV_CONSUMER])["run"]
done = os.path.join(os.environ["OUT_DIR"], "consumer-0-left")
with fbench.consumer() as frames:
    info = frames.info
    present_after = None
    for n, frame in enumerate(frames):
        if info["id"] == 0 and n == 3:
            break
        if info["id"] == 1 and present_after is None and os.path.exists(done):
            present_after = os.path.exists(f"/dev/shm/{run_name}")
save(info, tracker_started=tracker._resource_tracker._fd is not None,
     present_after=present_after)
if info["id"] == 0:
    open(done, "w").close()
"""
    r = run(script, consumers=2, duration="1s")
    result = r.result()
    assert [c["status"] for c in result["per_consumer"]] == ["ok", "ok"]
    assert seen(tmp_path, 0)["tracker_started"] is False
    assert seen(tmp_path, 1)["present_after"] is True
    assert result["per_consumer"][1]["frames_seen"] > result["per_consumer"][0]["frames_seen"]
    assert segments_of(r.pid) == []


def test_outside_a_run_the_error_says_how_to_start_one(monkeypatch):
    import fbench

    monkeypatch.delenv(fbench.ENV_CONSUMER, raising=False)
    with pytest.raises(RuntimeError, match="--consumer-cmd"):
        fbench.consumer()
