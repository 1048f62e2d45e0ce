/* Fast int8 CONV_2D / FULLY_CONNECTED, ARMv6-M tier: im2col rows copied as unsigned bytes,
 * then two rows by two output channels per pass of pb_v6m_dot2x2 (pb_v6m.h).
 *
 * Layouts (protobrain/compiler/ops/tiers/armv6m.py):
 *   weights: output channels in pairs (an odd count padded with a zero channel); per pair,
 *     depth_pad taps of two bytes, v = w + 128 of the even channel then of the odd one;
 *     taps beyond the depth hold 0.
 *   scratch: two im2col rows of depth_pad bytes, u = x + 128 (padding taps: the zero point
 *     + 128), zeros beyond the depth.
 *   quant: bias'' = bias + (input_offset - 128) * sum(w), so that
 *     acc = bias'' + sum(v * u) - 128 * sum(u). */
#include <string.h>

#include "pb_conv.h"

/* n input bytes copied as u = x + 128; returns their sum. Words where both sides allow. */
static PB_ALWAYS_INLINE uint32_t pb_v6m_copy(uint8_t *dst, const int8_t *src, int32_t n)
{
    uint32_t sum = 0;
    if ((((uintptr_t)dst | (uintptr_t)src) & 3) == 0) {
        /* two 16-bit lanes of byte sums per word; each lane takes at most 2 * 255 per word,
         * so lanes are folded before they could carry (every 64 words) */
        while (n >= 4) {
            int32_t k = n >= 256 ? 64 : n >> 2;
            uint32_t lanes = 0;
            n -= 4 * k;
            for (; k > 0; --k, dst += 4, src += 4) {
                uint32_t v = *(const uint32_t *)(const void *)src ^ 0x80808080u;
                *(uint32_t *)(void *)dst = v;
                lanes += (v & 0x00FF00FFu) + ((v >> 8) & 0x00FF00FFu);
            }
            sum += (lanes & 0xFFFFu) + (lanes >> 16);
        }
    }
    for (; n > 0; --n) {
        const uint32_t u = (uint8_t)(*src++ ^ 0x80);
        *dst++ = (uint8_t)u;
        sum += u;
    }
    return sum;
}

static PB_ALWAYS_INLINE uint32_t pb_v6m_fill(uint8_t *dst, uint32_t u, int32_t n)
{
    memset(dst, (int)u, (size_t)n);
    return u * (uint32_t)n;
}

/* One output pixel's window: its batch's input and top-left input pixel (maybe padding). */
typedef struct {
    const int8_t *in_b;
    int32_t iy0, ix0, oy, ox;
} pb_v6m_window_t;

static void pb_v6m_window_next(const pb_v6m_mm_params_t *p, pb_v6m_window_t *win)
{
    win->ix0 += p->stride_w;
    if (++win->ox == p->out_w) {
        win->ox = 0;
        win->ix0 = -p->pad_left;
        win->iy0 += p->stride_h;
        if (++win->oy == p->out_h) {
            win->oy = 0;
            win->iy0 = -p->pad_top;
            win->in_b += p->in_h * p->in_w * p->in_c;
        }
    }
}

/* One im2col row as unsigned bytes, zeros up to depth_pad; returns 128 * sum(u). */
static uint32_t pb_v6m_im2col(const pb_v6m_mm_params_t *p, const pb_v6m_window_t *win, uint8_t *dst)
{
    const int32_t in_c = p->in_c;
    uint32_t sum = 0;
    int32_t ky, kx;
    memset(dst + p->depth, 0, (size_t)(p->depth_pad - p->depth));
    for (ky = 0; ky < p->filter_h; ++ky) {
        const int32_t iy = win->iy0 + ky * p->dilation_h;
        const int8_t *in_row = win->in_b + iy * p->in_w * in_c;
        if (iy < 0 || iy >= p->in_h) {
            sum += pb_v6m_fill(dst, (uint32_t)p->pad_u, p->filter_w * in_c);
            dst += p->filter_w * in_c;
            continue;
        }
        if (p->dilation_w == 1 && win->ix0 >= 0 && win->ix0 + p->filter_w <= p->in_w) {
            /* the filter row is one run of the input row */
            sum += pb_v6m_copy(dst, in_row + win->ix0 * in_c, p->filter_w * in_c);
            dst += p->filter_w * in_c;
            continue;
        }
        for (kx = 0; kx < p->filter_w; ++kx, dst += in_c) {
            const int32_t ix = win->ix0 + kx * p->dilation_w;
            if (ix >= 0 && ix < p->in_w) {
                sum += pb_v6m_copy(dst, in_row + ix * in_c, in_c);
            } else {
                sum += pb_v6m_fill(dst, (uint32_t)p->pad_u, in_c);
            }
        }
    }
    return sum << 7;
}

