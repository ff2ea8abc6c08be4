import pytest
from hypothesis import given
from hypothesis import strategies as st

from avemo.errors import ClipNameError
from avemo.metadata import clip_names
from avemo.names import EMOTIONS, LEVELS, SENTENCES, parse_clip_name

actors = st.integers(1001, 1091)
sentences = st.sampled_from(sorted(SENTENCES))
emotions = st.sampled_from(EMOTIONS)
levels = st.sampled_from(LEVELS)


@given(actors, sentences, emotions, levels)
def test_valid_names_round_trip(actor, sentence, emotion, level):
    name = f"{actor}_{sentence}_{emotion}_{level}"
    clip = parse_clip_name(name)
    assert clip.clip_id == name
    assert clip.actor == actor
    assert EMOTIONS[clip.label] == emotion


@given(actors, sentences, emotions, levels,
       st.sampled_from(["actor", "sentence", "emotion", "level", "shape"]),
       st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=3, max_size=3))
def test_invalid_names_are_rejected_with_the_bad_part(actor, sentence, emotion, level, part, junk):
    if part == "actor":
        actor, bad = 1200, "actor"
    elif part == "sentence":
        if junk in SENTENCES:
            return
        sentence, bad = junk, "sentence"
    elif part == "emotion":
        if junk in EMOTIONS:
            return
        emotion, bad = junk, "emotion"
    elif part == "level":
        if junk[:2] in LEVELS:
            return
        level, bad = junk[:2], "level"
    else:
        with pytest.raises(ClipNameError, match="AAAA_SSS_EEE_LL"):
            parse_clip_name(f"{actor}-{sentence}-{emotion}-{level}")
        return
    with pytest.raises(ClipNameError, match=bad):
        parse_clip_name(f"{actor}_{sentence}_{emotion}_{level}")


@pytest.mark.parametrize("name", ["", "1001_DFA_ANG", "1001_DFA_ANG_XX.flv", "01001_DFA_ANG_XX",
                                  "1001_dfa_ang_xx", "1001_DFA_ANG_XX_2"])
def test_malformed_names(name):
    with pytest.raises(ClipNameError):
        parse_clip_name(name)


def test_every_bundled_crema_d_name_parses():
    names = clip_names()
    assert len(names) == 7442
    parsed = [parse_clip_name(n) for n in names]
    assert len({p.actor for p in parsed}) == 91
    assert {p.emotion for p in parsed} == set(EMOTIONS)
