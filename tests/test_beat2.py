"""BEAT2 natively: SMPL-X motion, its model file, the BEAT2 layout, and the chain to vectors."""

import logging

import numpy as np
import pandas as pd
import pytest
import soundfile
from scipy.spatial.transform import Rotation

from data_processing import create_vector, prepare_data, recordings, smplx
from data_processing import motion as motion_io
from data_processing.bvh import read_bvh
from data_processing.dataset import DatasetMeta
from data_processing.files import PipelineError
from data_processing.transcripts import frame_words, read_transcript

FPS = 30
SECONDS = 2.0
SPLIT = {"2_scott_0_1_1": "train", "2_scott_0_2_2": "train", "2_scott_0_3_3": "val",
         "2_scott_0_4_4": "test", "2_scott_0_5_5": "additional"}
WORDS = [("so", 0.2, 0.5), ("today", 0.5, 1.1), ("we", 1.3, 1.5), ("talk", 1.5, 1.9)]


def smplx_npz(path, seed: int, n_frames: int = int(FPS * SECONDS)) -> dict:
    """A BEAT2-style motion file: smooth axis-angle poses, a drifting root, 300 betas."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_frames)[:, None] / FPS
    poses = 0.3 * np.sin(2 * np.pi * rng.uniform(0.2, 1.5, 165) * t + rng.uniform(0, 6, 165))
    arrays = {"poses": poses, "trans": np.c_[0.1 * t, 1.2 + 0.0 * t, -0.05 * t],
              "betas": rng.normal(size=300), "expressions": np.zeros((n_frames, 100)),
              "mocap_frame_rate": np.array(FPS), "gender": np.array("neutral")}
    np.savez(path, **arrays)
    return arrays


def fake_model(path, seed: int = 3):
    """A tiny SMPL-X model file in the real one's layout (10 shape + 10 expression dirs)."""
    rng = np.random.default_rng(seed)
    n_vertices = 80
    template = smplx.template_skeleton()
    rest = template.rest_positions()[[template.names.index(n) for n in smplx.JOINT_NAMES]] / 100
    v_template = np.repeat(rest, 2, axis=0)[:n_vertices] + rng.normal(0, 0.01, (n_vertices, 3))
    regressor = np.abs(rng.normal(size=(55, n_vertices))) * (rng.random((55, n_vertices)) < 0.1)
    regressor[np.arange(55), 2 * np.arange(55) % n_vertices] += 1.0
    regressor /= regressor.sum(axis=1, keepdims=True)
    kintree = np.stack([np.where(smplx.PARENTS < 0, 2**32 - 1, smplx.PARENTS), np.arange(55)])
    arrays = {"v_template": v_template, "shapedirs": rng.normal(0, 0.002, (n_vertices, 3, 20)),
              "J_regressor": regressor, "kintree_table": kintree.astype(np.uint32),
              "f": np.zeros((4, 3), np.uint32)}
    np.savez(path, **arrays)
    return arrays


def speech(path, seed: int, seconds: float = SECONDS, sr: int = 16000):
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    voiced = np.sin(2 * np.pi * 140 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t)) ** 2
    soundfile.write(path, 0.3 * voiced + 0.01 * rng.normal(size=t.size), sr)


def textgrid(path, words, seconds: float = SECONDS):
    """A short-format Praat TextGrid with one word tier (silences as empty intervals)."""
    intervals, last = [], 0.0
    for word, start, end in words:
        if start > last:
            intervals.append((last, start, ""))
        intervals.append((start, end, word))
        last = end
    intervals.append((last, seconds, ""))
    body = "".join(f'{a}\n{b}\n"{w}"\n' for a, b, w in intervals)
    path.write_text(f'File type = "ooTextFile"\nObject class = "TextGrid"\n\n0\n{seconds}\n'
                    f'<exists>\n1\n"IntervalTier"\n"words"\n0\n{seconds}\n{len(intervals)}\n'
                    + body)


