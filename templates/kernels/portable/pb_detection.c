/* TFLite_Detection_PostProcess (see pb_detection.h), computed as TFLite Micro does. */
#include <math.h>
#include <string.h>

#include "pb_detection.h"

#define PB_DET_AT(type, base, offset) ((type *)(void *)((uint8_t *)(base) + (offset)))

/* The kernel's working arrays, in the call's scratch. */
typedef struct {
    float *decoded, *class_scores, *keep_scores, *after_scores, *sorted_values;
    int32_t *keep_indices, *sorted, *selected, *order, *top, *after_index;
    uint8_t *active;
} pb_det_work_t;

/* std::max / std::min on floats: the first operand unless the comparison says otherwise. */
static float pb_det_max(float a, float b) { return a < b ? b : a; }
static float pb_det_min(float a, float b) { return b < a ? b : a; }

/* Anchor i's box from its encoding: centre and half sizes in double precision. */
static void pb_det_decode(const pb_detection_params_t *p, const float *boxes, const float *anchors, float *decoded)
{
    int32_t i;
    for (i = 0; i < p->num_boxes; ++i) {
        const float *e = boxes + (ptrdiff_t)i * p->box_stride;
        const float *a = anchors + 4 * (ptrdiff_t)i;
        float *d = decoded + 4 * (ptrdiff_t)i;
        const float yc = (float)((double)e[0] / (double)p->y_scale * (double)a[2] + (double)a[0]);
        const float xc = (float)((double)e[1] / (double)p->x_scale * (double)a[3] + (double)a[1]);
        const float half_h = (float)(0.5 * exp((double)e[2] / (double)p->h_scale) * (double)a[2]);
        const float half_w = (float)(0.5 * exp((double)e[3] / (double)p->w_scale) * (double)a[3]);
        d[0] = yc - half_h;
        d[1] = xc - half_w;
        d[2] = yc + half_h;
        d[3] = xc + half_w;
    }
}

static int pb_det_valid(const pb_detection_params_t *p, const float *decoded)
{
    int32_t i;
    for (i = 0; i < p->num_boxes; ++i) {
        const float *d = decoded + 4 * (ptrdiff_t)i;
        if (d[0] >= d[2] || d[1] >= d[3]) {
            return 0;
        }
    }
    return 1;
}

static float pb_det_iou(const float *decoded, int32_t i, int32_t j)
{
    const float *a = decoded + 4 * (ptrdiff_t)i, *b = decoded + 4 * (ptrdiff_t)j;
    const float area_a = (a[2] - a[0]) * (a[3] - a[1]);
    const float area_b = (b[2] - b[0]) * (b[3] - b[1]);
    float inter;
    if (area_a <= 0 || area_b <= 0) {
        return 0.0f;
    }
    inter = pb_det_max(pb_det_min(a[2], b[2]) - pb_det_max(a[0], b[0]), 0.0f) *
            pb_det_max(pb_det_min(a[3], b[3]) - pb_det_max(a[1], b[1]), 0.0f);
    return inter / (area_a + area_b - inter);
}

/* ---- the partial sort: greater value first, then lower index (a binary heap selection and
 * heap sort, stepping through the same moves as the reference host's C++ library, so that
 * even NaN scores end in the same places). */

static int pb_det_before(const float *v, int32_t i, int32_t j)
{
    return v[j] < v[i] || (!(v[i] < v[j]) && i < j);
}

static void pb_det_sift_up(int32_t *h, int32_t hole, int32_t top, int32_t value, const float *v)
{
    int32_t parent = (hole - 1) / 2;
    while (hole > top && pb_det_before(v, h[parent], value)) {
        h[hole] = h[parent];
        hole = parent;
        parent = (hole - 1) / 2;
    }
    h[hole] = value;
}

/* Fill the hole at `hole` of a heap of len entries by moving down the larger children, then
 * place `value` from where the hole ended. */
static void pb_det_sift(int32_t *h, int32_t hole, int32_t len, int32_t value, const float *v)
{
    const int32_t top = hole;
    int32_t child = hole;
    while (child < (len - 1) / 2) {
        child = 2 * (child + 1);
        if (pb_det_before(v, h[child], h[child - 1])) {
            child--;
        }
        h[hole] = h[child];
        hole = child;
    }
    if ((len & 1) == 0 && child == (len - 2) / 2) {
        child = 2 * (child + 1);
        h[hole] = h[child - 1];
        hole = child - 1;
    }
    pb_det_sift_up(h, hole, top, value, v);
}

