"""C text: literals and array bodies, content digests, and the one Jinja environment.

Every generated file comes from a template under templates/, addressed by its path there
("model.c.j2", "firmware/main.c.j2", "renode/board.resc.j2", ...), through env().
"""

from __future__ import annotations

import functools
import hashlib

import jinja2
import numpy as np

from protobrain.resources import templates_dir


def c_literal(value, ctype: str = "int32_t") -> str:
    """One value as a C literal of the given type, warning-free under -Wall -Wextra."""
    if ctype == "float":
        v = float(np.float32(value))
        if v != v or v in (float("inf"), float("-inf")):
            raise ValueError(f"cannot emit non-finite float {v}")
        text = f"{v:.9g}"
        return (text if any(c in text for c in ".en") else text + ".0") + "f"
    v = int(value)
    if ctype == "int64_t":
        return f"({v + 1}LL - 1LL)" if v == -(2**63) else f"{v}LL"
    if v == -(2**31):
        return "(-2147483647 - 1)"
    if ctype.startswith("uint"):
        return f"{v}u"
    return str(v)


def c_string(text: str) -> str:
    """A C string literal of any text (UTF-8 bytes; escapes keep it warning-free, trigraphs too)."""
    out = []
    for b in text.encode():
        ch = chr(b)
        out.append("\\" + ch if ch in '"\\?' else ch if 32 <= b < 127 else f"\\{b:03o}")
    return '"' + "".join(out) + '"'


def c_array_body(values: np.ndarray, ctype: str, per_line: int = 16) -> str:
    """The initializer's elements (without braces), per_line to a line."""
    items = [c_literal(v, ctype) for v in np.asarray(values).reshape(-1).tolist()]
    lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
    return ",\n    ".join(lines)


def digest(texts: dict[str, str], extra: str = "") -> str:
    """16 hex digits identifying a set of generated files (and `extra`), for caches."""
    h = hashlib.sha256(extra.encode())
    for k in sorted(texts):
        h.update(k.encode() + b"\0" + texts[k].encode())
    return h.hexdigest()[:16]


@functools.cache
def env() -> jinja2.Environment:
    """The Jinja environment of every template: a block tag's line leaves nothing in the
    output (trim_blocks, lstrip_blocks), a file keeps its final newline, and a name the
    context lacks is an error, never an empty string."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
