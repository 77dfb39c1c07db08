"""Dataset routes over a real LeRobot v3 dataset written with pixelvla.data, through the ASGI app."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from pixelvla import rle
from pixelvla.data import EpisodeRecord, LeRobotWriter
from pixelvla_server.app import create_app
from pixelvla_server.config import Settings

H = W = 32


def write_dataset(
    root: Path, episodes: int = 2, length: int = 5, mask_rle: dict[str, Any] | None = None
) -> None:
    writer = LeRobotWriter(
        root,
        cameras={"front": (H, W)},
        state_names=[f"s{i}" for i in range(8)],
        action_names=["dx", "dy", "dz", "droll", "dpitch", "dyaw", "gripper"],
        fps=10,
    )
    rng = np.random.default_rng(0)
    for e in range(episodes):
        frames = rng.integers(0, 255, (length, H, W, 3), dtype=np.uint8)
        frames[:, :, :, 0] = 40 * e  # episodes differ visibly in red
        writer.write_episode(
            e,
            EpisodeRecord(
                frames={"front": frames},
                actions=np.full((length, 7), 0.1 * (e + 1), np.float32),
                states=np.zeros((length, 8), np.float32),
                task=f"pick the cube {e}",
                annotation={
                    "target_object": "cube",
                    "mask_rle": mask_rle or rle.encode(np.eye(H, dtype=bool)),
                    "prompts": [],
                },
            ),
        )
    writer.finalize()


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory):
    data = tmp_path_factory.mktemp("ds")
    write_dataset(data / "datasets" / "demo")
    (data / "datasets" / "broken" / "meta").mkdir(parents=True)
    (data / "datasets" / "broken" / "meta" / "info.json").write_text("{not json")
    with TestClient(create_app(Settings(device="cpu", data_dir=data, load_model=False))) as c:
        yield c


def test_list_and_detail(client):
    body = client.get("/v1/datasets").json()
    assert [d["id"] for d in body["datasets"]] == ["demo"]
    assert body["datasets"][0]["num_episodes"] == 2 and body["datasets"][0]["num_frames"] == 10
    assert "broken" in body["unreadable"]
    detail = client.get("/v1/datasets/demo").json()
    assert detail["cameras"] == ["front"] and detail["fps"] == 10
    assert detail["action_q99"] is not None and len(detail["action_q99"]) == 7
    assert client.get("/v1/datasets/broken").status_code == 422


def test_episodes_actions_and_frames(client):
    eps = client.get("/v1/datasets/demo/episodes").json()["episodes"]
    assert [(e["index"], e["length"], e["has_sidecar"]) for e in eps] == [(0, 5, True), (1, 5, True)]
    ep = client.get("/v1/datasets/demo/episodes/1").json()
    assert ep["task"] == "pick the cube 1" and len(ep["actions"]) == 5
    assert ep["actions"][0] == pytest.approx([0.2] * 7)
    r = client.get("/v1/datasets/demo/episodes/1/frames/3")
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    img = np.asarray(Image.open(io.BytesIO(r.content)))
    assert img.shape == (H, W, 3) and abs(float(img[:, :, 0].mean()) - 40) < 12


def test_unknown_ids_and_paths_are_refused(client):
    def code(url: str) -> tuple[int, str]:
        r = client.get(url)
        return r.status_code, r.json()["error"]["code"]

    assert code("/v1/datasets/nope") == (404, "unknown_dataset")
    assert code("/v1/datasets/..%2F..%2Fetc") in ((400, "invalid_id"), (404, "not_found"))
    assert code("/v1/datasets/.hidden") == (400, "invalid_id")
    assert code("/v1/datasets/demo/episodes/9") == (404, "unknown_episode")
    assert code("/v1/datasets/demo/episodes/0/frames/99") == (404, "unknown_frame")
    assert code("/v1/datasets/demo/episodes/0/frames/0?camera=wrist") == (404, "unknown_camera")
    assert client.get("/v1/datasets/demo/episodes/x").status_code == 422


def test_annotations_are_validated_and_versioned(client):
    url = "/v1/datasets/demo/episodes/0/annotations"
    hist = client.get(url).json()
    assert hist["latest"] == 0 and hist["sidecar"]["target_object"] == "cube"
    mask = rle.encode(np.ones((H, W), bool))
    body = {
        "frame": 0,
        "prompts": [{"type": "point", "x": 0.5, "y": 0.25, "positive": True}],
        "masks": [{"frame": 0, "rle": mask, "label": "cube"}],
        "base_version": 0,
    }
    r = client.post(url, json=body)
    assert r.status_code == 201, r.text
    assert r.json()["version"] == 1 and r.json()["prompts"][0]["type"] == "point"
    stale = client.post(url, json=body)  # still claims to start from version 0
    assert stale.status_code == 409 and stale.json()["error"]["code"] == "annotation_conflict"
    r = client.post(url, json={**body, "base_version": 1, "note": "second"})
    assert r.json()["version"] == 2
    hist = client.get(url).json()
    assert hist["latest"] == 2 and [v["note"] for v in hist["versions"]] == ["", "second"]

    def bad(**change: object) -> tuple[int, str]:
        r = client.post(url, json={**body, "base_version": None, **change})
        return r.status_code, r.json()["error"]["code"]

    assert bad(prompts=[{"type": "point", "x": 2.0, "y": 0.1}]) == (400, "invalid_prompt")
    assert bad(prompts=[{"type": "blob"}]) == (400, "invalid_prompt")
    assert bad(masks=[{"frame": 0, "rle": {"size": [H, W], "counts": "!!"}}]) == (400, "invalid_rle")
    wrong_size = rle.encode(np.ones((8, 8), bool))
    assert bad(masks=[{"frame": 0, "rle": wrong_size}]) == (400, "invalid_rle")
    assert bad(frame=50) == (400, "unknown_frame")
    assert bad(prompts=[{"type": "point", "x": 0.1, "y": 0.1}] * 17) == (422, "validation_error")
    assert client.get("/v1/datasets/demo/episodes/0/annotations").json()["latest"] == 2


# ---- stored annotations: written only by an operator, checked as strictly as live input ----------------

OP = {"X-Operator-Token": "op"}
# Runs that look like a 32x32 mask to int64 arithmetic (their sum wraps to H*W): the mask that made
# every later stage-2 run segfault in numpy's repeat.
CRAFTED = {"size": [H, W], "counts": [2**62, 2**62, 2**62, 2**62 + H * W]}


def test_annotation_post_needs_the_operator_token_and_checks_every_mask(tmp_path):
    write_dataset(tmp_path / "datasets" / "demo")
    settings = Settings(device="cpu", data_dir=tmp_path, load_model=False, operator_token="op")
    url = "/v1/datasets/demo/episodes/0/annotations"
    body = {"prompts": [{"type": "point", "x": 0.5, "y": 0.5}], "masks": []}
    with TestClient(create_app(settings)) as c:
        r = c.post(url, json=body)
        assert r.status_code == 403 and r.json()["error"]["code"] == "operator_token_required"
        assert c.post(url, json=body, headers={"X-Operator-Token": "wrong"}).status_code == 403
        assert c.post(url, json=body, headers=OP).status_code == 201

        def bad(**change: object) -> tuple[int, str]:
            r = c.post(url, json={**body, **change}, headers=OP)
            return r.status_code, r.json()["error"]["code"]

        assert bad(masks=[{"frame": 0, "rle": CRAFTED}]) == (400, "invalid_rle")
        assert bad(prompts=[{"type": "mask", "rle": CRAFTED}]) == (400, "invalid_rle")
        small = dict(rle.encode(np.ones((8, 8), bool)))  # a valid mask, not the camera's size
        assert bad(prompts=[{"type": "mask", "rle": small}]) == (400, "invalid_rle")
        assert c.get(url).json()["latest"] == 1  # only the good one was stored


def _builder(dataset: Path, annotations: Path | None) -> Any:
    """The stage-2 batch builder of `pixelvla train` (what a run does when it reads the dataset)."""
    from pixelvla.config import tiny_config
    from pixelvla.data import open_dataset
    from pixelvla.normalize import ActionNormalizer
    from pixelvla.tokenizer import build_tokenizer
    from pixelvla.train.batches import BatchBuilder
    from pixelvla.train.config import TrainConfig

    model = tiny_config()
    cfg = TrainConfig(
        stage="stage2",
        dataset=str(dataset),
        out_dir=str(dataset.parent / "run"),
        init="-",
        annotations=str(annotations) if annotations else None,
    )
    norm = ActionNormalizer((-1.0,) * 7, (1.0,) * 7, key="d")
    ds = open_dataset(dataset)
    return BatchBuilder(ds, model, build_tokenizer(model.tokenizer), norm, cfg, progress=False)


def _store(root: Path, episode: int, version: int, record: object) -> Path:
    folder = root / f"episode-{episode:06d}"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"v{version:04d}.json"
    path.write_text(json.dumps(record))
    return path


def test_training_checks_stored_annotations_and_sidecars(tmp_path):
    from pixelvla.train.annotations import AnnotationError

    dataset = tmp_path / "datasets" / "demo"
    write_dataset(dataset)
    ann = tmp_path / "annotations" / "demo"
    box = {"type": "box", "x0": 0.1, "y0": 0.1, "x1": 0.5, "y1": 0.5}
    good = dict(rle.encode(np.eye(H, dtype=bool)))
    _store(ann, 0, 1, {"camera": "front", "prompts": [box], "masks": [{"camera": "front", "rle": good}]})
    assert _builder(dataset, ann).studio_annotated == 1
    # A mask of another size than the episode's frames, as a pixel mask or as a mask prompt.
    small = dict(rle.encode(np.ones((8, 8), bool)))
    path = _store(ann, 0, 2, {"camera": "front", "prompts": [box], "masks": [{"rle": small}]})
    with pytest.raises(AnnotationError, match="does not match the frame size") as e:
        _builder(dataset, ann)
    assert str(path) in e.value.message and e.value.code == "invalid_annotation"
    _store(ann, 0, 2, {"camera": "front", "prompts": [{"type": "mask", "rle": small}]})
    with pytest.raises(AnnotationError, match="mask prompt size"):
        _builder(dataset, ann)
    # A newer torn version is skipped (a copy in progress); the invalid one under it still counts.
    (ann / "episode-000000" / "v0003.json").write_text('{"camera": "fr')
    with pytest.raises(AnnotationError, match=r"v0002\.json"):
        _builder(dataset, ann)
    # The dataset's own annotation is held to the same rules.
    other = tmp_path / "other" / "demo"
    write_dataset(other, mask_rle=small)
    with pytest.raises(AnnotationError, match="dataset's annotation of episode 0 is invalid"):
        _builder(other, None)


def test_a_crafted_stored_mask_fails_the_run_with_a_typed_error(tmp_path, models_root):
    """The reviewer's case: a crafted mask already on disk. The stage-2 run stops with the typed
    reason in its error field and log (exit status 2), instead of dying by SIGSEGV with an empty log."""
    write_dataset(tmp_path / "datasets" / "demo")
    path = _store(
        tmp_path / "annotations" / "demo",
        0,
        1,
        {"camera": "front", "prompts": [], "masks": [{"camera": "front", "frame": 0, "rle": CRAFTED}]},
    )
    settings = Settings(device="cpu", data_dir=tmp_path, models_dir=models_root, load_model=False)
    launch = {
        "stage": "stage2",
        "dataset": "demo",
        "base_checkpoint": "tiny-a",
        "overrides": {"steps": 1, "batch_size": 2, "tensorboard": False},
    }
    with TestClient(create_app(settings)) as c:
        r = c.post("/v1/runs", json=launch)
        assert r.status_code == 201, r.text
        run_id = r.json()["id"]
        deadline = time.monotonic() + 600  # a cold torch import on a busy 2-core box takes tens of s
        while (run := c.get(f"/v1/runs/{run_id}").json())["status"] not in ("succeeded", "failed"):
            assert time.monotonic() < deadline, run
            time.sleep(0.2)
        logs = "\n".join(c.get(f"/v1/runs/{run_id}/logs", params={"tail": 1000}).json()["lines"])
    assert run["status"] == "failed" and run["exit_code"] == 2, (run, logs)
    assert "[invalid_annotation]" in run["error"] and str(path) in run["error"], run["error"]
    assert "invalid_rle" in run["error"]
    assert "pixelvla: error [invalid_annotation]" in logs


# ---- user datasets: --datasets-dir, lerobot-written fixtures, a 480x640 SO-101 video dataset -----------

FIXTURES = Path(__file__).resolve().parents[3] / "packages" / "model" / "testdata" / "lerobot"
SO101 = ["shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll", "gripper"]
VH, VW, VLEN = 480, 640, 40


def so101_frame(e: int, t: int) -> np.ndarray:
    y, x = np.mgrid[0:VH, 0:VW].astype(np.float64)
    img = np.stack([40 + 150 * x / VW + 30 * e, 60 + 120 * y / VH, np.full_like(x, 100 + 4 * t)], -1)
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def user_client(tmp_path_factory: pytest.TempPathFactory):
    """A server whose --datasets-dir holds a 480x640, 30 fps, 6-D SO-101-shaped AV1 dataset (written
    like lerobot-record would) and, in lerobot's <org>/<name> layout, the real-lerobot fixtures."""
    import shutil

    user = tmp_path_factory.mktemp("user")
    writer = LeRobotWriter(
        user / "so101_pick",
        cameras={"wrist": (VH, VW)},
        state_names=SO101,
        action_names=SO101,
        fps=30,
        robot_type="so101_follower",
        video=True,
    )
    for e in range(2):
        t = np.arange(VLEN, dtype=np.float32)[:, None]
        writer.write_episode(
            e,
            EpisodeRecord(
                frames={"wrist": [so101_frame(e, i) for i in range(VLEN)]},
                actions=(np.sin(t / 7 + np.arange(6)) * 30 + e).astype(np.float32),
                states=(np.cos(t / 7 + np.arange(6)) * 30 - e).astype(np.float32),
                task="pick up the cube",
            ),
        )
    writer.finalize()
    shutil.copytree(FIXTURES / "so101_video_deleted", user / "lerobot" / "so101_video_deleted")
    shutil.copytree(FIXTURES / "image_to_video", user / "lerobot" / "image_to_video")
    data = tmp_path_factory.mktemp("data")
    write_dataset(data / "datasets" / "demo")
    settings = Settings(device="cpu", data_dir=data, datasets_dir=user, load_model=False)
    with TestClient(create_app(settings)) as c:
        yield c


