/* Fast int8 TRANSPOSE_CONV (stride above 1), DSP tier: per output row, the pixels of each
 * phase two at a time, their windows widened to int16 pairs (SXTB16) in the matrix
 * multiply's interleaved order, multiplied by the phase's weights with SMLAD, two pixels
 * by two channels per step, and requantized from the registers as the matrix multiply does
 * (pb_requant.h).
 *
 * Scratch: the two widened rows, interleaved per block of 4 depth values (row 0's
 * (x0,x2), (x1,x3), then row 1's: four words); then, when in_c is not a multiple of 4, the
 * int8 im2col row they are widened from. */
#include "pb_transpose_conv.h"

#if defined(PB_TIER_MVE)
#error "this is the DSP tier's transposed convolution; a model generated for the MVE tier uses the Helium one"
#endif

/* A phase's window: its taps in one input row, from input column ix0. */
typedef struct {
    int32_t taps_h, taps_w, depth_pad;
    int32_t t0, t1; /* the window columns inside the input: [t0, t1) */
} pb_tconv_window_t;

static PB_ALWAYS_INLINE void pb_tconv_columns(const pb_fast_tconv_params_t *p, int32_t ix0, pb_tconv_window_t *win)
{
    win->t0 = ix0 < 0 ? -ix0 : 0;
    win->t1 = p->in_w - ix0 < win->taps_w ? p->in_w - ix0 : win->taps_w;
    if (win->t1 < win->t0) {
        win->t1 = win->t0;
    }
}

/* n int8 values (a multiple of 4) widened into the interleaved slots at dst. */
static PB_ALWAYS_INLINE uint32_t *pb_tconv_widen_run(const int8_t *src, int32_t n, uint32_t *dst)
{
    for (; n > 0; n -= 4, src += 4, dst += 4) {
        const uint32_t v = pb_load32(src);
        dst[0] = pb_sxtb16(v);
        dst[1] = pb_sxtb16_hi(v);
    }
    return dst;
}

static PB_ALWAYS_INLINE uint32_t *pb_tconv_widen_fill(uint32_t lo, uint32_t hi, int32_t n, uint32_t *dst)
{
    for (; n > 0; n -= 4, dst += 4) {
        dst[0] = lo;
        dst[1] = hi;
    }
    return dst;
}

/* in_c a multiple of 4: the window from (iy0, ix0) widened straight from the input into
 * slot r, taps outside the input the zero point, zeros up to depth_pad. */
static void pb_tconv_widen_window(const pb_fast_tconv_params_t *p, const int8_t *in_b, int32_t iy0, int32_t ix0,
                                  const pb_tconv_window_t *win, uint32_t *cols, int32_t r)
{
    const int32_t C = p->in_c;
    const uint32_t pad = 0x01010101u * (uint8_t)p->pad_value;
    const uint32_t pad_lo = pb_sxtb16(pad), pad_hi = pb_sxtb16_hi(pad);
    uint32_t *dst = cols + 2 * r;
    int32_t ty;
    for (ty = 0; ty < win->taps_h; ++ty) {
        const int32_t iy = iy0 + ty;
        if ((uint32_t)iy >= (uint32_t)p->in_h) {
            dst = pb_tconv_widen_fill(pad_lo, pad_hi, win->taps_w * C, dst);
            continue;
        }
        if (win->t1 == win->t0) { /* no column inside: all padding */
            dst = pb_tconv_widen_fill(pad_lo, pad_hi, win->taps_w * C, dst);
            continue;
        }
        dst = pb_tconv_widen_fill(pad_lo, pad_hi, win->t0 * C, dst);
        dst = pb_tconv_widen_run(in_b + (iy * p->in_w + ix0 + win->t0) * C, (win->t1 - win->t0) * C, dst);
        dst = pb_tconv_widen_fill(pad_lo, pad_hi, (win->taps_w - win->t1) * C, dst);
    }
    pb_tconv_widen_fill(0, 0, win->depth_pad - win->taps_h * win->taps_w * C, dst);
}

