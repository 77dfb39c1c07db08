"""The robot client's typed errors: each has a stable `code` (as the server's errors do) and a
message that says what to change."""

from __future__ import annotations


class RobotClientError(Exception):
    code = "robot_client_error"

    def __init__(self, message: str, code: str | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class BadServerUrl(RobotClientError):
    """The URL is not a ws:// or wss:// URL, or nothing answers there."""

    code = "bad_server_url"


class AuthRefused(RobotClientError):
    """The server refused the API token or the operator token."""

    code = "auth_refused"


class ProtocolMismatch(RobotClientError):
    """The server speaks another version of the remote robot protocol, or is not a PixelVLA server."""

    code = "protocol_mismatch"


class NameTaken(RobotClientError):
    code = "name_taken"


class LinkLost(RobotClientError):
    code = "link_lost"


class BadAction(RobotClientError):
    """An action from the server the robot will not execute (wrong length, not finite)."""

    code = "bad_action"


class WireError(RobotClientError):
    code = "invalid_message"
