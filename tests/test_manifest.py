import csv

import pytest
from click.testing import CliRunner

from avemo.cli import main
from avemo.errors import CorpusError, LfsPointerError
from avemo.metadata import clip_names
from avemo.pipeline.config import ManifestConfig
from avemo.pipeline.corpora import scan_corpus
from avemo.pipeline.manifest import read_manifest, write_manifest

EXCLUDED = {"1076_MTI_NEU_XX", "1076_MTI_SAD_XX", "1064_TIE_SAD_XX", "1064_IEO_DIS_MD"}


@pytest.fixture(scope="module")
def full_tree(tmp_path_factory):
    """All 7,442 CREMA-D names as tiny non-empty placeholder files (video and audio)."""
    root = tmp_path_factory.mktemp("full") / "CREMA-D"
    (root / "VideoFlash").mkdir(parents=True)
    (root / "AudioWAV").mkdir()
    for name in clip_names():
        (root / "VideoFlash" / f"{name}.flv").write_bytes(b"FLV\x01 placeholder")
        (root / "AudioWAV" / f"{name}.wav").write_bytes(b"RIFF placeholder")
    return root


def test_real_clips(real_corpus):
    result = scan_corpus(real_corpus)
    assert [r.clip_id for r in result.rows] == sorted(
        f"1001_DFA_{e}_XX" for e in ("ANG", "DIS", "FEA", "HAP", "NEU", "SAD"))
    assert [r.label for r in result.rows] == [0, 1, 2, 3, 4, 5]
    row = result.rows[0]
    assert row.video == "VideoFlash/1001_DFA_ANG_XX.flv"
    assert row.audio == "AudioWAV/1001_DFA_ANG_XX.wav"
    assert row.video_bytes == (real_corpus / row.video).stat().st_size
    assert not result.rejected and not result.excluded


def test_full_crema_d_tree_gives_7438_rows_from_91_actors(full_tree, tmp_path):
    result = scan_corpus(full_tree)
    assert len(result.rows) == 7438
    assert len(result.actors) == 91
    assert set(result.excluded) == EXCLUDED
    out, rejected = write_manifest(result, full_tree, tmp_path / "manifest.csv")
    rows = read_manifest(out)
    assert len(rows) == 7438
    assert rows[0].source("video").is_file()
    reasons = list(csv.DictReader(open(rejected)))
    assert {r["file"] for r in reasons} == EXCLUDED


def test_exclusion_is_configurable(full_tree):
    assert len(scan_corpus(full_tree, ManifestConfig(exclude=())).rows) == 7442


def test_bad_names_and_stray_files_are_rejected_with_reasons(real_corpus, tmp_path):
    (real_corpus / "VideoFlash" / "1001_DFA_XXX_XX.flv").write_bytes(b"x" * 2000)
    (real_corpus / "VideoFlash" / "1001_ABC_ANG_XX.flv").write_bytes(b"x" * 2000)
    (real_corpus / "AudioWAV" / "1001_DFA_ANG_ZZ.wav").write_bytes(b"x" * 2000)
    (real_corpus / "AudioWAV" / "notes.txt").write_text("hello")
    result = scan_corpus(real_corpus)
    assert len(result.rows) == 6
    reasons = {r["file"]: r["reason"] for r in result.rejected}
    assert "emotion" in reasons["VideoFlash/1001_DFA_XXX_XX.flv"]
    assert "sentence" in reasons["VideoFlash/1001_ABC_ANG_XX.flv"]
    assert "level" in reasons["AudioWAV/1001_DFA_ANG_ZZ.wav"]
    assert "stray" in reasons["AudioWAV/notes.txt"]


def test_clip_with_only_video_has_empty_audio(real_corpus):
    (real_corpus / "AudioWAV" / "1001_DFA_SAD_XX.wav").unlink()
    row = {r.clip_id: r for r in scan_corpus(real_corpus).rows}["1001_DFA_SAD_XX"]
    assert row.audio == "" and row.video.endswith(".flv")


def test_lfs_pointer_files_stop_the_scan_with_git_lfs_advice(real_corpus):
    pointer = ("version https://git-lfs.github.com/spec/v1\n"
               "oid sha256:10dc3fd1f2bc8203657431598bd7dc9312462008f93d08fda786043ae6a8d2f4\n"
               "size 265922\n")
    (real_corpus / "VideoFlash" / "1001_DFA_ANG_XX.flv").write_text(pointer)
    with pytest.raises(LfsPointerError, match="git lfs pull") as err:
        scan_corpus(real_corpus)
    assert "1001_DFA_ANG_XX.flv" in str(err.value)


def test_not_a_corpus(tmp_path):
    with pytest.raises(CorpusError, match="not a folder"):
        scan_corpus(tmp_path / "missing")
    with pytest.raises(CorpusError, match="VideoFlash"):
        scan_corpus(tmp_path)


def test_cli_reports_counts_on_stderr(real_corpus, tmp_path):
    (real_corpus / "VideoFlash" / "junk.flv").write_bytes(b"x" * 2000)
    out = tmp_path / "m.csv"
    res = CliRunner().invoke(main, ["--params", str(tmp_path / "none.yaml"), "manifest",
                                    "--root", str(real_corpus), "--out", str(out)])
    assert res.exit_code == 1 and "does not exist" in res.output  # explicit params file must exist
    res = CliRunner().invoke(main, ["manifest", "--root", str(real_corpus), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "6 clips from 1 actors" in res.stderr
    assert "1 file(s) rejected" in res.stderr
    assert (tmp_path / "m.rejected.csv").is_file()
    res = CliRunner().invoke(main, ["manifest", "--root", str(real_corpus / "VideoFlash"), "--out", str(out)])
    assert res.exit_code == 1 and "CREMA-D" in res.output


def test_cli_lfs_error(real_corpus, tmp_path):
    (real_corpus / "AudioWAV" / "1001_DFA_HAP_XX.wav").write_text("version https://git-lfs.github.com/spec/v1\n")
    res = CliRunner().invoke(main, ["manifest", "--root", str(real_corpus), "--out", str(tmp_path / "m.csv")])
    assert res.exit_code == 1
    assert "git lfs pull" in res.output