/* Any in_c: the window as an int8 im2col row, then widened into slot r. */
static void pb_tconv_gather_window(const pb_fast_tconv_params_t *p, const int8_t *in_b, int32_t iy0, int32_t ix0,
                                   const pb_tconv_window_t *win, int8_t *row, uint32_t *cols, int32_t r)
{
    const int32_t C = p->in_c;
    const int8_t pad = (int8_t)p->pad_value;
    int8_t *dst = row;
    int32_t ty, k, n;
    for (ty = 0; ty < win->taps_h; ++ty) {
        const int32_t iy = iy0 + ty;
        const int inside = (uint32_t)iy < (uint32_t)p->in_h && win->t1 > win->t0;
        const int32_t lead = inside ? win->t0 * C : win->taps_w * C;
        for (k = 0; k < lead; ++k) {
            *dst++ = pad;
        }
        if (inside) {
            const int8_t *src = in_b + (iy * p->in_w + ix0 + win->t0) * C;
            for (n = (win->t1 - win->t0) * C, k = 0; k < n; ++k) {
                *dst++ = src[k];
            }
            for (n = (win->taps_w - win->t1) * C, k = 0; k < n; ++k) {
                *dst++ = pad;
            }
        }
    }
    while (dst < row + win->depth_pad) {
        *dst++ = 0;
    }
    pb_tconv_widen_run(row, win->depth_pad, cols + 2 * r);
}

/* Two channels of the two rows, over the depth: SXTB16 widens the weights, SMLAD takes two
 * products at once. acc: row 0 channel 0, row 1 channel 0, row 0 channel 1, row 1 channel 1.
 * Not inlined: in its own function the loop keeps every operand in a register (21
 * instructions per 16 products on the Cortex-M4); inlined in the pixel loop it spills. */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static void pb_tconv_dot(const uint32_t *x, const uint32_t *x_end, const uint32_t *w,
                                          int32_t *acc)
{
    int32_t c00 = acc[0], c10 = acc[1], c01 = acc[2], c11 = acc[3];
    for (; x != x_end; x += 4, w += 2) {
        const uint32_t wa = w[0], wb = w[1];
        const uint32_t a0 = pb_sxtb16(wa), a1 = pb_sxtb16_hi(wa);
        const uint32_t b0 = pb_sxtb16(wb), b1 = pb_sxtb16_hi(wb);
        c00 = pb_smlad(x[1], a1, pb_smlad(x[0], a0, c00));
        c10 = pb_smlad(x[3], a1, pb_smlad(x[2], a0, c10));
        c01 = pb_smlad(x[1], b1, pb_smlad(x[0], b0, c01));
        c11 = pb_smlad(x[3], b1, pb_smlad(x[2], b0, c11));
    }
    acc[0] = c00;
    acc[1] = c10;
    acc[2] = c01;
    acc[3] = c11;
}

/* Every output channel of one pixel pair (out1 unused when !two). */
static PB_ALWAYS_INLINE void pb_tconv_channels(const pb_fast_tconv_params_t *p, const uint32_t *cols,
                                               int32_t depth_pad, const uint32_t *w, const int32_t *q, int8_t *out0,
                                               int8_t *out1, int two, pb_fast_out_t o, int mode, int full_range)
{
    const uint32_t *cols_end = cols + depth_pad;
    const int32_t pair_words = depth_pad >> 1;
    int32_t oc;
    for (oc = 0; oc < p->out_c; oc += 2, w += pair_words, q += 2 * PB_QUANT_WORDS) {
        pb_fast_q_t q0, q1;
        int32_t acc[4];
        acc[0] = acc[1] = q[0];
        acc[2] = acc[3] = q[PB_QUANT_WORDS];
        pb_tconv_dot(cols, cols_end, w, acc);
        q0 = pb_fast_q(q);
        q1 = pb_fast_q(q + PB_QUANT_WORDS);
        out0[oc] = pb_fast_out(acc[0], q0, o, mode, 0, full_range);
        if (two) {
            out1[oc] = pb_fast_out(acc[1], q0, o, mode, 0, full_range);
        }
        if (oc + 1 < p->out_c) {
            out0[oc + 1] = pb_fast_out(acc[2], q1, o, mode, 0, full_range);
            if (two) {
                out1[oc + 1] = pb_fast_out(acc[3], q1, o, mode, 0, full_range);
            }
        }
    }
}