/* Move h[0] to *slot and sift *slot's old entry into the heap of len entries. */
static void pb_det_pop(int32_t *h, int32_t len, int32_t *slot, const float *v)
{
    const int32_t value = *slot;
    *slot = h[0];
    pb_det_sift(h, 0, len, value, v);
}

/* idx[0..n) = 0..n-1 with its first k entries the k first indices in order. */
static void pb_det_partial_argsort(const float *v, int32_t n, int32_t k, int32_t *idx)
{
    int32_t i, parent;
    for (i = 0; i < n; ++i) {
        idx[i] = i;
    }
    if (k >= 2) {
        for (parent = (k - 2) / 2;; --parent) {
            pb_det_sift(idx, parent, k, idx[parent], v);
            if (parent == 0) {
                break;
            }
        }
    }
    for (i = k; i < n; ++i) {
        if (pb_det_before(v, idx[i], idx[0])) {
            pb_det_pop(idx, k, &idx[i], v);
        }
    }
    for (i = k; i > 1;) {
        --i;
        pb_det_pop(idx, i, &idx[i], v);
    }
}

/* idx[0..n) = 0..n-1 sorted by decreasing v, equal values keeping their order (a merge
 * sort through tmp). */
static void pb_det_stable_argsort(const float *v, int32_t n, int32_t *idx, int32_t *tmp)
{
    int32_t width, lo, i;
    for (i = 0; i < n; ++i) {
        idx[i] = i;
    }
    for (width = 1; width < n; width *= 2) {
        for (lo = 0; lo < n; lo += 2 * width) {
            const int32_t mid = PB_MIN(lo + width, n), hi = PB_MIN(lo + 2 * width, n);
            int32_t l = lo, r = mid, o = lo;
            while (o < hi) {
                if (l >= mid || (r < hi && v[idx[r]] > v[idx[l]])) {
                    tmp[o++] = idx[r++];
                } else {
                    tmp[o++] = idx[l++];
                }
            }
        }
        memcpy(idx, tmp, (size_t)n * sizeof(int32_t));
    }
}

/* Non-max suppression over one score per box: up to `limit` box indices into selected,
 * best first; returns how many. */
static int32_t pb_det_nms(const pb_detection_params_t *p, const pb_det_work_t *w, const float *values, int32_t limit)
{
    int32_t kept = 0, i, j, count = 0, active;
    for (i = 0; i < p->num_boxes; ++i) {
        if (values[i] >= p->score_threshold) {
            w->keep_scores[kept] = values[i];
            w->keep_indices[kept] = i;
            kept++;
        }
    }
    pb_det_stable_argsort(w->keep_scores, kept, w->sorted, w->keep_indices);
    for (i = 0, j = 0; i < p->num_boxes; ++i) { /* the sort used keep_indices as scratch */
        if (values[i] >= p->score_threshold) {
            w->keep_indices[j++] = i;
        }
    }
    limit = PB_MIN(kept, limit);
    active = kept;
    memset(w->active, 1, (size_t)kept);
    for (i = 0; i < kept; ++i) {
        int32_t box;
        if (active == 0 || count >= limit) {
            break;
        }
        if (!w->active[i]) {
            continue;
        }
        box = w->keep_indices[w->sorted[i]];
        w->selected[count++] = box;
        w->active[i] = 0;
        active--;
        for (j = i + 1; j < kept; ++j) {
            if (w->active[j] && pb_det_iou(w->decoded, box, w->keep_indices[w->sorted[j]]) > p->iou_threshold) {
                w->active[j] = 0;
                active--;
            }
        }
    }
    return count;
}

static void pb_det_write(float *out_boxes, int32_t row, const float *box)
{
    memcpy(out_boxes + 4 * (ptrdiff_t)row, box, 4 * sizeof(float));
}

static float pb_det_fast(const pb_detection_params_t *p, const pb_det_work_t *w, const float *scores,
                         float *out_boxes, float *out_classes, float *out_scores)
{
    const int32_t k = p->categories;
    int32_t row, i, c, n_out = 0, selected;
    for (row = 0; row < p->num_boxes; ++row) {
        const float *s = scores + (ptrdiff_t)row * p->class_stride + p->label_offset;
        pb_det_partial_argsort(s, p->num_classes, k, w->order);
        memcpy(w->top + (ptrdiff_t)row * k, w->order, (size_t)k * sizeof(int32_t));
        w->class_scores[row] = s[w->order[0]];
    }
    selected = pb_det_nms(p, w, w->class_scores, p->max_detections);
    for (i = 0; i < selected; ++i) {
        const int32_t box = w->selected[i];
        const float *s = scores + (ptrdiff_t)box * p->class_stride + p->label_offset;
        for (c = 0; c < k; ++c) {
            /* The row advances by k for each class written, as in TFLite Micro. */
            const int32_t at = k * n_out + c, cls = w->top[(ptrdiff_t)box * k + c];
            pb_det_write(out_boxes, at, w->decoded + 4 * (ptrdiff_t)box);
            out_classes[at] = (float)cls;
            out_scores[at] = s[cls];
            n_out++;
        }
    }
    return (float)n_out;
}

