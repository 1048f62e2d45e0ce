"""Host builds share kernel objects: a kernel file compiles once per content, headers and
flags, and a change to any of those compiles it again."""

from protobrain.run.host import compile_sources
from protobrain.toolchain import cache_dir

KERNEL_H = "#ifndef PB_K_H\n#define PB_K_H\nint pb_k(int x);\n#endif\n"
KERNEL_C = '#include "pb_k.h"\nint pb_k(int x) { return x + PB_K_STEP; }\n'


def _model(step: int, model_text: str) -> dict:
    return {"pb_k.h": KERNEL_H.replace("#endif", f"#define PB_K_STEP {step}\n#endif"), "pb_k.c": KERNEL_C,
            "m.c": model_text}


def _objects() -> set:
    return {p.name for p in (cache_dir() / "objects").glob("pb_k-*.o")}


def test_kernel_objects_are_shared_and_follow_their_headers(monkeypatch, tmp_path):
    import ctypes

    monkeypatch.setenv("PROTOBRAIN_CACHE", str(tmp_path))
    a = compile_sources("a", _model(1, '#include "pb_k.h"\nint f(void) { return pb_k(1); }\n'))
    b = compile_sources("b", _model(1, '#include "pb_k.h"\nint f(void) { return pb_k(2); }\n'))
    assert a != b and len(_objects()) == 1, "two models of one kernel compile it once"
    c = compile_sources("c", _model(5, '#include "pb_k.h"\nint f(void) { return pb_k(2); }\n'))
    assert len(_objects()) == 2, "a kernel header change compiles the kernel again"
    assert [ctypes.CDLL(str(p)).f() for p in (a, b, c)] == [2, 3, 7]
