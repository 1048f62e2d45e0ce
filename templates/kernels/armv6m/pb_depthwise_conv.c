/* Fast int8 DEPTHWISE_CONV_2D, ARMv6-M tier. Per channel: its input plane copied into the
 * scratch as unsigned bytes u = x + 128 inside a border of the zero point + 128 (what the
 * padding reads), its weights widened to words, then every output of the plane from
 * there. With signed weights and unsigned inputs, sum(w * u) = sum(w * x) + 128 * sum(w):
 * the generator folds the second term into bias'' (protobrain/compiler/ops/tiers/armv6m.py).
 * A 3x3, stride-1 window takes two outputs per pass (pb_v6m_dw3x3_pair), along the
 * longer side of the output. */
#include <string.h>

#include "pb_depthwise_conv.h"

/* Channel c of one batch's input into the plane, as unsigned bytes, in its border; with
 * transposed, column by column (the plane's rows are then the input's columns). */
static void pb_v6m_plane(const pb_v6m_dw_params_t *p, const int8_t *in, uint8_t *plane, int transposed)
{
    const int32_t stride = p->channels;
    const int32_t len = transposed ? p->plane_h : p->plane_w;   /* one plane row */
    const int32_t step_x = transposed ? len : 1, step_y = transposed ? 1 : len;
    int32_t y, x;
    memset(plane, (int)p->pad_u, (size_t)(p->plane_h * p->plane_w));
    plane += p->pad_top * step_y + p->pad_left * step_x;
    for (y = 0; y < p->in_h; ++y, plane += step_y) {
        uint8_t *dst = plane;
        for (x = 0; x < p->in_w; ++x, in += stride, dst += step_x) {
            *dst = (uint8_t)(*in ^ 0x80);
        }
    }
}

/* Channels c..c+3 into four planes, ps bytes apart, from one word per pixel (channels a
 * multiple of 4, so every pixel's group is word-aligned in an aligned tensor). */
static void pb_v6m_planes4(const pb_v6m_dw_params_t *p, const int8_t *in, uint8_t *plane, int transposed)
{
    const int32_t ps = p->plane_h * p->plane_w, stride = p->channels;
    const int32_t len = transposed ? p->plane_h : p->plane_w;
    const int32_t step_x = transposed ? len : 1, step_y = transposed ? 1 : len;
    int32_t y, x;
    memset(plane, (int)p->pad_u, (size_t)(4 * ps));
    plane += p->pad_top * step_y + p->pad_left * step_x;
    for (y = 0; y < p->in_h; ++y, plane += step_y) {
        uint8_t *dst = plane;
        for (x = 0; x < p->in_w; ++x, in += stride, dst += step_x) {
            const uint32_t v = *(const uint32_t *)(const void *)in ^ 0x80808080u;
            dst[0] = (uint8_t)v;
            dst[ps] = (uint8_t)(v >> 8);
            dst[2 * ps] = (uint8_t)(v >> 16);
            dst[3 * ps] = (uint8_t)(v >> 24);
        }
    }
}

/* A 3x3, stride-1 (along the plane's rows), dilation-1 window: two outputs per pass along
 * each plane row; an odd count ends with a pass over the last two, storing the last.
 * lines, along: the output's lines and their length in plane order; the pointers step by
 * line_step, out_step bytes of output. */
static PB_ALWAYS_INLINE void pb_v6m_dw_pairs(const pb_v6m_dw_params_t *p, const uint8_t *plane, int32_t len,
                                             int32_t line_stride, int32_t lines, int32_t along,
                                             const int32_t *w, const int32_t *q, int8_t *out,
                                             int32_t line_out, int32_t out_step, int mode)
{
    const pb_v6m_out_t o = {p->output_offset, p->act_min, p->act_max};
    int32_t i, j;
    for (i = 0; i < lines; ++i, plane += line_stride * len, out += line_out) {
        const uint8_t *r = plane;
        int8_t *dst = out;
        int32_t a0, a1;
        for (j = 0; j + 1 < along; j += 2, r += 2, dst += 2 * out_step) {
            pb_v6m_dw3x3_pair(r, len, w, q[0], &a0, &a1);
            dst[0] = pb_v6m_out(a0, q, o, mode);
            dst[out_step] = pb_v6m_out(a1, q, o, mode);
        }
        if (j < along && along > 1) {
            pb_v6m_dw3x3_pair(r - 1, len, w, q[0], &a0, &a1);
            dst[0] = pb_v6m_out(a1, q, o, mode);
        } else if (j < along) { /* one output per line: its pair's second reads a byte past it */
            pb_v6m_dw3x3_pair(r, len, w, q[0], &a0, &a1);
            dst[0] = pb_v6m_out(a0, q, o, mode);
        }
    }
}