def beat2_folder(root, seconds: float = SECONDS):
    """A BEAT2-layout folder: five recordings, a split file, TextGrids, and a model file.

    Returns the raw folder (``ROOT/beat_english_v2.0.0``) and the model file.
    """
    raw = root / "beat_english_v2.0.0"
    for folder in ("smplxflame_30", "wave16k", "textgrid"):
        (raw / folder).mkdir(parents=True)
    for k, key in enumerate(SPLIT):
        smplx_npz(raw / "smplxflame_30" / f"{key}.npz", k, n_frames=round(FPS * seconds))
        speech(raw / "wave16k" / f"{key}.wav", k, seconds)
        textgrid(raw / "textgrid" / f"{key}.TextGrid", WORDS, seconds)
    rows = [*SPLIT.items(), ("2_scott_0_9_9", "test")]  # a listed id without files: ignored
    pd.DataFrame(rows, columns=["id", "type"]).to_csv(raw / "train_test_split.csv", index=False)
    fake_model(root / "SMPLX_NEUTRAL_2020.npz")
    return raw, root / "SMPLX_NEUTRAL_2020.npz"


@pytest.fixture(scope="module")
def beat2(tmp_path_factory):
    """:func:`beat2_folder` of recordings of :data:`SECONDS`."""
    return beat2_folder(tmp_path_factory.mktemp("beat2"))


def smplx_joints(poses, trans, rest):
    """SMPL-X's posed joints (its LBS joint chain), written independently: metres."""
    n = len(poses)
    rotation, position = np.zeros((55, n, 3, 3)), np.zeros((55, n, 3))
    for j, parent in enumerate(smplx.PARENTS):
        local = Rotation.from_rotvec(poses[:, j]).as_matrix()
        if parent < 0:
            rotation[j], position[j] = local, rest[0] + trans
        else:
            rotation[j] = rotation[parent] @ local
            position[j] = position[parent] + rotation[parent] @ (rest[j] - rest[parent])
    return position.transpose(1, 0, 2)


# -- the SMPL-X reader -----------------------------------------------------------------------------


def test_tree_and_template():
    assert len(smplx.JOINT_NAMES) == len(smplx.PARENTS) == 55
    names = dict(zip(smplx.JOINT_NAMES, smplx.PARENTS))
    assert smplx.JOINT_NAMES[names["left_wrist"]] == "left_elbow"
    assert smplx.JOINT_NAMES[names["right_thumb3"]] == "right_thumb2"
    assert smplx.JOINT_NAMES[names["jaw"]] == "head"
    assert smplx.JOINT_NAMES[names["left_index1"]] == "left_wrist"
    skel = smplx.template_skeleton()
    rest = skel.rest_positions()
    assert 150 < rest[:, 1].max() - rest[:, 1].min() < 180  # feet to eyes of a ~1.7 m adult
    np.testing.assert_allclose(rest[skel.names.index("left_wrist"), 0],
                               -rest[skel.names.index("right_wrist"), 0])
    assert skel.names[:6] == ("pelvis", "left_hip", "left_knee", "left_ankle", "left_foot",
                              "right_hip")  # depth-first, as in its BVH
    body = smplx.template_skeleton("body")
    assert sorted(body.names) == sorted(smplx.JOINT_NAMES[:22])
    assert body.translating.tolist() == [0]


def test_model_joints_are_the_regressed_shaped_template(tmp_path):
    model = fake_model(tmp_path / "model.npz")
    betas = np.random.default_rng(0).normal(size=300)
    shaped = model["v_template"] + model["shapedirs"][:, :, :10] @ betas[:10]  # 10 shape dirs
    expected = model["J_regressor"] @ shaped
    np.testing.assert_allclose(smplx.load_model(tmp_path / "model.npz").joints(betas), expected,
                               atol=1e-12)
    skel = smplx.skeleton(expected)
    order = smplx.depth_first()
    assert skel.names == tuple(smplx.JOINT_NAMES[j] for j in order)
    np.testing.assert_allclose(skel.rest_positions(), expected[order] * 100.0, atol=1e-9)
    knee = skel.names.index("left_knee")
    np.testing.assert_allclose(skel.offsets[knee], (expected[4] - expected[1]) * 100.0)


