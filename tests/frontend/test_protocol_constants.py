"""The browser's copy of the wire protocol constants (viewer/protocol.js) matches the Python one,
and the viewer's shortcut commands match the ones the preferences service accepts."""

from __future__ import annotations

import re
from pathlib import Path

from annotations.services.users import SHORTCUT_COMMANDS
from site_gateway import protocol

VIEWER = Path(__file__).resolve().parents[2] / "frontend" / "static" / "viewer"


def _frozen_object(source: str, name: str) -> dict[str, str]:
    match = re.search(rf"export const {name} = Object\.freeze\(\{{(.*?)\}}\);", source, re.S)
    assert match, f"{name} not found in protocol.js"
    pairs = re.findall(r"""(?:^|,)\s*"?([\w-]+)"?:\s*("[^"]*"|\d+)""", match.group(1), re.M)
    return {key: value.strip('"') for key, value in pairs}


def _constant(source: str, name: str) -> str:
    match = re.search(rf"export const {name} = ([^;]+);", source)
    assert match, f"{name} not found"
    return match.group(1)


def test_enums_match() -> None:
    source = (VIEWER / "protocol.js").read_text()
    assert _frozen_object(source, "CloseCode") == {c.name: str(c.value) for c in protocol.CloseCode}
    assert _frozen_object(source, "ErrorCode") == {c.name: c.value for c in protocol.ErrorCode}
    assert _frozen_object(source, "MessageType") == {c.name: c.value for c in protocol.MessageType}
    assert _frozen_object(source, "Plane") == {c.name: c.value for c in protocol.Plane}
    assert _frozen_object(source, "Quality") == {c.name: c.value for c in protocol.Quality}
    assert _frozen_object(source, "Priority") == {c.name: c.value for c in protocol.Priority}
    assert _frozen_object(source, "LabelState") == {c.name: c.value for c in protocol.LabelState}


def test_limits_match() -> None:
    source = (VIEWER / "protocol.js").read_text()
    assert _constant(source, "PROTOCOL_VERSION") == str(protocol.PROTOCOL_VERSION)
    assert eval(_constant(source, "MAX_TEXT_BYTES")) == protocol.MAX_TEXT_BYTES  # noqa: S307 (digits and *)
    assert _constant(source, "MAX_FRAME_HEADER_BYTES") == str(protocol.MAX_FRAME_HEADER_BYTES)
    assert _constant(source, "MAX_PREFETCH_REQUESTS") == str(protocol.MAX_PREFETCH_REQUESTS)


def test_ack_window_matches_central() -> None:
    from annotations import relay

    source = (VIEWER / "protocol.js").read_text()
    assert int(_constant(source, "ACK_WINDOW")) == relay.MAX_UNACKED_FRAMES


def test_shortcut_commands_match_the_service() -> None:
    source = (VIEWER / "shortcuts.js").read_text()
    block = re.search(r"export const COMMANDS = Object\.freeze\(\{(.*?)\n\}\);", source, re.S)
    assert block
    commands = set(re.findall(r"""^\s*"?([\w-]+)"?:\s*\{""", block.group(1), re.M))
    assert commands == SHORTCUT_COMMANDS
