"""Datasets by id (LeRobot v3 via pixelvla.data) and the studio's versioned annotations."""