def test_motion_is_the_smplx_joint_chain(tmp_path):
    arrays = smplx_npz(tmp_path / "take.npz", 0, n_frames=12)
    model = fake_model(tmp_path / "model.npz")
    motion = motion_io.from_smplx(tmp_path / "take.npz", model=tmp_path / "model.npz")
    rest = model["J_regressor"] @ (model["v_template"]
                                   + model["shapedirs"][:, :, :10] @ arrays["betas"][:10])
    poses = arrays["poses"].reshape(12, 55, 3)
    expected = smplx_joints(poses, arrays["trans"], rest) * 100.0
    assert motion.fps == FPS
    np.testing.assert_allclose(motion.select(smplx.JOINT_NAMES), expected, atol=1e-9)
    ankle = motion.skeleton.names.index("left_ankle")  # joint 7 of poses
    np.testing.assert_allclose(motion.rotations[:, ankle], Rotation.from_rotvec(poses[:, 7])
                               .as_matrix(), atol=1e-12)
    # a known answer: the body turned 90 degrees about Y carries the left hip to +Z
    turned = poses.copy()
    turned[:, 0] = [0.0, np.pi / 2, 0.0]
    np.savez(tmp_path / "turned.npz", **{**arrays, "poses": turned.reshape(12, -1)})
    hips = motion_io.from_smplx(tmp_path / "turned.npz", model=tmp_path / "model.npz")
    x, y, z = (rest[1] - rest[0]) * 100.0
    left_hip, pelvis = hips.select(["left_hip", "pelvis"]).transpose(1, 0, 2)
    np.testing.assert_allclose(left_hip - pelvis, np.tile([z, y, -x], (12, 1)), atol=1e-9)
    # the body alone: the same 22 joints
    body = motion_io.from_smplx(tmp_path / "take.npz", model=tmp_path / "model.npz",
                                joints="body")
    np.testing.assert_allclose(body.positions, motion.select(body.joint_names), atol=1e-9)


def test_the_one_loader_reads_smplx_npz(tmp_path, tiny_bvh, caplog):
    smplx_npz(tmp_path / "take.npz", 1, n_frames=8)
    with caplog.at_level(logging.WARNING):
        motion = motion_io.load_motion(tmp_path / "take.npz")
    assert "approximate" in caplog.text
    assert motion.skeleton.names == smplx.template_skeleton().names
    assert motion.n_frames == 8
    body = motion_io.load_motion(tmp_path / "take.npz", skeleton=smplx.template_skeleton("body"))
    np.testing.assert_allclose(body.positions, motion.select(body.joint_names), atol=1e-9)
    with pytest.raises(PipelineError, match="not an SMPL-X skeleton"):
        motion_io.load_motion(tmp_path / "take.npz", skeleton=read_bvh(tiny_bvh).skeleton)


@pytest.mark.parametrize(("change", "message"), [
    ({"poses": np.zeros((5, 156))}, r"'poses' has shape \(5, 156\), expected \(frames, 165\)"),
    ({"trans": np.zeros((4, 3))}, r"'trans' has shape \(4, 3\), expected \(5, 3\)"),
    ({"mocap_frame_rate": None}, "no frame rate"),
    ({"poses": np.full((5, 165), np.nan)}, "'poses' holds values that are not finite"),
])
def test_malformed_smplx_files(tmp_path, change, message):
    arrays = {"poses": np.zeros((5, 165)), "trans": np.zeros((5, 3)),
              "mocap_frame_rate": np.array(30)}
    arrays = {k: v for k, v in {**arrays, **change}.items() if v is not None}
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(PipelineError, match=message) as error:
        motion_io.from_smplx(tmp_path / "bad.npz")
    assert str(error.value).startswith(str(tmp_path / "bad.npz"))


def test_malformed_model_file(tmp_path):
    model = fake_model(tmp_path / "model.npz")
    np.savez(tmp_path / "no_regressor.npz", v_template=model["v_template"],
             shapedirs=model["shapedirs"])
    with pytest.raises(PipelineError, match="not an SMPL-X model .no J_regressor"):
        smplx.load_model(tmp_path / "no_regressor.npz")
    model["kintree_table"][0, 5] = 3
    np.savez(tmp_path / "tree.npz", **model)
    with pytest.raises(PipelineError, match="kintree_table is not the SMPL-X joint tree"):
        smplx.load_model(tmp_path / "tree.npz")


# -- the BEAT2 layout through the steps -----------------------------------------------------------


