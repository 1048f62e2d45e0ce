"""TFLite_Detection_PostProcess (TFLite Micro's custom operator) against TFLite Micro's
Python interpreter, which registers it: written models (the converter does not write it)
over fast and regular non-max suppression, one to three classes per detection, with and
without a background class, wider box encodings, constant and input anchors, thresholds
that keep all, some or no boxes, default options, SSD-sized anchor counts; inputs with tied
scores (the edge inputs: every score equal) and NaN scores; refusals.

Rows TFLite Micro leaves unwritten (stale arena bytes there) are masked on both sides:
in fast mode all but the rows its detections went to, in larger outputs those past
max_detections.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import RecordedReference, assert_bit_exact

from protobrain.compiler.ops.detection import scratch_layout
from protobrain.compiler.program import build_program
from protobrain.compiler.reader import read_model_bytes
from protobrain.compiler.writer import write_model
from protobrain.errors import UnsupportedError
from protobrain.run.host import compile_bytes
from protobrain.verify.reference import Reference

OP = "CUSTOM:TFLite_Detection_PostProcess"
ARENA = 1 << 20


def options(**changes) -> dict:
    o = {"max_detections": 4, "max_classes_per_detection": 1, "detections_per_class": 3, "use_regular_nms": False,
         "nms_score_threshold": 0.0, "nms_iou_threshold": 0.5, "num_classes": 3,
         "y_scale": 10.0, "x_scale": 10.0, "h_scale": 5.0, "w_scale": 5.0}
    o.update(changes)
    return {k: v for k, v in o.items() if v is not None}


def anchors_for(n: int, seed: int = 0) -> np.ndarray:
    """n anchors (y, x, h, w): centres in [0.2, 0.8], sizes in [0.1, 0.4], some overlapping."""
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.uniform(0.2, 0.8, (n, 2)), rng.uniform(0.1, 0.4, (n, 2))], 1).astype(np.float32)


def det_model(n=6, classes=3, background=1, opts=None, rows=None, stride=4, const_anchors=True,
              dtype="float32", anchor_dtype="float32", out_dtype="float32", anchor_shape=None, batch=1,
              anchors=None) -> bytes:
    opts = options(num_classes=classes) if opts is None else opts
    k = min(opts.get("max_classes_per_detection", 0), classes)
    rows = rows if rows is not None else max(1, opts.get("max_detections", 0) * max(k, 1) ** 2)
    q = {} if dtype == "float32" else {"scale": 0.05, "zp": 3}
    values = anchors if anchors is not None else anchors_for(n)
    anchors = {"shape": list(anchor_shape or (n, 4)), "type": anchor_dtype}
    if const_anchors:
        anchors["data"] = values.astype(anchor_dtype) if anchor_shape is None else np.zeros(anchor_shape, anchor_dtype)
    tensors = [{"shape": [batch, n, stride], "type": dtype, **q}, {"shape": [batch, n, classes + background], "type": dtype, **q},
               anchors, {"shape": [1, rows, 4], "type": out_dtype}, {"shape": [1, rows], "type": out_dtype},
               {"shape": [1, rows], "type": out_dtype}, {"shape": [1], "type": out_dtype}]
    inputs = [0, 1] if const_anchors else [0, 1, 2]
    return write_model(tensors, [(OP, [0, 1, 2], [3, 4, 5, 6], None, opts)], inputs, [3, 4, 5, 6])


def written_rows(count: float, k: int, regular: bool, max_det: int) -> list[int]:
    """The rows TFLite Micro writes: regular mode all max_detections; fast mode row
    i * k^2 + c * (k + 1) for class c of detection i (its row steps by k per class written)."""
    if regular:
        return list(range(max_det))
    return [i * k * k + c * (k + 1) for i in range(int(count) // k) for c in range(k)]


class Written:
    """A side whose unwritten output rows are zeroed."""

    def __init__(self, side, k: int, regular: bool, max_det: int):
        self.side, self.k, self.regular, self.max_det = side, k, regular, max_det

    def __getattr__(self, name):
        return getattr(self.side, name)

    def reset(self):
        self.side.reset()

    def run(self, *xs):
        boxes, classes, scores, count = [np.array(o) for o in self.side.run(*xs)]
        keep = np.zeros(classes.size, bool)
        keep[[r for r in written_rows(count.reshape(-1)[0], self.k, self.regular, self.max_det) if r < keep.size]] = True
        boxes.reshape(-1, 4)[~keep] = 0
        classes.reshape(-1)[~keep] = 0
        scores.reshape(-1)[~keep] = 0
        return [boxes, classes, scores, count]


def check(data: bytes, name: str, extra=(), n_random: int = 8, only_extra: bool = False) -> list:
    """Both tiers against TFLite Micro on random, edge and extra inputs (only_extra: on the
    extra ones only); returns TFLite Micro's outputs for the extra inputs."""
    from protobrain.verify.compare import compare

    graph = read_model_bytes(data)
    o = graph.operators[0].options
    classes = o["num_classes"]
    k = min(o.get("max_classes_per_detection", 0), classes)
    regular = bool(o.get("use_regular_nms", False))
    ref = Reference(data, arena_size=ARENA)
    assert ref.golden == "tflm"
    reference = RecordedReference(Written(ref, k, regular, o.get("max_detections", 0)))
    for tier in ("portable", "dsp"):
        compiled = Written(compile_bytes(data, name, tier=tier), k, regular, o.get("max_detections", 0))
        if only_extra:
            reference.reset()
            result = compare(compiled.run, reference, list(extra), name)
            assert result.ok and result.cases == len(extra), f"{tier}: {result.mismatches[:1]}"
        else:
            assert_bit_exact(compiled, reference, n_random=n_random, extra_inputs=extra)
    reference.reset()
    return [reference.run(*xs) for xs in extra]


