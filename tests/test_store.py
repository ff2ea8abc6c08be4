import json
import time

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from avemo.cli import main
from avemo.errors import StoreError, StoreParamsError
from avemo.features.inspect import summarize, verify
from avemo.features.reader import StoreReader
from avemo.features.schema import DatasetSpec
from avemo.features.writer import SourceInfo, StoreWriter

SPECS = (DatasetSpec("mfcc", (3, 4, 5), "float32"), DatasetSpec("flag", (2,), "bool"))
EMOS = ("ANG", "DIS", "FEA", "HAP", "NEU", "SAD")


def _clips(n, rng):
    out = {}
    for i in range(n):
        clip = f"{1001 + i}_DFA_{EMOS[i % 6]}_XX"
        out[clip] = {"mfcc": rng.normal(size=(3, 4, 5)).astype(np.float32),
                     "flag": rng.integers(0, 2, 2).astype(bool)}
    return out


def _write(root, clips, params=None, shard_size=3, force=False):
    with StoreWriter(root, "mfcc", params or {"a": 1}, SPECS, shard_size=shard_size, force=force) as w:
        for clip, arrays in clips.items():
            w.add(clip, arrays, SourceInfo(f"/corpus/{clip}.wav" + "x" * 300, 100, "ab" * 32))
    return w


def test_round_trip_shards_and_index(tmp_path, rng):
    clips = _clips(7, rng)
    _write(tmp_path / "s", clips)
    assert sorted(p.name for p in (tmp_path / "s").glob("*.h5")) == [
        "shard-00000.h5", "shard-00001.h5", "shard-00002.h5"]
    with StoreReader(tmp_path / "s") as r:
        assert r.clip_ids == sorted(clips) and len(r) == 7
        for clip, arrays in clips.items():
            got = r.get(clip)
            np.testing.assert_array_equal(got["mfcc"], arrays["mfcc"])
            np.testing.assert_array_equal(got["flag"], arrays["flag"])
        order = list(reversed(sorted(clips)))
        loaded = r.load(order, ["mfcc"])
        np.testing.assert_array_equal(loaded["mfcc"], np.stack([clips[c]["mfcc"] for c in order]))
        assert [c for c, _ in r.iter(order[:2])] == order[:2]
        with pytest.raises(StoreError, match="not in store"):
            r.get("1091_DFA_ANG_XX")
    with h5py.File(tmp_path / "s" / "shard-00000.h5") as f:
        assert f["mfcc"].chunks == (1, 3, 4, 5)
        assert f.attrs["schema_version"] == 1 and json.loads(f.attrs["params"]) == {"a": 1}
        assert f["clip_id"].asstr()[0] == "1001_DFA_ANG_XX"
        assert f["source_sha256"].asstr()[0] == "ab" * 32