def test_beat2_layout_prepare_then_create_vector(beat2, tmp_path, caplog):
    raw, model = beat2
    data = tmp_path / "data"
    with caplog.at_level(logging.INFO):
        assert prepare_data.main([str(raw), str(data), "--smplx-model", str(model),
                                  "--workers", "1"]) == 0
    assert "approximate" not in caplog.text
    assert "1 'additional' recording(s) left out" in caplog.text
    tables = {s: pd.read_csv(data / f"gg-{s}.csv") for s in ("train", "dev", "test")}
    assert [len(t) for t in tables.values()] == [2, 1, 1]  # train, val -> dev, test
    assert tables["dev"].wav_filename[0] == "dev/inputs/2_scott_0_3_3.wav"
    assert tables["test"].transcript_filename[0] == "test/transcripts/2_scott_0_4_4.TextGrid"
    label = read_bvh(data / tables["train"].bvh_filename[0])
    assert label.skeleton.names == smplx.template_skeleton().names
    assert label.fps == pytest.approx(FPS)

    assert create_vector.main([str(data), "0", "--fps", str(FPS), "--motion", "rot6d",
                               "--workers", "1"]) == 0
    meta = DatasetMeta.load(data)
    assert meta.skeleton.names == smplx.template_skeleton().names
    assert meta.output_size == 6 * 55 + 3
    assert meta.source_fps == pytest.approx(FPS)
    assert meta.has_transcripts
    seq_id = meta.splits["train"][0]
    sequence = meta.sequence("train", seq_id)
    truth = motion_io.from_smplx(raw / "smplxflame_30" / f"{seq_id}.npz", model=model)
    n = len(sequence["positions"])
    assert n == len(sequence["audio"]) == FPS * SECONDS
    np.testing.assert_allclose(sequence["positions"].reshape(n, 55, 3), truth.positions,
                               atol=1e-3)  # float32 cm, 6 decimals in the BVH
    words = meta.words("train", seq_id)
    assert words == frame_words(read_transcript(raw / "textgrid" / f"{seq_id}.TextGrid"), n,
                                FPS)
    assert words[int(0.6 * FPS)] == "today"
    assert words[int(1.2 * FPS)] == ""


def test_a_recording_without_transcript_is_one_error(beat2, tmp_path):
    raw, _ = beat2
    copy = tmp_path / "raw"
    for folder in ("smplxflame_30", "wave16k", "textgrid"):
        (copy / folder).mkdir(parents=True)
        for path in (raw / folder).iterdir():
            if path.stem != "2_scott_0_2_2" or folder != "textgrid":
                (copy / folder / path.name).write_bytes(path.read_bytes())
    with pytest.raises(PipelineError, match=r"2_scott_0_2_2\.wav: no transcript, but 4 of 5 "
                                            r"recordings have one") as error:
        recordings.find_pairs(copy)
    assert "\n" not in str(error.value)


def test_single_flac_and_npz_pair_body_only(tmp_path, caplog):
    raw = tmp_path / "raw"
    raw.mkdir()
    smplx_npz(raw / "take.npz", 4)
    speech(raw / "take.flac", 4)
    data = tmp_path / "data"
    with caplog.at_level(logging.WARNING):
        splits = prepare_data.prepare(raw, data, smplx_joints="body", workers=1)
    assert caplog.text.count(smplx.TEMPLATE_WARNING) == 1
    assert splits == {"train": ["take"], "dev": [], "test": []}
    table = pd.read_csv(data / "gg-train.csv")
    assert list(table.columns) == ["wav_filename", "wav_filesize", "bvh_filename"]  # audio only
    assert table.wav_filename[0] == "train/inputs/take.flac"
    label = read_bvh(data / "train" / "labels" / "take.bvh")
    assert label.skeleton.names == smplx.template_skeleton("body").names
    expected = motion_io.from_smplx(raw / "take.npz", joints="body")
    np.testing.assert_allclose(label.positions(), expected.positions, atol=1e-4)
    assert create_vector.main([str(data), "0", "--fps", "30", "--workers", "1"]) == 0
    (truth,) = motion_io.load_split(data, "train")
    assert truth.audio == data / "train" / "inputs" / "take.flac"  # found, not only .wav
    assert not DatasetMeta.load(data).has_transcripts
    prepare_data.prepare(raw, tmp_path / "noisy", augment_noise=True, workers=1)
    noisy = pd.read_csv(tmp_path / "noisy" / "gg-train.csv").wav_filename.tolist()
    assert noisy == ["train/inputs/take.flac", "train/inputs/ntake.wav"]