def score_inputs(n: int, width: int, classes: int, seed: int = 1):
    """Box encodings and scores in [0, 1) (most boxes above a 0.3 threshold), and the same
    with ties: scores from four values only."""
    rng = np.random.default_rng(seed)
    boxes = rng.uniform(-1, 1, (1, n, width)).astype(np.float32)
    scores = rng.uniform(0, 1, (1, n, classes)).astype(np.float32)
    tied = rng.choice(np.float32([0.2, 0.5, 0.5, 0.9]), (1, n, classes)).astype(np.float32)
    return [(boxes, scores), (boxes, tied)]


FAST = [  # (n, classes, background, max_detections, max_classes_per_detection)
    (6, 3, 1, 4, 1),
    (6, 3, 0, 4, 1),
    (5, 1, 1, 3, 1),
    (6, 3, 1, 2, 2),
    (4, 2, 1, 3, 5),  # more classes per detection than classes: all of them
    (8, 4, 1, 0, 1),  # no detections wanted
    (3, 2, 1, 9, 1),  # more detections wanted than anchors
]


@pytest.mark.parametrize("case", range(len(FAST)))
def test_fast_nms(case):
    n, classes, bg, max_det, per_det = FAST[case]
    data = det_model(n, classes, bg, options(num_classes=classes, max_detections=max_det,
                                             max_classes_per_detection=per_det))
    assert [op.name for op in read_model_bytes(data).operators] == [OP]
    outs = check(data, f"detf{case}", extra=score_inputs(n, 4, classes + bg))
    if max_det:
        assert outs[0][3][0] > 0  # something was detected


REGULAR = [  # (n, classes, background, max_detections, detections_per_class)
    (6, 3, 1, 4, 3),
    (6, 3, 0, 4, 1),
    (7, 2, 1, 10, 100),
    (5, 4, 1, 1, 2),
    (8, 3, 1, 0, 2),
]


@pytest.mark.parametrize("case", range(len(REGULAR)))
def test_regular_nms(case):
    n, classes, bg, max_det, per_class = REGULAR[case]
    data = det_model(n, classes, bg, options(num_classes=classes, max_detections=max_det,
                                             detections_per_class=per_class, use_regular_nms=True))
    check(data, f"detr{case}", extra=score_inputs(n, 4, classes + bg))


@pytest.mark.parametrize("regular", [False, True])
@pytest.mark.parametrize("thresholds", [(-10.0, 1.0), (0.3, 0.2), (0.9, 0.5), (2.0, 0.5), (0.0, 1e-6)])
def test_thresholds(regular, thresholds):
    score, iou = thresholds
    data = det_model(7, 2, 1, options(num_classes=2, nms_score_threshold=score, nms_iou_threshold=iou,
                                      use_regular_nms=regular, max_detections=5))
    check(data, f"dett{int(regular)}", extra=score_inputs(7, 4, 3), n_random=5)


@pytest.mark.parametrize("regular", [False, True])
def test_identical_boxes_at_iou_one(regular):
    """Duplicate anchors decode to identical boxes under equal encodings (the edge inputs):
    their overlap is exactly 1, which does not exceed a threshold of 1, so both stay."""
    anchors = anchors_for(6)
    anchors[3] = anchors[1]
    anchors[5] = anchors[1]
    data = det_model(6, 2, 1, options(num_classes=2, nms_iou_threshold=1.0, use_regular_nms=regular, max_detections=6,
                                      detections_per_class=6),
                     anchors=anchors)
    outs = check(data, f"deti{int(regular)}", extra=[(np.zeros((1, 6, 4), np.float32), np.ones((1, 6, 3), np.float32))],
                 n_random=2)
    assert outs[0][3][0] == 6


@pytest.mark.parametrize("regular", [False, True])
def test_wide_encodings_and_input_anchors(regular):
    """Box encodings with 6 values per anchor (the first 4 read), anchors as a model input."""
    opts = options(use_regular_nms=regular)
    data = det_model(6, 3, 1, opts, stride=6, const_anchors=False)
    # Only anchors of positive size: an empty decoded box fails TFLite Micro's invocation.
    extra = [(b, s, anchors_for(6, seed)) for seed in (3, 4) for b, s in score_inputs(6, 6, 4, seed)]
    check(data, f"detw{int(regular)}", extra=extra, only_extra=True)


