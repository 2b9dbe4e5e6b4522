import dataclasses

import pytest

from data_processing.files import PipelineError
from gesture_vae.config import OFFICIAL, PRESETS, PROTOCOLS, VARIANTS, A2GConfig, make_config


def test_variants_add_one_component_each():
    order = ["baseline", "split", "mapping", "bicycle", "full"]
    assert list(VARIANTS) == order
    counts = [sum(dataclasses.astuple(VARIANTS[v])) for v in order]
    assert counts == [0, 1, 2, 3, 4]
    for before, after in zip(order, order[1:]):  # each row keeps the previous components
        kept = dataclasses.astuple(VARIANTS[before])
        assert all(a >= b for a, b in zip(dataclasses.astuple(VARIANTS[after]), kept))


def test_paper_defaults():
    config = A2GConfig()
    assert config.audio_channels == (128, 128, 96, 96, 64)
    assert config.motion_channels == (256, 256, 128, 128, 64)
    assert config.decoder_channels == (64, 128, 128, 256, 256)
    assert (config.code_size, config.crop_frames, config.batch_size) == (16, 64, 32)
    weights = (config.rotation_weight, config.position_weight, config.align_weight,
               config.bicycle_weight, config.diversity_weight, config.kl_weight, config.rho)
    assert weights == (1.0, 1.0, 0.1, 0.1, 0.1, 1e-3, 0.02)
    assert config.learning_rate == 1e-4


def test_the_default_protocol_is_the_official_code():
    config = A2GConfig()
    # start.sh: --lambda_speed 1 (reconstruction, audio->motion), --lambda_xspeed 5 (random)
    assert (config.speed_weight, config.random_speed_weight) == (1.0, 5.0)
    assert config.noise_seconds == 0.0  # white noise per frame
    assert (config.stats_draw, config.inference) == ("sequence", "reparameterised")
    assert (config.kl_sum, config.kl_ramp, config.kl_floor) == ("time", 1.0, 1e-4)  # sawtooth
    assert config.checkpoint == "last"  # test.py loads the final epoch
    assert config.protocol == {"name": "official", **OFFICIAL}
    paper = make_config("demo", "paper")
    assert (paper.speed_weight, paper.random_speed_weight) == (5.0, 5.0)  # 5 everywhere
    assert paper.protocol["name"] == "paper"
    project = make_config("demo", "project", variant="split")
    assert project.protocol["name"] == "project"
    assert (project.noise_seconds, project.stats_draw, project.inference) == (
        1.0, "every_crop", "mean")
    assert project.width == PRESETS["demo"]["width"]  # the protocol does not touch the preset
    assert make_config("demo", "official", inference="mean").protocol["name"] == "custom"
    with pytest.raises(PipelineError, match="unknown protocol"):
        make_config("demo", "mine")


def test_a_config_json_from_before_the_protocol_reads_as_the_project_protocol():
    old = make_config("demo", "project").to_dict()
    for name in ("stats_draw", "inference", "kl_sum", "kl_floor", "random_speed_weight",
                 "checkpoint"):  # the fields that did not exist yet
        del old[name]
    assert A2GConfig.from_dict(old).protocol["name"] == "project"
    assert set(PROTOCOLS) == {"official", "paper", "project"}


def test_presets_and_overrides():
    assert set(PRESETS) == {"paper", "demo"}
    demo = make_config("demo", variant="split", steps=None, seed=3)
    assert demo.variant == "split"
    assert demo.steps == PRESETS["demo"]["steps"]  # None keeps the preset's value
    assert demo.seed == 3
    assert demo.scaled((128, 96)) == (32, 24)
    with pytest.raises(PipelineError, match="unknown preset"):
        make_config("huge")


@pytest.mark.parametrize(("field", "value"), [("variant", "nope"), ("kernel_size", 2),
                                              ("dropout", 1.0), ("width", 0), ("steps", 0),
                                              ("kl_ramp", 0.0), ("noise_seconds", -1.0),
                                              ("kl_floor", 1.0), ("kl_sum", "frames"),
                                              ("stats_draw", "once"), ("inference", "mode"),
                                              ("checkpoint", "best"), ("lookahead", -1),
                                              ("lookahead", 2.5)])
def test_invalid_settings_are_one_line_errors(field, value):
    with pytest.raises(PipelineError, match=field):
        A2GConfig(**{field: value})


def test_dict_round_trip():
    config = make_config("demo", variant="bicycle")
    assert A2GConfig.from_dict(config.to_dict()) == config
    with pytest.raises(PipelineError, match="unknown"):
        A2GConfig.from_dict({**config.to_dict(), "colour": "red"})


def test_lookahead_is_unset_by_default_and_saved():
    """A config.json without the key is today's model ("same" padding); a set one round-trips."""
    old = make_config("demo").to_dict()
    del old["lookahead"]
    assert A2GConfig.from_dict(old).lookahead is None
    bounded = make_config("demo", lookahead=8)
    assert A2GConfig.from_dict(bounded.to_dict()).lookahead == 8
    assert bounded.protocol == make_config("demo").protocol  # the architecture, not the protocol
