"""Robot sessions: a control thread per robot, streamed frames, commands, and the dead man."""