/* Any other window, one output at a time, the taps at off[] in the plane. */
static PB_ALWAYS_INLINE void pb_v6m_dw_generic(const pb_v6m_dw_params_t *p, const uint8_t *plane,
                                               const int32_t *w, const int32_t *off, const int32_t *q,
                                               int8_t *out, int mode)
{
    const pb_v6m_out_t o = {p->output_offset, p->act_min, p->act_max};
    const int32_t taps = p->filter_h * p->filter_w, pw = p->plane_w, c = p->channels;
    int32_t oy, ox, t;
    for (oy = 0; oy < p->out_h; ++oy) {
        const uint8_t *row = plane + oy * p->stride_h * pw;
        for (ox = 0; ox < p->out_w; ++ox, row += p->stride_w, out += c) {
            uint32_t acc = (uint32_t)q[0];
            for (t = 0; t < taps; ++t) {
                acc += (uint32_t)w[t] * row[off[t]];
            }
            *out = pb_v6m_out((int32_t)acc, q, o, mode);
        }
    }
}

static PB_ALWAYS_INLINE void pb_v6m_dw_plane(const pb_v6m_dw_params_t *p, const uint8_t *plane, const int32_t *w,
                                             const int32_t *off, const int32_t *q, int8_t *out, int form, int mode)
{
    const int32_t c = p->channels, row_out = p->out_w * c;
    if (form == 1) { /* pairs along the input's rows */
        pb_v6m_dw_pairs(p, plane, p->plane_w, p->stride_h, p->out_h, p->out_w, w, q, out, row_out, c, mode);
    } else if (form == 2) { /* pairs down the input's columns (the plane transposed) */
        pb_v6m_dw_pairs(p, plane, p->plane_h, p->stride_w, p->out_w, p->out_h, w, q, out, c, row_out, mode);
    } else {
        pb_v6m_dw_generic(p, plane, w, off, q, out, mode);
    }
}

void pb_v6m_dw_s8(const pb_v6m_dw_params_t *p, const int8_t *input, int8_t *output, void *scratch)
{
    int32_t w[PB_V6M_DW_MAX_TAPS], off[PB_V6M_DW_MAX_TAPS];
    const int32_t taps = p->filter_h * p->filter_w, c = p->channels;
    const int32_t in_size = p->in_h * p->in_w * c, out_size = p->out_h * p->out_w * c;
    const int small = p->filter_h == 3 && p->filter_w == 3 && p->dilation_h == 1 && p->dilation_w == 1;
    const int rows = small && p->stride_w == 1, cols = small && p->stride_h == 1;
    /* form 1: pairs along rows; 2: down columns, when the columns are longer (fewer odd ends) */
    const int form = cols && (!rows || p->out_h > p->out_w) ? 2 : rows ? 1 : 0;
    const int32_t ps = p->plane_h * p->plane_w;
    /* four planes at once from whole words where the channels allow */
    const int four = (c & 3) == 0 && ((uintptr_t)input & 3) == 0;
    uint8_t *plane = (uint8_t *)scratch;
    int32_t b, ch, t;
    for (t = 0; t < taps; ++t) {
        off[t] = (t / p->filter_w) * p->dilation_h * p->plane_w + (t % p->filter_w) * p->dilation_w;
    }
    for (b = 0; b < p->batches; ++b, input += in_size, output += out_size) {
        const int8_t *wc = (const int8_t *)p->weights;
        const uint8_t *pl = plane;
        for (ch = 0; ch < c; ++ch, wc += p->taps_pad, pl += ps) {
            const int32_t *q = p->quant + ch * PB_V6M_QUANT_WORDS;
            if (form == 2) { /* the plane's rows are columns: the 3x3 taps column by column */
                w[0] = wc[0], w[1] = wc[3], w[2] = wc[6];
                w[3] = wc[1], w[4] = wc[4], w[5] = wc[7];
                w[6] = wc[2], w[7] = wc[5], w[8] = wc[8];
            } else {
                for (t = 0; t < taps; ++t) {
                    w[t] = wc[t];
                }
            }
            if (!four) {
                pb_v6m_plane(p, input + ch, plane, form == 2);
                pl = plane;
            } else if ((ch & 3) == 0) {
                pb_v6m_planes4(p, input + ch, plane, form == 2);
                pl = plane;
            }
            if (p->requant == PB_V6M_REQUANT_FAST) {
                pb_v6m_dw_plane(p, pl, w, off, q, output + ch, form, PB_V6M_REQUANT_FAST);
            } else {
                pb_v6m_dw_plane(p, pl, w, off, q, output + ch, form, PB_V6M_REQUANT_EXACT);
            }
        }
    }
}