def test_scales_and_default_options():
    """Unit scales; detections_per_class and use_regular_nms left out (100 and fast)."""
    opts = options(y_scale=1.0, x_scale=1.0, h_scale=1.0, w_scale=1.0, detections_per_class=None,
                   use_regular_nms=None)
    check(det_model(6, 3, 1, opts), "detd", extra=score_inputs(6, 4, 4))
    opts = options(detections_per_class=None, use_regular_nms=True, max_detections=8)
    check(det_model(6, 3, 1, opts), "detd2", extra=score_inputs(6, 4, 4))


@pytest.mark.parametrize("regular", [False, True])
def test_nan_scores(regular):
    """NaN scores never pass the threshold; in fast mode they also go through each anchor's
    class sort, which puts them where TFLite Micro's sort does."""
    boxes, scores = score_inputs(6, 4, 5)[0]
    scores = scores.copy()
    scores[0, ::2, 1] = np.nan
    scores[0, 1, :] = np.nan
    scores[0, 3, 3:] = np.nan
    opts = options(num_classes=4, max_classes_per_detection=3, use_regular_nms=regular)
    check(det_model(6, 4, 1, opts), f"detn{int(regular)}", extra=[(boxes, scores)], n_random=2)


@pytest.mark.parametrize("regular", [False, True])
def test_ssd_sized(regular):
    """Hundreds of anchors and ten classes plus background: the sorts' longer paths (merge
    passes, deep heaps)."""
    n, classes = 300, 10
    opts = options(num_classes=classes, max_detections=10, detections_per_class=20, use_regular_nms=regular,
                   nms_score_threshold=0.3, nms_iou_threshold=0.6)
    check(det_model(n, classes, 1, opts), f"dets{int(regular)}", extra=score_inputs(n, 4, classes + 1), n_random=3)


def test_invalid_box_gives_no_detections():
    """An anchor of zero height decodes to an empty box: TFLite Micro fails the invocation;
    the kernel writes no detections."""
    data = det_model(4, 2, 1, options(num_classes=2), const_anchors=False)
    compiled = compile_bytes(data, "detinv")
    anchors = anchors_for(4)
    anchors[2, 2] = 0.0
    boxes, scores = score_inputs(4, 4, 3)[0]
    out = compiled.run(boxes, scores, anchors)
    assert out[3][0] == 0 and not np.any(out[0]) and not np.any(out[2])
    with pytest.raises(RuntimeError):
        Reference(data, arena_size=ARENA).run(boxes, scores, anchors)


def test_scratch_layout_is_disjoint():
    lay = scratch_layout(10, 4, 2, 5, 3, regular=False)
    assert lay["top"] - lay["order"] == 4 * 4 and lay["bytes"] == lay["active"] + 10
    reg = scratch_layout(10, 4, 2, 5, 3, regular=True)
    assert reg["after_scores"] - reg["after_index"] == 4 * (5 + 3)


def refused(data: bytes, reason: str) -> None:
    with pytest.raises(UnsupportedError, match=reason):
        build_program(read_model_bytes(data, "m"))


def test_refusals():
    refused(det_model(dtype="int8"), "box encodings of type int8: TFLite Micro's kernel decodes float32 only")
    refused(det_model(dtype="uint8"), "of type uint8")
    refused(det_model(anchor_dtype="int8"), "anchors of type int8")
    refused(det_model(out_dtype="int32"), "boxes output of type int32")
    refused(det_model(batch=2), "batch 2")
    refused(det_model(anchor_shape=(6, 5)), r"anchors \(6, 5\), expects \(6, 4\)")
    refused(det_model(opts=options(num_classes=0)), "num_classes 0")
    refused(det_model(classes=3, background=2, opts=options(num_classes=3)), "5 scores per anchor for 3 classes")
    refused(det_model(opts=options(nms_iou_threshold=0.0)), r"nms_iou_threshold 0.0 outside \(0, 1\]")
    refused(det_model(opts=options(nms_iou_threshold=1.5)), "nms_iou_threshold 1.5")
    refused(det_model(opts=options(max_detections=-1), rows=4), "max_detections -1")
    refused(det_model(opts=options(use_regular_nms=True, detections_per_class=0)), "detections_per_class 0")
    refused(det_model(opts=options(max_classes_per_detection=0), rows=4), "max_classes_per_detection 0")
    refused(det_model(opts=options(max_detections=4), rows=3), "outputs of 3 rows; TFLite Micro writes up to 4")
    refused(det_model(opts=options(max_detections=4, max_classes_per_detection=2), rows=8),
            "writes up to 16 .max_detections 4, 2 classes per detection")
    refused(det_model(opts=options(y_scale="ten")), "option y_scale is str")
    refused(det_model(opts=options(nms_score_threshold=float("-inf"))), "option nms_score_threshold is -inf")
    no_iou = options()
    del no_iou["nms_iou_threshold"]  # read as 0
    refused(det_model(opts=no_iou), "nms_iou_threshold 0.0")
