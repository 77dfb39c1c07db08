"""Dataset routes over a real LeRobot v3 dataset written with pixelvla.data, through the ASGI app."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from pixelvla import rle
from pixelvla.data import EpisodeRecord, LeRobotWriter
from pixelvla_server.app import create_app
from pixelvla_server.config import Settings

H = W = 32


def write_dataset(root: Path, episodes: int = 2, length: int = 5) -> None:
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
                    "mask_rle": rle.encode(np.eye(H, dtype=bool)),
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
