"""TFLite_Detection_PostProcess (TFLite Micro's custom operator): SSD box decoding and
non-max suppression. Inputs: box encodings [1, N, >= 4] and class scores [1, N, C (+1
background)], float32, and anchors [N, 4] (y, x, h, w; usually constant). Outputs, all
float32: boxes [1, rows, 4] (ymin, xmin, ymax, xmax), classes [1, rows], scores [1, rows]
and the number of detections [1].

As TFLite Micro computes it (pb_detection.c says how): boxes decoded in double precision
from the anchors and the y/x/h/w scales, then either
- fast NMS (use_regular_nms false): each anchor's `categories` best classes, one
  suppression over the anchors' best scores, up to max_detections anchors, each written
  with its `categories` classes (past one category TFLite Micro leaves gaps between the
  rows it writes, and this does the same);
- regular NMS: one suppression per class (at most detections_per_class boxes each), the
  max_detections best of all classes kept.
Scores below nms_score_threshold never count; a box overlapping a better one by more
than nms_iou_threshold (intersection over union) is dropped. Ties between equal scores
go as TFLite Micro's sorts take them (NaN scores too, on its host's C++ library).

Float math: the decoding calls exp in double precision, so on a target whose libm rounds
exp differently from the reference host's a box can move by one float step; the host build
is bit-exact with TFLite Micro (same libm). Rows TFLite Micro leaves unwritten (past the
detections in fast mode, past max_detections in larger outputs) are written as zeros here;
where a decoded box is empty (ymin >= ymax or xmin >= xmax) TFLite Micro fails the
invocation, and this writes no detections.

TFLite Micro decodes float32 only: int8 or uint8 inputs make its invocation fail, so they
are refused (a DEQUANTIZE before the operator gives it what it takes).
"""

from __future__ import annotations

import math

import numpy as np

from protobrain.compiler.ops.base import KernelCall, const, register, require, tensors

_DEFAULTS = {"detections_per_class": 100, "use_regular_nms": False}


def _option(op, key: str, kind: str):
    """One option as TFLite Micro's flexbuffer map lookup gives it: a missing key reads as
    0 (or the kernel's default), integers and floats converting as flexbuffers does."""
    value = op.options.get(key, _DEFAULTS.get(key, 0))
    require(isinstance(value, (bool, int, float)), f"option {key} is {type(value).__name__} {value!r}, not a number")
    if kind == "float":
        value = float(np.float32(value))
        require(math.isfinite(value), f"option {key} is {value}")
        return value
    require(abs(value) < 2**63, f"option {key} is {value}")  # NaN fails too
    if kind == "bool":
        return int(value) != 0
    return (int(value) + 2**31) % 2**32 - 2**31  # read as int64, kept as int32


def _read(op) -> dict:
    opts = {k: _option(op, k, "int") for k in ("max_detections", "max_classes_per_detection",
                                               "detections_per_class", "num_classes")}
    opts["use_regular_nms"] = _option(op, "use_regular_nms", "bool")
    for k in ("nms_score_threshold", "nms_iou_threshold", "y_scale", "x_scale", "h_scale", "w_scale"):
        opts[k] = _option(op, k, "float")
    return opts


def scratch_layout(n: int, classes: int, categories: int, max_det: int, per_class: int, regular: bool) -> dict:
    """Byte offsets of the kernel's scratch arrays (4-byte elements, the flags last) and
    their total, "bytes"."""
    after = max_det + min(n, per_class)  # regular NMS: the kept detections plus one class's
    sizes = {
        "decoded": 4 * n, "class_scores": n, "keep_scores": n, "keep_indices": n,
        "sorted": max(n, after) if regular else n,
        "selected": max(1, min(n, per_class if regular else max_det)),
        "order": 0 if regular else classes, "top": 0 if regular else n * categories,
        "after_index": after if regular else 0, "after_scores": after if regular else 0,
        "sorted_values": max_det if regular else 0,
    }
    offsets, at = {}, 0
    for name, count in sizes.items():
        offsets[name] = at
        at += 4 * count
    offsets["active"] = at
    offsets["bytes"] = at + n
    return offsets


def _float_input(t, what: str) -> None:
    require(t.dtype == "float32", f"{what} of type {t.dtype}: TFLite Micro's kernel decodes float32 only "
            "(its invocation fails on other types; dequantize before the operator)")


