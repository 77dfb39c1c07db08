"""Datasets on disk in the LeRobotDataset v3.0 layout, with the Pixel annotation sidecar.

``LeRobotWriter`` stages and packs episodes; ``open_dataset`` reads them back. See
:mod:`pixelvla.data.format` for the layout and the choice of PNG frames inside parquet.
"""

from pixelvla.data.format import CODEBASE_VERSION, DatasetError
from pixelvla.data.reader import Episode, EpisodeInfo, Frames, LocalDataset, open_dataset
from pixelvla.data.writer import EpisodeRecord, LeRobotWriter

__all__ = [
    "CODEBASE_VERSION",
    "DatasetError",
    "Episode",
    "EpisodeInfo",
    "EpisodeRecord",
    "Frames",
    "LeRobotWriter",
    "LocalDataset",
    "open_dataset",
]
