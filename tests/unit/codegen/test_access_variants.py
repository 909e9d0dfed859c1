"""readOnly/writeOnly variants at every depth, and ``format: byte`` as the wire's string."""

from __future__ import annotations

import base64
from typing import Any

from codegen.render.components import render_components


def test_a_byte_string_is_the_base64_text_as_received() -> None:
    code = render_components(
        {"Blob": {"type": "object", "properties": {"data": {"type": "string", "format": "byte"}}}},
        spec_name="t.yaml",
    )
    namespace: dict[str, Any] = {"__name__": "_byte_blob"}
    exec(compile(code, "_byte_blob", "exec"), namespace)
    blob = namespace["Blob"]
    # Not UTF-8 once decoded (Base64Str refuses it).
    wire = base64.b64encode(b"\xff\xfe\x00").decode()
    assert blob.model_validate({"data": wire}).model_dump(mode="json") == {"data": wire}
    # Not canonical (Base64Bytes would send back "/w=="), and the request validator, which
    # does not check `byte`, lets it through: the model does too.
    assert blob.model_validate({"data": "/w"}).model_dump(mode="json") == {"data": "/w"}
