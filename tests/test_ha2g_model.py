"""The HA2G networks on tiny inputs (eager, untrained): shapes, every loss term, the cascade,
the blend weights, the text branch and the speakers, the ablations, the GAN warm-up."""

import numpy as np
import pytest
import tensorflow as tf

from data_processing.body import make_body
from data_processing.demo_speaker import demo_skeleton
from data_processing.dir_vec import DirVec
from ha2g.config import make_config
from ha2g.data import Recording, Vocabulary, make_clips, speaker_of
from ha2g.model import HA2G, level_columns
from ha2g.run import text_mode
from tests.ha2g_fixtures import TINY
from training.loop import set_seed

B, T, F = 2, 8, 10
WORDS = ["", "", "so", "so", "so", "", "we", "we", "went", "went", "", ""]  # 12 frames


def tiny(**overrides):
    return make_config("demo", **{**TINY, "clip_frames": T, "gan_weight": 5.0,
                                  "diversity_weight": 0.05, "text_channels": 8, "word_size": 8,
                                  **overrides})


def build(config, *, n_words=0, n_speakers=0, body=None):
    set_seed(0)
    body = body or make_body(demo_skeleton(), n_levels=config.pose_levels)
    pairs = len(body.pairs)
    return HA2G(config, feature_size=F, body=body, dir_mean=np.zeros(3 * body.n_bones),
                angle_mean=np.full(pairs, 0.3), angle_variance=np.full(pairs, 0.01),
                n_words=n_words, n_speakers=n_speakers)


def batch(model, rng, *, words=False, speakers=False):
    out = {"audio": rng.normal(size=(B, T, F)).astype("f4"),
           "motion": 0.1 * rng.normal(size=(B, T, len(model.dir_mean))).astype("f4")}
    if words:
        out["words"] = rng.integers(0, model.n_words, (B, T)).astype("i4")
    if speakers:
        out["speaker"] = np.array([0, 2], "i4")
    return out


@pytest.fixture(scope="module")
def everything():
    """A model with every branch: text, three speakers, GAN, diversity, contrastive, prior."""
    return build(tiny(), n_words=6, n_speakers=3)


def test_every_term_and_shape_with_text_and_speakers(everything, rng):
    data = batch(everything, rng, words=True, speakers=True)
    with tf.GradientTape() as tape:
        terms = everything.generator_losses(data, training=True)
    expected = {"loss", "huber", "huber1", "huber2", "huber3", "adversarial", "diversity", "kld",
                "contrastive_high", "contrastive_low", "physical", "adversarial_weight"}
    assert set(terms) == expected
    assert all(np.isfinite(float(v)) for v in terms.values())
    text_encoder = everything.text_encoder.trainable_variables
    gradients = tape.gradient(terms["contrastive_high"], text_encoder)
    assert all(g is not None for g in gradients)  # the contrastive loss trains the text encoder
    critic = everything.discriminator_losses(data, training=True)
    assert set(critic) == {"loss", "real", "fake"}
    assert not {id(v) for v in everything.discriminator.trainable_variables} & {
        id(v) for v in everything.generator_variables}
    assert everything.blend_weights(data["speaker"]).shape == (B, 3, 3)


def test_any_clip_length_and_the_words_condition_the_motion(everything, rng):
    data = batch(everything, rng, words=True, speakers=True)
    inputs = {"audio": data["audio"][:, :7], "seed": data["motion"][:, :4],
              "speaker": data["speaker"], "noise": np.zeros((3, B, 1), "f4")}
    with_words = everything({**inputs, "words": data["words"][:, :7]})
    assert with_words.shape == (B, 7, 45)
    without = everything({**inputs, "words": np.zeros((B, 7), "i4")})
    assert not np.allclose(with_words, without)


@pytest.fixture(scope="module")
def single():
    """One speaker, audio only, no GAN and no diversity term."""
    return build(tiny(gan_weight=0.0, diversity_weight=0.0))


def test_each_level_is_conditioned_on_the_previous_one_and_not_the_reverse(single, rng):
    model = single
    data = batch(model, rng)
    audio = model.level_audio(model.audio_learner(data["audio"]))
    z = [tf.zeros((B, 1))] * 3

    def outputs():
        return [o.numpy() for o in model.cascade(audio, data["motion"][:, :4], None, z)]

    before = outputs()
    for k in (0, 1):  # generator k + 1's output layer
        kernel = model.generators[k].get_layer("out").kernel
        kernel.assign(kernel + 0.5)
        after = outputs()
        assert np.array_equal(after[:k], before[:k])  # the coarser levels do not change
        assert not np.allclose(after[k], before[k])
        assert not np.allclose(after[k + 1], before[k + 1])  # the next level follows
        before = after
    assert [len(c) for c in level_columns(model.body)] == [3 * 9, 3 * 11, 3 * 15]


def test_ablations(single, rng):
    holistic = build(tiny(ablation="holistic", gan_weight=0.0, diversity_weight=0.0))
    assert len(holistic.generators) == 1
    data = batch(holistic, rng)
    assert set(holistic.generator_losses(data)) == {"loss", "huber", "huber1", "physical",
                                                    "adversarial_weight"}
    no_hal = build(tiny(ablation="no_hal", gan_weight=0.0, diversity_weight=0.0))
    features = no_hal.audio_learner(data["audio"])
    assert all(a is features[2] for a in no_hal.level_audio(features))  # the high level only
    weights = single.blend_weights().numpy()  # one speaker: learnable logits
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, rtol=1e-6)
    assert single.blend_logits.trainable


def test_the_adversarial_loss_starts_after_the_warm_up(everything):
    step = tf.Variable(0, dtype=tf.int64)
    everything.use_step_counter(step, warmup_steps=3)
    assert float(everything.loss_weights()["adversarial"]) == 0.0
    step.assign(3)
    assert float(everything.loss_weights()["adversarial"]) == 5.0


def recording(seq_id, words, speaker=None, frames=12):
    rng = np.random.default_rng(len(seq_id))
    return Recording(seq_id, rng.normal(size=(frames, F)).astype("f4"),
                     rng.normal(size=(frames, 16, 3)), words, speaker)


def test_vocabulary_clips_and_the_text_mode_from_word_lists():
    vocabulary = Vocabulary.build([WORDS, ["so", "", "far"]], min_count=2)
    assert vocabulary.words == ["", "<unk>", "so", "we", "went"]
    np.testing.assert_array_equal(vocabulary.ids(["", "so", "far", "went"]), [0, 2, 1, 4])
    body = make_body(demo_skeleton())
    recordings = [recording("2_scott_0_1", WORDS, "scott"), recording("3_solomon_1", WORDS,
                                                                      "solomon")]
    rep = DirVec(body, np.zeros(45))
    clips = make_clips(recordings, rep, frames=8, stride=2, vocabulary=vocabulary,
                       speakers=["scott", "solomon"])
    assert clips["audio"].shape == (6, 8, F)
    assert clips["motion"].shape == (6, 8, 45)
    np.testing.assert_array_equal(clips["words"][1], vocabulary.ids(WORDS[2:10]))
    np.testing.assert_array_equal(clips["speaker"], [0, 0, 0, 1, 1, 1])
    assert speaker_of("2_scott_0_1", r"^\d+_([a-z]+)_") == "scott"
    config = make_config()
    assert text_mode(config, recordings, None)
    assert not text_mode(make_config(text="off"), recordings, None)
    assert not text_mode(config, [recording("a", None)], None)