/* One channel pair (c0, c1) of both rows into the four accumulators. */
static PB_ALWAYS_INLINE void pb_v6m_mm_block(const uint8_t *x0, const uint8_t *x1, const uint8_t *w, int32_t dp,
                                             const int32_t *q, uint32_t s0, uint32_t s1, int32_t *acc)
{
    const int32_t *q1 = q + PB_V6M_QUANT_WORDS;
    uint32_t a00 = (uint32_t)q[0] - s0, a01 = (uint32_t)q1[0] - s0;
    uint32_t a10 = (uint32_t)q[0] - s1, a11 = (uint32_t)q1[0] - s1;
    pb_v6m_dot2x2(x0, x1, w, dp, &a00, &a01, &a10, &a11);
    acc[0] = (int32_t)a00;
    acc[1] = (int32_t)a01;
    acc[2] = (int32_t)a10;
    acc[3] = (int32_t)a11;
}

/* Both rows' outputs. out1 may be out0 (a last odd row: its copy computes the same
 * values). indexed (out_index is not NULL) and mode are constants at the FAST call sites:
 * a test of out_index per channel pair costs the inner loop its registers. */
static PB_ALWAYS_INLINE void pb_v6m_mm_rows(const pb_v6m_mm_params_t *p, const uint8_t *x0, const uint8_t *x1,
                                            uint32_t s0, uint32_t s1, int8_t *out0, int8_t *out1, int indexed,
                                            int mode)
{
    const pb_v6m_out_t o = {p->output_offset, p->act_min, p->act_max};
    const int32_t dp = p->depth_pad, out_c = p->out_c;
    const int32_t *index = p->out_index;
    const uint8_t *w = (const uint8_t *)p->weights;
    const int32_t *q = p->quant;
    int32_t c, acc[4];
    for (c = 0; c + 1 < out_c; c += 2, w += 2 * dp, q += 2 * PB_V6M_QUANT_WORDS) {
        const int32_t i0 = indexed ? index[c] : c, i1 = indexed ? index[c + 1] : c + 1;
        pb_v6m_mm_block(x0, x1, w, dp, q, s0, s1, acc);
        out0[i0] = pb_v6m_out(acc[0], q, o, mode);
        out0[i1] = pb_v6m_out(acc[1], q + PB_V6M_QUANT_WORDS, o, mode);
        out1[i0] = pb_v6m_out(acc[2], q, o, mode);
        out1[i1] = pb_v6m_out(acc[3], q + PB_V6M_QUANT_WORDS, o, mode);
    }
    if (c < out_c) { /* an odd channel count: the pair's second is zero padding */
        const int32_t i0 = indexed ? index[c] : c;
        pb_v6m_mm_block(x0, x1, w, dp, q, s0, s1, acc);
        out0[i0] = pb_v6m_out(acc[0], q, o, mode);
        out1[i0] = pb_v6m_out(acc[2], q, o, mode);
    }
}

/* The EXACT form out of line: inlined beside the FAST loops, its 64-bit arithmetic changes
 * how the compiler allocates their registers. */
static PB_V6M_NOINLINE void pb_v6m_mm_rows_exact(const pb_v6m_mm_params_t *p, const uint8_t *x0, const uint8_t *x1,
                                                  uint32_t s0, uint32_t s1, int8_t *out0, int8_t *out1)
{
    pb_v6m_mm_rows(p, x0, x1, s0, s1, out0, out1, p->out_index != NULL, PB_V6M_REQUANT_EXACT);
}

void pb_v6m_mm_s8(const pb_v6m_mm_params_t *p, const int8_t *input, int8_t *output, void *scratch)
{
    /* one row: its scratch holds it once and both rows of the pass read it */
    uint8_t *x0 = (uint8_t *)scratch, *x1 = p->rows > 1 ? x0 + p->depth_pad : x0;
    pb_v6m_window_t win = {input, -p->pad_top, -p->pad_left, 0, 0};
    int32_t r;
    for (r = 0; r < p->rows; r += 2) {
        int8_t *out0 = output + r * p->out_stride;
        int8_t *out1 = r + 1 < p->rows ? out0 + p->out_stride : out0;
        const uint32_t s0 = pb_v6m_im2col(p, &win, x0);
        uint32_t s1 = s0;
        pb_v6m_window_next(p, &win);
        if (out1 != out0) {
            s1 = pb_v6m_im2col(p, &win, x1);
            pb_v6m_window_next(p, &win);
        } else if (x1 != x0) {
            memcpy(x1, x0, (size_t)p->depth_pad); /* a last odd row: computed twice, stored once */
        }
        if (p->const_row) {
            memcpy(out0, p->const_row, (size_t)p->out_stride);
            memcpy(out1, p->const_row, (size_t)p->out_stride);
        }
        if (p->requant == PB_V6M_REQUANT_FAST && !p->out_index) {
            pb_v6m_mm_rows(p, x0, x1, s0, s1, out0, out1, 0, PB_V6M_REQUANT_FAST);
        } else if (p->requant == PB_V6M_REQUANT_FAST) {
            pb_v6m_mm_rows(p, x0, x1, s0, s1, out0, out1, 1, PB_V6M_REQUANT_FAST);
        } else {
            pb_v6m_mm_rows_exact(p, x0, x1, s0, s1, out0, out1);
        }
    }
}
