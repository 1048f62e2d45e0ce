/* Fast int8 DEPTHWISE_CONV_2D, DSP tier (the Helium tier is pb_fast_mve.c).
 *
 * Weights (protobrain/ops/fast_dsp.py): per group of 4 channels, per tap, two words of
 * int16 pairs (w0,w2), (w1,w3).
 *
 * Inner loops never branch on data, so an inference takes the same time whatever its
 * input. */
#include "pb_fast_dw.h"

#if defined(PB_TIER_MVE)
#error "pb_fast_dw.c holds the DSP tier; a model generated for the MVE tier uses pb_fast_mve.c"
#endif

/* ---- DEPTHWISE_CONV_2D ----------------------------------------------------------------- */

/* Four channels per step: SXTB16 splits them into (c0,c2) and (c1,c3) int16 pairs, and
 * SMLABB/SMLATT multiply each lane by its weight. Every tap is read at base + offs[t]:
 * for pixels whose window lies inside the input, base is the window's first pixel and
 * offs one table for the whole layer; border pixels get their own table, where taps in
 * the padding point at the zero-point row p->pad, so every pixel starts from the bias with
 * the input offset folded in. A group's weights are contiguous, two words per tap. */

static PB_ALWAYS_INLINE const int8_t *pb_fast_dw_tap(const int8_t *base, intptr_t off)
{
    return (const int8_t *)((uintptr_t)base + (uintptr_t)off);
}