def test_datasets_dir_is_listed_beside_the_data_dir(user_client):
    body = user_client.get("/v1/datasets").json()
    assert [d["id"] for d in body["datasets"]] == [
        "demo",
        "lerobot.image_to_video",
        "lerobot.so101_video_deleted",
        "so101_pick",
    ]
    assert body["unreadable"] == {}
    detail = user_client.get("/v1/datasets/so101_pick").json()
    assert detail["fps"] == 30 and detail["cameras"] == ["wrist"] and detail["video_cameras"] == ["wrist"]
    assert detail["action_dim"] == 6 and detail["state_dim"] == 6 and len(detail["action_q99"]) == 6


def test_video_frames_are_decoded_server_side(user_client):
    for t in (0, 17, VLEN - 1):
        r = user_client.get(f"/v1/datasets/so101_pick/episodes/1/frames/{t}?camera=wrist&quality=100")
        assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
        img = np.asarray(Image.open(io.BytesIO(r.content)).convert("RGB"), dtype=np.float64)
        assert img.shape == (VH, VW, 3)
        assert np.abs(img - so101_frame(1, t)).mean() < 4.0, t
    ep = user_client.get("/v1/datasets/so101_pick/episodes/1").json()
    assert len(ep["actions"][0]) == 6 and len(ep["state"][0]) == 6 and ep["fps"] == 30