@register("CUSTOM:TFLite_Detection_PostProcess", inputs=(3, 3), outputs=(4, 4), types=("float32",))
def lower(op, g):
    (boxes, scores, anchors), outs = tensors(op, g)
    _float_input(boxes, "box encodings")
    _float_input(scores, "class scores")
    require(anchors.dtype == "float32", f"anchors of type {anchors.dtype}, expects float32")
    require(len(boxes.shape) == 3 and len(scores.shape) == 3 and len(anchors.shape) == 2,
            f"ranks {len(boxes.shape)}, {len(scores.shape)}, {len(anchors.shape)} (expects 3, 3, 2)")
    require(not boxes.is_const and not scores.is_const, "constant box encodings or scores")
    _, n, box_stride = boxes.shape
    require(boxes.shape[0] == 1 and scores.shape[0] == 1, f"batch {boxes.shape[0]} (TFLite Micro takes 1)")
    require(n >= 1 and box_stride >= 4, f"box encodings {tuple(boxes.shape)}: expects [1, N, >= 4]")
    require(scores.shape[1] == n, f"scores for {scores.shape[1]} anchors, box encodings for {n}")
    require(tuple(anchors.shape) == (n, 4), f"anchors {tuple(anchors.shape)}, expects ({n}, 4)")
    require(not anchors.is_const or bool(np.isfinite(anchors.data).all()), "anchors with non-finite values")
    # An anchor of no height or width decodes to an empty box whatever the encodings: TFLite
    # Micro's box check then fails every invocation.
    require(not anchors.is_const or bool((anchors.data[:, 2:] > 0).all()), "anchors of zero or negative size")
    # Nor one centred so far out, for its size, that float32 cannot tell its box's edges apart.
    with np.errstate(over="ignore"):
        near = not anchors.is_const or bool((np.abs(anchors.data[:, :2]) < anchors.data[:, 2:] * 2.0**20).all())
    require(near, "anchors centred over 2^20 of their sizes away (their boxes collapse to a point)")
    o = _read(op)
    classes, stride = o["num_classes"], scores.shape[2]
    require(classes >= 1, f"num_classes {classes}")
    require(stride - classes in (0, 1), f"{stride} scores per anchor for {classes} classes (expects them, "
            "or one more for the background)")
    iou = o["nms_iou_threshold"]
    require(0.0 < iou <= 1.0, f"nms_iou_threshold {iou} outside (0, 1]")
    max_det, regular = o["max_detections"], o["use_regular_nms"]
    require(max_det >= 0, f"max_detections {max_det}")
    per_class, categories = o["detections_per_class"], min(o["max_classes_per_detection"], classes)
    if regular:
        require(per_class > 0, f"detections_per_class {per_class}")
        rows = max_det
    else:
        require(o["max_classes_per_detection"] > 0, f"max_classes_per_detection {o['max_classes_per_detection']}")
        rows = min(max_det, n) * categories * categories  # TFLite Micro's row step is categories^2
    out_boxes, out_classes, out_scores, out_num = outs
    for t, what in ((out_boxes, "boxes"), (out_classes, "classes"), (out_scores, "scores"), (out_num, "count")):
        require(t.dtype == "float32", f"{what} output of type {t.dtype}: TFLite Micro writes float32")
    have = min(out_boxes.size // 4, out_classes.size, out_scores.size)
    require(have >= rows and out_num.size >= 1,
            f"outputs of {have} rows; TFLite Micro writes up to {rows} (max_detections {max_det}"
            + ("" if regular else f", {categories} classes per detection") + ")")
    layout = scratch_layout(n, classes, categories, max_det, per_class, regular)
    fields = {
        "num_boxes": n, "box_stride": box_stride, "num_classes": classes, "class_stride": stride,
        "label_offset": stride - classes, "max_detections": max_det, "categories": categories,
        "detections_per_class": per_class, "regular": int(regular),
        "rows_boxes": out_boxes.size // 4, "rows_classes": out_classes.size, "rows_scores": out_scores.size,
        "score_threshold": o["nms_score_threshold"], "iou_threshold": iou,
        "y_scale": o["y_scale"], "x_scale": o["x_scale"], "h_scale": o["h_scale"], "w_scale": o["w_scale"],
        "anchors": const("anchors", anchors.data, "float") if anchors.is_const else "NULL",
    }
    fields.update({f"at_{k}": v for k, v in layout.items() if k != "bytes"})
    inputs = [op.inputs[0], op.inputs[1]] + ([] if anchors.is_const else [op.inputs[2]])
    return KernelCall(
        kernel="pb_detection",
        function="pb_detection_postprocess_f32" if anchors.is_const else "pb_detection_postprocess_anchors_f32",
        struct="pb_detection_params_t",
        fields=fields,
        inputs=inputs,
        outputs=list(op.outputs),
        scratch_bytes=layout["bytes"],
    )