static float pb_det_regular(const pb_detection_params_t *p, const pb_det_work_t *w, const float *scores,
                            float *out_boxes, float *out_classes, float *out_scores)
{
    int32_t col, row, i, n_sorted = 0;
    for (col = 0; col < p->num_classes; ++col) {
        int32_t selected, n, n_sort;
        for (row = 0; row < p->num_boxes; ++row) {
            w->class_scores[row] = scores[(ptrdiff_t)row * p->class_stride + col + p->label_offset];
        }
        selected = pb_det_nms(p, w, w->class_scores, p->detections_per_class);
        n = n_sorted;
        for (i = 0; i < selected; ++i, ++n) {
            w->after_index[n] = w->selected[i] * p->class_stride + col + p->label_offset;
            w->after_scores[n] = w->class_scores[w->selected[i]];
        }
        n_sort = PB_MIN(n, p->max_detections);
        pb_det_partial_argsort(w->after_scores, n, n_sort, w->sorted);
        for (i = 0; i < n_sort; ++i) {
            const int32_t from = w->sorted[i];
            w->sorted[i] = w->after_index[from];
            w->sorted_values[i] = w->after_scores[from];
        }
        for (i = 0; i < n_sort; ++i) {
            w->after_index[i] = w->sorted[i];
            w->after_scores[i] = w->sorted_values[i];
        }
        n_sorted = n_sort;
    }
    for (i = 0; i < n_sorted; ++i) {
        const int32_t anchor = w->after_index[i] / p->class_stride;
        pb_det_write(out_boxes, i, w->decoded + 4 * (ptrdiff_t)anchor);
        out_classes[i] = (float)(w->after_index[i] - anchor * p->class_stride - p->label_offset);
        out_scores[i] = w->after_scores[i];
    }
    return (float)n_sorted;
}

void pb_detection_postprocess_anchors_f32(const pb_detection_params_t *p, const float *boxes, const float *scores,
                                          const float *anchors, float *out_boxes, float *out_classes,
                                          float *out_scores, float *out_count, void *scratch)
{
    pb_det_work_t w;
    w.decoded = PB_DET_AT(float, scratch, p->at_decoded);
    w.class_scores = PB_DET_AT(float, scratch, p->at_class_scores);
    w.keep_scores = PB_DET_AT(float, scratch, p->at_keep_scores);
    w.after_scores = PB_DET_AT(float, scratch, p->at_after_scores);
    w.sorted_values = PB_DET_AT(float, scratch, p->at_sorted_values);
    w.keep_indices = PB_DET_AT(int32_t, scratch, p->at_keep_indices);
    w.sorted = PB_DET_AT(int32_t, scratch, p->at_sorted);
    w.selected = PB_DET_AT(int32_t, scratch, p->at_selected);
    w.order = PB_DET_AT(int32_t, scratch, p->at_order);
    w.top = PB_DET_AT(int32_t, scratch, p->at_top);
    w.after_index = PB_DET_AT(int32_t, scratch, p->at_after_index);
    w.active = PB_DET_AT(uint8_t, scratch, p->at_active);
    memset(out_boxes, 0, (size_t)p->rows_boxes * 4 * sizeof(float));
    memset(out_classes, 0, (size_t)p->rows_classes * sizeof(float));
    memset(out_scores, 0, (size_t)p->rows_scores * sizeof(float));
    *out_count = 0.0f;
    pb_det_decode(p, boxes, anchors, w.decoded);
    if (!pb_det_valid(p, w.decoded)) {
        return; /* TFLite Micro fails the invocation: no detections */
    }
    *out_count = p->regular ? pb_det_regular(p, &w, scores, out_boxes, out_classes, out_scores)
                            : pb_det_fast(p, &w, scores, out_boxes, out_classes, out_scores);
}

void pb_detection_postprocess_f32(const pb_detection_params_t *p, const float *boxes, const float *scores,
                                  float *out_boxes, float *out_classes, float *out_scores, float *out_count,
                                  void *scratch)
{
    pb_detection_postprocess_anchors_f32(p, boxes, scores, p->anchors, out_boxes, out_classes, out_scores,
                                         out_count, scratch);
}