def test_scrubbing_hits_the_frame_cache(user_client):
    cat = user_client.app.state.studio.datasets
    before = len(cat.frame_cache)
    assert user_client.get("/v1/datasets/so101_pick/episodes/0/frames/20?camera=wrist").status_code == 200
    # one miss decoded the window of following frames in the same pass
    assert len(cat.frame_cache) - before == min(cat.video_window, VLEN - 20)
    hits = cat.frame_cache.hits
    for t in range(21, 20 + cat.video_window):
        assert (
            user_client.get(f"/v1/datasets/so101_pick/episodes/0/frames/{t}?camera=wrist").status_code == 200
        )
    assert cat.frame_cache.hits - hits == cat.video_window - 1
    assert cat.frame_cache.nbytes <= cat.frame_cache.max_bytes


def test_frame_cache_is_bounded_in_bytes():
    from pixelvla_server.datasets.catalog import FrameCache

    cache = FrameCache(max_bytes=3 * 100)
    for i in range(5):
        cache.put(("k", i), np.zeros(100, np.uint8))
    assert len(cache) == 3 and cache.nbytes == 300
    assert cache.get(("k", 0)) is None and cache.get(("k", 4)) is not None


def test_annotation_versions_on_a_user_video_dataset(user_client):
    url = "/v1/datasets/so101_pick/episodes/0/annotations"
    assert user_client.get(url).json() == {"sidecar": None, "versions": [], "latest": 0}
    mask = np.zeros((VH, VW), bool)
    mask[100:200, 300:400] = True
    body = {
        "frame": 5,
        "camera": "wrist",
        "instruction": "pick up the cube",
        "prompts": [{"type": "box", "x0": 0.45, "y0": 0.2, "x1": 0.65, "y1": 0.4}],
        "masks": [{"frame": 5, "camera": "wrist", "rle": rle.encode(mask), "label": "cube"}],
        "base_version": 0,
    }
    r = user_client.post(url, json=body)
    assert r.status_code == 201, r.text
    hist = user_client.get(url).json()
    assert hist["latest"] == 1 and hist["versions"][0]["prompts"][0]["type"] == "box"
    assert np.array_equal(
        rle.decode(hist["versions"][0]["masks"][0]["rle"]), mask
    )  # exact, whatever the codec
    wrong = {
        **body,
        "base_version": 1,
        "masks": [{"frame": 5, "camera": "wrist", "rle": rle.encode(np.ones((48, 64), bool))}],
    }
    assert user_client.post(url, json=wrong).json()["error"]["code"] == "invalid_rle"


