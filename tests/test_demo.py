import hashlib

import av
import cv2
import numpy as np
import soundfile as sf

from avemo.pipeline.config import DemoConfig
from avemo.pipeline.demo import build_demo_corpus, demo_clip_names
from avemo.pipeline.corpora import scan_corpus
from avemo.pipeline.media import read_audio_track


def _digest(root):
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_default_demo_has_at_least_30_actors_and_all_emotions():
    names = demo_clip_names(DemoConfig())
    assert len({n[:4] for n, _ in names}) >= 30
    assert {n.split("_")[2] for n, _ in names} == {"ANG", "DIS", "FEA", "HAP", "NEU", "SAD"}


def test_demo_corpus_is_crema_d_shaped_and_decodable(demo_corpus, crema_dir):
    result = scan_corpus(demo_corpus)
    assert len(result.rows) == 24 and not result.rejected
    assert {r.emotion for r in result.rows} == {"ANG", "DIS", "FEA", "HAP", "NEU", "SAD"}
    assert any(r.audio == "" for r in result.rows)  # some clips only have the video's audio track
    for row in result.rows[:6]:
        cap = cv2.VideoCapture(str(demo_corpus / row.video))
        ok, frame = cap.read()
        assert ok and frame.ndim == 3 and frame.std() > 10
        y, rate = read_audio_track(demo_corpus / row.video)
        assert rate == 44100 and len(y) > rate and np.abs(y).max() > 0.01
        if row.audio:
            wav, wrate = sf.read(demo_corpus / row.audio)
            assert wrate == 16000 and np.abs(wav).max() > 0.01
    # Jitter makes each pseudo-actor's clip differ from the real clip it derives from.
    src = cv2.VideoCapture(str(crema_dir / "VideoFlash" / "1001_DFA_ANG_XX.flv")).read()[1]
    ang = [r for r in result.rows if r.emotion == "ANG"][1]
    mine = cv2.VideoCapture(str(demo_corpus / ang.video)).read()[1]
    assert mine.shape != src.shape or np.abs(mine.astype(int) - src).mean() > 5


def test_demo_corpus_is_byte_identical_on_rerun(demo_corpus, crema_dir, tmp_path):
    again = tmp_path / "again"
    build_demo_corpus(crema_dir, again, DemoConfig(actors=4, seed=0), jobs=2, progress=False)
    assert _digest(again) == _digest(demo_corpus)
    other = tmp_path / "other"
    build_demo_corpus(crema_dir, other, DemoConfig(actors=1, seed=1), progress=False)
    first = "VideoFlash/1001_IEO_ANG_XX.flv"
    assert _digest(other)[first] != _digest(demo_corpus)[first]


def test_flv_has_video_and_audio_streams(demo_corpus):
    path = next((demo_corpus / "VideoFlash").glob("*.flv"))
    with av.open(str(path)) as c:
        assert c.streams.video and c.streams.audio


def test_rehearsal_corpus_has_every_real_name_of_its_actors_and_real_sizes(crema_dir, tmp_path):
    """The full rehearsal corpus for three actors: exactly their real CREMA-D clip names, one
    render per actor and emotion hard-linked under every name, found whole by the manifest."""
    from click.testing import CliRunner

    from avemo.cli import main
    from avemo.corpus import REHEARSAL_MARKER, is_demo_corpus
    from avemo.metadata import clip_names
    from avemo.pipeline.demo import build_rehearsal_corpus

    actors = (1001, 1002, 1076)
    out = tmp_path / "full"
    names = build_rehearsal_corpus(crema_dir, out, seed=0, jobs=2, actors=actors, progress=False)
    real = [n for n in clip_names() if int(n[:4]) in actors]
    assert names == real and len(real) == 82 + 81 + 81  # CREMA-D has 81-82 clips per actor
    assert sorted(p.stem for p in (out / "VideoFlash").glob("*.flv")) == sorted(real)
    assert sorted(p.stem for p in (out / "AudioWAV").glob("*.wav")) == sorted(real)
    assert (out / REHEARSAL_MARKER).is_file() and not is_demo_corpus(out)  # trains with the paper's settings
    inode = {p.stem: p.stat().st_ino for p in (out / "VideoFlash").glob("*.flv")}
    for name in real:  # one render per actor and emotion, hard-linked
        a, _, e, _ = name.split("_")
        assert inode[name] == (out / "renders" / "VideoFlash" / f"{a}_DFA_{e}_XX.flv").stat().st_ino
    assert len(set(inode.values())) == len(actors) * 6
    excluded = {"1076_MTI_NEU_XX", "1076_MTI_SAD_XX"}  # documented broken CREMA-D clips of actor 1076
    result = scan_corpus(out)
    assert len(result.rows) == len(real) - 2 and not result.rejected and set(result.excluded) == excluded
    res = CliRunner().invoke(main, ["manifest", "--root", str(out), "--out", str(tmp_path / "m.csv")])
    assert res.exit_code == 0, res.output
    assert len((tmp_path / "m.csv").read_text().strip().splitlines()) == 1 + len(real) - len(excluded)
