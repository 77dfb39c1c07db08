"""Print the server's OpenAPI document (the studio generates its TypeScript types from it)."""

from __future__ import annotations

import json
import sys

from .app import create_app
from .config import Settings


def main() -> None:
    app = create_app(Settings(device="cpu"))
    json.dump(app.openapi(), sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
