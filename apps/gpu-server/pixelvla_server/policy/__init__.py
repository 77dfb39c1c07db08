"""Policy serving: model registry, device worker, HTTP predict and the WebSocket stream."""