static PB_ALWAYS_INLINE void pb_tconv_run(const pb_fast_tconv_params_t *p, const int8_t *input, int8_t *output,
                                          void *scratch, int mode, int full_range)
{
    uint32_t *cols = (uint32_t *)scratch;
    int8_t *row = (int8_t *)(cols + p->depth_pad);
    const int32_t sh = p->stride_h, sw = p->stride_w, C = p->out_c;
    const int32_t phase_quant = (C + (C & 1)) * PB_QUANT_WORDS;
    const int direct = (p->in_c & 3) == 0;
    pb_fast_out_t o;
    int32_t b, oy, rx, ox;
    o.output_offset = p->output_offset;
    o.act_min = p->act_min;
    o.act_max = p->act_max;
    for (b = 0; b < p->batches; ++b) {
        const int8_t *in_b = input + b * p->in_h * p->in_w * p->in_c;
        for (oy = 0; oy < p->out_h; ++oy) {
            const int32_t ty = oy + p->pad_top;
            int8_t *out_row = output + (b * p->out_h + oy) * p->out_w * C;
            for (rx = 0; rx < sw; ++rx) {
                const int32_t phase = (ty % sh) * sw + rx;
                const int32_t *ph = p->phases + phase * PB_TCONV_PHASE_WORDS;
                const uint32_t *w = (const uint32_t *)p->weights + ph[3];
                const int32_t *q = p->quant + phase * phase_quant;
                pb_tconv_window_t win;
                const int32_t iy0 = ty / sh - (ph[0] - 1);
                win.taps_h = ph[0];
                win.taps_w = ph[1];
                win.depth_pad = ph[2];
                /* the first output of this phase: (ox + pad_left) % sw == rx */
                for (ox = ((rx - p->pad_left) % sw + sw) % sw; ox < p->out_w; ox += 2 * sw) {
                    const int two = ox + sw < p->out_w;
                    const int32_t ix0 = (ox + p->pad_left) / sw - (win.taps_w - 1);
                    /* a pixel without a pair fills both slots (the second is not stored) */
                    pb_tconv_columns(p, ix0, &win);
                    if (direct) {
                        pb_tconv_widen_window(p, in_b, iy0, ix0, &win, cols, 0);
                    } else {
                        pb_tconv_gather_window(p, in_b, iy0, ix0, &win, row, cols, 0);
                    }
                    pb_tconv_columns(p, ix0 + two, &win);
                    if (direct) {
                        pb_tconv_widen_window(p, in_b, iy0, ix0 + two, &win, cols, 1);
                    } else {
                        pb_tconv_gather_window(p, in_b, iy0, ix0 + two, &win, row, cols, 1);
                    }
                    pb_tconv_channels(p, cols, win.depth_pad, w, q, out_row + ox * C, out_row + (ox + sw) * C, two,
                                      o, mode, full_range);
                }
            }
        }
    }
}

static void pb_tconv_exact(const pb_fast_tconv_params_t *p, const int8_t *input, int8_t *output, void *scratch)
{
    pb_tconv_run(p, input, output, scratch, PB_REQUANT_EXACT, 0);
}

static void pb_tconv_fast_full(const pb_fast_tconv_params_t *p, const int8_t *input, int8_t *output, void *scratch)
{
    pb_tconv_run(p, input, output, scratch, PB_REQUANT_FAST, 1);
}

static void pb_tconv_fast_clamped(const pb_fast_tconv_params_t *p, const int8_t *input, int8_t *output,
                                  void *scratch)
{
    pb_tconv_run(p, input, output, scratch, PB_REQUANT_FAST, 0);
}

void pb_fast_tconv_s8(const pb_fast_tconv_params_t *p, const int8_t *input, int8_t *output, void *scratch)
{
    if (p->requant != PB_REQUANT_FAST) {
        pb_tconv_exact(p, input, output, scratch);
    } else if (p->act_min == -128 && p->act_max == 127) {
        pb_tconv_fast_full(p, input, output, scratch);
    } else {
        pb_tconv_fast_clamped(p, input, output, scratch);
    }
}
