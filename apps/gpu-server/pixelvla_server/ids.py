"""Datasets, models and runs are addressed by id, never by a client-supplied path.

An id is a short name of safe characters; it maps to a folder under a root the server owns, and the
resolved path is checked to stay inside that root (no `..`, no symlink escapes).
"""

from __future__ import annotations

import re
from pathlib import Path

from .config import Settings
from .errors import ApiError, NotFound

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
_ID = re.compile(ID_PATTERN)


class InvalidId(ApiError):
    code = "invalid_id"


def check_id(value: str, kind: str) -> str:
    if not _ID.match(value) or ".." in value:
        raise InvalidId(
            f"{kind} id {value!r} is not valid: use 1-128 letters, digits, '.', '_' or '-' (ids, not paths)"
        )
    return value


def _inside(root: Path, child: Path) -> bool:
    try:
        child.resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return True


def datasets_root(settings: Settings) -> Path:
    return settings.data_dir / "datasets"


def annotations_root(settings: Settings) -> Path:
    """Studio annotations: <data-dir>/annotations/<dataset>/episode-<index:06d>/v<NNNN>.json."""
    return settings.data_dir / "annotations"


def runs_root(settings: Settings) -> Path:
    return settings.data_dir / "runs"


def written_models_root(settings: Settings) -> Path:
    """<data-dir>/models: the bundles the server writes itself (random-tiny, deployed runs)."""
    return settings.data_dir / "models"


def model_roots(settings: Settings) -> list[Path]:
    """Bundles live in --models-dir and in the server's own <data-dir>/models."""
    return [settings.models_dir, written_models_root(settings)]


def is_bundle(path: Path) -> bool:
    return path.is_dir() and (path / "config.json").is_file()


def list_model_dirs(settings: Settings) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for root in model_roots(settings):
        if not root.is_dir():
            continue
        for child in sorted(root.iterdir()):
            if _ID.match(child.name) and child.name not in found and is_bundle(child):
                found[child.name] = child
    return found


def model_dir(settings: Settings, model_id: str) -> Path:
    check_id(model_id, "model")
    for root in model_roots(settings):
        path = root / model_id
        if is_bundle(path) and _inside(root, path):
            return path
    raise NotFound(f"model {model_id!r} is not in the model registry", code="unknown_model")


def _is_dataset(path: Path) -> bool:
    return (path / "meta" / "info.json").is_file()


def find_datasets(settings: Settings) -> dict[str, Path]:
    """id -> folder of every dataset: <data-dir>/datasets/<id>, then the operator's --datasets-dir
    (a dataset itself, its children, or lerobot's <org>/<name> cache layout, id "<org>.<name>").
    The first folder found for an id wins; symlinks leading out of their root are skipped."""
    found: dict[str, Path] = {}

    def add(root: Path, name: str, path: Path) -> None:
        if _ID.match(name) and ".." not in name and name not in found and _inside(root, path):
            found[name] = path

    studio = datasets_root(settings)
    if studio.is_dir():
        for child in sorted(studio.iterdir()):
            if _is_dataset(child):
                add(studio, child.name, child)
    extra = settings.datasets_dir
    if extra is not None and extra.is_dir():
        if _is_dataset(extra):
            add(extra, extra.name, extra)
        else:
            for child in sorted(extra.iterdir()):
                if _is_dataset(child):
                    add(extra, child.name, child)
                elif child.is_dir():
                    for grand in sorted(child.iterdir()):
                        if _is_dataset(grand):
                            add(extra, f"{child.name}.{grand.name}", grand)
    return found


def dataset_dir(settings: Settings, dataset_id: str) -> Path:
    check_id(dataset_id, "dataset")
    path = datasets_root(settings) / dataset_id
    if path.is_dir() and _inside(datasets_root(settings), path):
        return path
    found = find_datasets(settings).get(dataset_id)
    if found is None:
        raise NotFound(f"dataset {dataset_id!r} does not exist", code="unknown_dataset")
    return found
