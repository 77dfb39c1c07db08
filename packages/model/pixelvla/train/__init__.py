"""Training: the paper's two-stage recipe (plus the base stage for configs without OpenVLA weights).

A run is a folder: config.json (replays the run), metrics.jsonl (what the server tails), TensorBoard
events, and checkpoints/ with the full training state and a `last` pointer.
"""