static PB_ALWAYS_INLINE void pb_fast_dw_group(const int8_t *base, const intptr_t *offs, int32_t n,
                                              const uint32_t *w, int32_t *acc)
{
    int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
    int32_t t;
    for (t = 0; t < n; ++t) {
        const uint32_t v = pb_load32(pb_fast_dw_tap(base, offs[t]));
        const uint32_t lo = pb_sxtb16(v), hi = pb_sxtb16_hi(v);
        const uint32_t wa = w[2 * t], wb = w[2 * t + 1];
        a0 = pb_smlabb(lo, wa, a0);
        a2 = pb_smlatt(lo, wa, a2);
        a1 = pb_smlabb(hi, wb, a1);
        a3 = pb_smlatt(hi, wb, a3);
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}

#if defined(PB_SIMD_DSP)

/* One tap of a 3x3 window for four channels: 9 instructions for 4 MACs. */
#define PB_DW_TAP(index)                                   \
    "ldr    %[x], [%[offs], #" #index " * 4]\n\t"          \
    "ldr    %[x], [%[base], %[x]]\n\t"                     \
    "sxtb16 %[lo], %[x]\n\t"                               \
    "sxtb16 %[hi], %[x], ror #8\n\t"                       \
    "ldrd   %[wa], %[wb], [%[w]], #8\n\t"                  \
    "smlabb %[a0], %[lo], %[wa], %[a0]\n\t"                \
    "smlatt %[a2], %[lo], %[wa], %[a2]\n\t"                \
    "smlabb %[a1], %[hi], %[wb], %[a1]\n\t"                \
    "smlatt %[a3], %[hi], %[wb], %[a3]\n\t"

static PB_ALWAYS_INLINE void pb_fast_dw_group_3x3(const int8_t *base, const intptr_t *offs, const uint32_t *w,
                                                  int32_t *acc)
{
    int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
    uint32_t x, lo, hi, wa, wb;
    __asm__(PB_DW_TAP(0) PB_DW_TAP(1) PB_DW_TAP(2) PB_DW_TAP(3) PB_DW_TAP(4) PB_DW_TAP(5) PB_DW_TAP(6)
            PB_DW_TAP(7) PB_DW_TAP(8)
            : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [w] "+r"(w), [x] "=&r"(x),
              [lo] "=&r"(lo), [hi] "=&r"(hi), [wa] "=&r"(wa), [wb] "=&r"(wb)
            : [offs] "r"(offs), [base] "r"(base)
            : "memory");
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}

#else

static PB_ALWAYS_INLINE void pb_fast_dw_group_3x3(const int8_t *base, const intptr_t *offs, const uint32_t *w,
                                                  int32_t *acc)
{
    pb_fast_dw_group(base, offs, 9, w, acc);
}

#endif /* PB_SIMD_DSP */

/* One output pixel: per group of 4 channels, the taps, then the 4 outputs requantized
 * from the registers (FAST mode: doubled weights and bias, as for wide mm weights). */
static PB_ALWAYS_INLINE void pb_fast_dw_pixel(const pb_fast_dw_params_t *p, const int8_t *base, const intptr_t *offs,
                                              int32_t n, int8_t *out, pb_fast_out_t o, int three_by_three, int mode,
                                              int full_range)
{
    const uint32_t *w = (const uint32_t *)p->weights;
    const int32_t *q = p->quant;
    const int8_t *end = base + p->channels;
    const int doubled = mode == PB_REQUANT_FAST;
    for (; base != end; base += 4, out += 4, w += 2 * n, q += 4 * PB_QUANT_WORDS) {
        int32_t acc[4];
        acc[0] = q[0];
        acc[1] = q[PB_QUANT_WORDS];
        acc[2] = q[2 * PB_QUANT_WORDS];
        acc[3] = q[3 * PB_QUANT_WORDS];
        if (three_by_three) {
            pb_fast_dw_group_3x3(base, offs, w, acc);
        } else {
            pb_fast_dw_group(base, offs, n, w, acc);
        }
        out[0] = pb_fast_out(acc[0], pb_fast_q(q), o, mode, doubled, full_range);
        out[1] = pb_fast_out(acc[1], pb_fast_q(q + PB_QUANT_WORDS), o, mode, doubled, full_range);
        out[2] = pb_fast_out(acc[2], pb_fast_q(q + 2 * PB_QUANT_WORDS), o, mode, doubled, full_range);
        out[3] = pb_fast_out(acc[3], pb_fast_q(q + 3 * PB_QUANT_WORDS), o, mode, doubled, full_range);
    }
}

static PB_ALWAYS_INLINE void pb_fast_dw_pixels(const pb_fast_dw_params_t *p, const int8_t *input, int8_t *output,
                                               int three_by_three, int mode, int full_range)
{
    const int32_t C = p->channels, n = p->filter_h * p->filter_w;
    const int32_t span_h = (p->filter_h - 1) * p->dilation_h, span_w = (p->filter_w - 1) * p->dilation_w;
    intptr_t inner[PB_FAST_DW_MAX_TAPS], edge[PB_FAST_DW_MAX_TAPS];
    pb_fast_out_t o;
    int32_t b, oy, ox, ky, kx, t;
    o.output_offset = p->output_offset;
    o.act_min = p->act_min;
    o.act_max = p->act_max;
    for (ky = 0, t = 0; ky < p->filter_h; ++ky) {
        for (kx = 0; kx < p->filter_w; ++kx, ++t) {
            inner[t] = (intptr_t)(ky * p->dilation_h * p->in_w + kx * p->dilation_w) * C;
        }
    }
    for (b = 0; b < p->batches; ++b) {
        const int8_t *in_b = input + b * p->in_h * p->in_w * C;
        for (oy = 0; oy < p->out_h; ++oy) {
            const int32_t iy0 = oy * p->stride_h - p->pad_top;
            const int rows_inside = iy0 >= 0 && iy0 + span_h < p->in_h;
            for (ox = 0; ox < p->out_w; ++ox, output += C) {
                const int32_t ix0 = ox * p->stride_w - p->pad_left;
                if (rows_inside && ix0 >= 0 && ix0 + span_w < p->in_w) {
                    pb_fast_dw_pixel(p, in_b + (iy0 * p->in_w + ix0) * C, inner, n, output, o, three_by_three,
                                     mode, full_range);
                    continue;
                }
                for (ky = 0, t = 0; ky < p->filter_h; ++ky) {
                    const int32_t iy = iy0 + ky * p->dilation_h;
                    for (kx = 0; kx < p->filter_w; ++kx, ++t) {
                        const int32_t ix = ix0 + kx * p->dilation_w;
                        edge[t] = iy >= 0 && iy < p->in_h && ix >= 0 && ix < p->in_w
                                      ? (intptr_t)(iy * p->in_w + ix) * C
                                      : (intptr_t)((uintptr_t)p->pad - (uintptr_t)in_b);
                    }
                }
                pb_fast_dw_pixel(p, in_b, edge, n, output, o, three_by_three, mode, full_range);
            }
        }
    }
}

/* One instance per window form and requantization form, the layer's constants folded in. */
#define PB_FAST_DW_VARIANT(name, three_by_three, mode, full_range)                       \
    static void name(const pb_fast_dw_params_t *p, const int8_t *input, int8_t *output) \
    {                                                                                    \
        pb_fast_dw_pixels(p, input, output, three_by_three, mode, full_range);           \
    }

PB_FAST_DW_VARIANT(pb_fast_dw_3x3_fast_full, 1, PB_REQUANT_FAST, 1)
PB_FAST_DW_VARIANT(pb_fast_dw_3x3_fast_clamped, 1, PB_REQUANT_FAST, 0)
PB_FAST_DW_VARIANT(pb_fast_dw_3x3_exact, 1, PB_REQUANT_EXACT, 0)
PB_FAST_DW_VARIANT(pb_fast_dw_any_fast_full, 0, PB_REQUANT_FAST, 1)
PB_FAST_DW_VARIANT(pb_fast_dw_any_fast_clamped, 0, PB_REQUANT_FAST, 0)
PB_FAST_DW_VARIANT(pb_fast_dw_any_exact, 0, PB_REQUANT_EXACT, 0)

void pb_fast_dw_s8(const pb_fast_dw_params_t *p, const int8_t *input, int8_t *output)
{
    const int full_range = p->act_min == -128 && p->act_max == 127;
    const int fast = p->requant == PB_REQUANT_FAST;
    if (p->filter_h * p->filter_w == 9) {
        if (!fast) {
            pb_fast_dw_3x3_exact(p, input, output);
        } else if (full_range) {
            pb_fast_dw_3x3_fast_full(p, input, output);
        } else {
            pb_fast_dw_3x3_fast_clamped(p, input, output);
        }
    } else if (!fast) {
        pb_fast_dw_any_exact(p, input, output);
    } else if (full_range) {
        pb_fast_dw_any_fast_full(p, input, output);
    } else {
        pb_fast_dw_any_fast_clamped(p, input, output);
    }
}