def test_same_input_gives_byte_identical_shards(tmp_path, rng):
    clips = _clips(5, rng)
    _write(tmp_path / "a", clips)
    time.sleep(1.1)  # HDF5 object headers can carry second-resolution timestamps: they must not
    _write(tmp_path / "b", clips)
    for name in ("shard-00000.h5", "shard-00001.h5", "index.json", "store.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_wrong_shape_is_refused(tmp_path):
    with pytest.raises(StoreError, match="must be"):
        with StoreWriter(tmp_path / "s", "mfcc", {}, SPECS) as w:
            w.add("1001_DFA_ANG_XX", {"mfcc": np.zeros((3, 4, 6), np.float32), "flag": np.zeros(2, bool)},
                  SourceInfo("x", 1, "0"))


def test_params_mismatch_refused_unless_forced(tmp_path, rng):
    clips = _clips(4, rng)
    _write(tmp_path / "s", clips)
    with pytest.raises(StoreParamsError, match=r"a: 1 -> 2.*--force"):
        _write(tmp_path / "s", clips, params={"a": 2})
    assert len(StoreReader(tmp_path / "s")) == 4  # untouched
    _write(tmp_path / "s", dict(list(clips.items())[:1]), params={"a": 2}, force=True)
    r = StoreReader(tmp_path / "s")
    assert len(r) == 1 and r.params == {"a": 2}


def test_unpublished_shard_is_invisible_and_removed(tmp_path, rng):
    clips = _clips(4, rng)
    _write(tmp_path / "s", dict(list(clips.items())[:3]))
    partial = tmp_path / "s" / "shard-00001.h5.partial"
    partial.write_bytes(b"\x89HDF half a file")
    assert len(StoreReader(tmp_path / "s")) == 3
    assert any("interrupted" in p for p in verify(tmp_path / "s"))
    _write(tmp_path / "s", clips)
    assert not partial.exists()
    assert len(StoreReader(tmp_path / "s")) == 4


def test_shard_published_but_not_indexed_is_adopted(tmp_path, rng):
    clips = _clips(4, rng)
    _write(tmp_path / "s", clips)
    (tmp_path / "s" / "index.json").unlink()  # a crash between rename and index update
    with StoreWriter(tmp_path / "s", "mfcc", {"a": 1}, SPECS, shard_size=3) as w:
        assert all(w.is_current(c, "ab" * 32) for c in clips)
    assert len(StoreReader(tmp_path / "s")) == 4


def test_verify_names_a_truncated_shard(tmp_path, rng):
    _write(tmp_path / "s", _clips(6, rng))
    assert verify(tmp_path / "s") == []
    bad = tmp_path / "s" / "shard-00001.h5"
    bad.write_bytes(bad.read_bytes()[: bad.stat().st_size // 2])
    problems = verify(tmp_path / "s")
    assert problems and all("shard-00001.h5" in p for p in problems)
    res = CliRunner().invoke(main, ["inspect", str(tmp_path / "s"), "--verify"])
    assert res.exit_code == 1 and "shard-00001.h5" in res.output


def test_summary(tmp_path, rng):
    _write(tmp_path / "s", _clips(7, rng))
    s = summarize(tmp_path / "s")
    assert s["clips"] == 7 and len(s["shards"]) == 3 and s["bytes"] > 0
    assert s["class_counts"]["ANG"] == 2 and s["class_counts"]["SAD"] == 1
    assert s["datasets"]["mfcc"] == {"shape": [3, 4, 5], "dtype": "float32"}


def test_not_a_store(tmp_path):
    with pytest.raises(StoreError, match="not an avemo feature store"):
        StoreReader(tmp_path)


def _flip(path, offset):
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def test_verify_finds_a_single_flipped_byte_anywhere_in_a_shard(tmp_path, rng):
    clips = _clips(7, rng)
    _write(tmp_path / "s", clips)
    assert verify(tmp_path / "s") == []
    assert summarize(tmp_path / "s")["checksummed_shards"] == 3
    shard = tmp_path / "s" / "shard-00001.h5"
    good = shard.read_bytes()
    for offset in sorted(set(rng.integers(0, len(good), 40).tolist()) | {0, len(good) - 1}):
        _flip(shard, offset)
        problems = verify(tmp_path / "s")
        assert problems and all(p.startswith(str(shard)) for p in problems), (offset, problems)
        shard.write_bytes(good)
    assert verify(tmp_path / "s") == []


def test_the_reader_raises_instead_of_returning_damaged_tensors(tmp_path, rng):
    """A byte flipped inside one clip's chunk: reading that clip fails its Fletcher-32 checksum
    with a StoreError naming the shard; the other clips still read."""
    clips = _clips(3, rng)
    _write(tmp_path / "s", clips)
    shard = tmp_path / "s" / "shard-00000.h5"
    with h5py.File(shard, "r") as f:
        info = f["mfcc"].id.get_chunk_info(1)  # the second clip's chunk
        assert f["mfcc"].fletcher32 and f["flag"].fletcher32 and f["source_bytes"].fletcher32
    _flip(shard, info.byte_offset + info.size // 2)
    damaged, *others = ["1002_DFA_DIS_XX", "1001_DFA_ANG_XX", "1003_DFA_FEA_XX"]
    with StoreReader(tmp_path / "s") as r:
        with pytest.raises(StoreError, match="shard-00000.h5.*damaged"):
            r.read(damaged, "mfcc")
        with pytest.raises(StoreError, match="damaged"):
            r.load([others[0], damaged], ["mfcc"])
        for c in others:
            np.testing.assert_array_equal(r.read(c, "mfcc"), clips[c]["mfcc"])


def test_a_shard_published_before_its_index_gets_its_checksum_on_resume(tmp_path, rng):
    clips = _clips(4, rng)
    _write(tmp_path / "s", dict(list(clips.items())[:3]))
    index = json.loads((tmp_path / "s" / "index.json").read_text())
    digest = index["shard_sha256"].pop("shard-00000.h5")
    index["shards"].pop("shard-00000.h5")
    index["clips"] = {}
    (tmp_path / "s" / "index.json").write_text(json.dumps(index))  # as if killed before the index
    _write(tmp_path / "s", clips)
    index = json.loads((tmp_path / "s" / "index.json").read_text())
    assert index["shard_sha256"]["shard-00000.h5"] == digest and set(index["shard_sha256"]) == set(index["shards"])


@pytest.mark.parametrize("damage", ['{"shards": {', '[1, 2]', '{"clips": {}}'])
def test_a_damaged_index_is_named_by_reader_writer_and_inspect(tmp_path, rng, damage):
    """index.json is read in one place (features.schema.read_index): a damaged one is a
    StoreError naming the file and what to do, for the reader as for the writer (the reader
    used to raise a bare JSON error)."""
    _write(tmp_path / "s", _clips(4, rng))
    (tmp_path / "s" / "index.json").write_text(damage)
    for open_it in (lambda: StoreReader(tmp_path / "s"), lambda: _write(tmp_path / "s", {}),
                    lambda: summarize(tmp_path / "s")):
        with pytest.raises(StoreError, match=r"index\.json is damaged .*avemo inspect"):
            open_it()