def test_lerobot_edited_datasets_open_through_the_server(user_client):
    exp = json.loads((FIXTURES / "image_to_video.expected.json").read_text())
    eps = user_client.get("/v1/datasets/lerobot.image_to_video/episodes").json()["episodes"]
    assert [e["task"] for e in eps] == [e["task"] for e in exp["episodes"]]  # from task_index
    deleted = json.loads((FIXTURES / "so101_video_deleted.expected.json").read_text())
    ep = deleted["episodes"][1]
    f = ep["frames"][0]
    r = user_client.get(
        f"/v1/datasets/lerobot.so101_video_deleted/episodes/1/frames/{f['frame']}?camera={f['camera']}&quality=100"
    )
    assert r.status_code == 200
    img = np.asarray(Image.open(io.BytesIO(r.content)).convert("RGB"), dtype=np.float64)
    np.testing.assert_allclose(img.reshape(-1, 3).mean(axis=0), f["lerobot_mean"], atol=1.5)
    missing = user_client.get("/v1/datasets/lerobot.so101_video_deleted/episodes/2")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "unknown_episode"


def test_a_missing_video_file_is_a_typed_error(tmp_path):
    import shutil

    shutil.copytree(FIXTURES / "so101_video", tmp_path / "user" / "so101_video")
    next((tmp_path / "user" / "so101_video" / "videos" / "observation.images.front").rglob("*.mp4")).unlink()
    settings = Settings(
        device="cpu", data_dir=tmp_path / "data", datasets_dir=tmp_path / "user", load_model=False
    )
    with TestClient(create_app(settings)) as c:
        r = c.get("/v1/datasets/so101_video/episodes/0/frames/0?camera=front")
        assert r.status_code == 422 and r.json()["error"]["code"] == "dataset_not_found"
        assert "file-000.mp4" in r.json()["error"]["message"]
        assert c.get("/v1/datasets/so101_video/episodes/0/frames/0?camera=wrist").status_code == 200


def test_datasets_dir_must_be_a_folder(tmp_path):
    from pixelvla_server.config import ConfigError, from_env

    with pytest.raises(ConfigError, match="datasets dir"):
        from_env({}, datasets_dir=str(tmp_path / "nope"))
    assert from_env({"PIXELVLA_DATASETS_DIR": str(tmp_path)}).datasets_dir == tmp_path.resolve()


def test_video_bench_reports_numbers():
    from pixelvla_server.datasets.bench import run

    out = run(seconds=0.4, random_frames=3)
    assert out["episode"]["frames"] == 12
    for key in ("sequential_decode_fps", "random_access_decode_fps", "encode_fps"):
        assert out[key] > 0
    assert out["filmstrip_frame_warm"]["p50_ms"] > 0 and out["decode_mae_0_255"] < 8
