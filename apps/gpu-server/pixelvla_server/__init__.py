"""PixelVLA Studio GPU server: policy serving, training runs, datasets and robot sessions."""

__version__ = "0.1.0"
