/* Fast int8 CONV_2D / FULLY_CONNECTED (one blocked matrix multiply) and DEPTHWISE_CONV_2D,
 * DSP tier (the Helium tier is pb_fast_mve.c).
 *
 * Data layouts (protobrain/ops/fast.py), for Cortex-M4/M7/M33 and, in plain C with the same
 * arithmetic, for any other target:
 *   mm weights: output channels in pairs, depth in blocks of 4: for pair b and block j,
 *     two words = 4 int8 of channel 2b, then 4 int8 of channel 2b+1.
 *   mm scratch: two im2col rows widened to int16 and interleaved per block of 4 values
 *     (x0,x2 | x1,x3 of row 0, then of row 1: SXTB16 order), then one int8 im2col row.
 *   dw weights: per group of 4 channels, per tap, two words of int16 pairs (w0,w2), (w1,w3).
 *
 * Inner loops never branch on data, so an inference takes the same time whatever its
 * input. */
#include "pb_fast.h"
#include "pb_fast_common.h"
#include "pb_simd.h"

#if defined(PB_TIER_MVE)
#error "pb_fast.c holds the DSP tier; a model generated for the MVE tier uses pb_fast_mve.c"
#endif

/* ---- DSP tier ------------------------------------------------------------------------ */

/* Widen one int8 im2col row into slot r (0 or 1) of the interleaved int16 scratch. */
static void pb_fast_widen(const int8_t *row, int32_t blocks, uint32_t *cols, int32_t r)
{
    uint32_t *dst = cols + 2 * r;
    int32_t j;
    for (j = 0; j < blocks; ++j, dst += 4) {
        const uint32_t v = pb_load32(row + 4 * j);
        dst[0] = pb_sxtb16(v);
        dst[1] = pb_sxtb16_hi(v);
    }
}

/* The inner loops over the depth, for two output channels and one or two rows. x: the
 * interleaved widened rows (four words per block of 4 depth values: row 0's pairs, then
 * row 1's), up to x_end, two blocks per turn. Weights per block: int8 (two words, one per
 * channel, widened here by SXTB16) or, with wide weights, int16 pairs already in SXTB16
 * order (four words). On the DSP extension they are written out so every operand stays in
 * a register; elsewhere the same arithmetic in C. Per 16 MACs: int8 weights 15
 * instructions, wide weights 12. */
#if defined(PB_SIMD_DSP)

#define PB_MM_OUT [c00] "+r"(c00), [c10] "+r"(c10), [c01] "+r"(c01), [c11] "+r"(c11), [x] "+r"(x), [w] "+r"(w), \
                  [wa] "=&r"(wa), [wb] "=&r"(wb), [xa] "=&r"(xa), [xb] "=&r"(xb), [t] "=&r"(t), [u] "=&r"(u)

#define PB_MM_8x2                                          \
    "ldrd   %[wa], %[wb], [%[w]], #8\n\t"                  \
    "ldrd   %[xa], %[xb], [%[x]], #8\n\t"                  \
    "sxtb16 %[t], %[wa], ror #8\n\t"                       \
    "sxtb16 %[wa], %[wa]\n\t"                              \
    "sxtb16 %[u], %[wb], ror #8\n\t"                       \
    "sxtb16 %[wb], %[wb]\n\t"                              \
    "smlad  %[c00], %[xa], %[wa], %[c00]\n\t"              \
    "smlad  %[c00], %[xb], %[t], %[c00]\n\t"               \
    "smlad  %[c01], %[xa], %[wb], %[c01]\n\t"              \
    "smlad  %[c01], %[xb], %[u], %[c01]\n\t"               \
    "ldrd   %[xa], %[xb], [%[x]], #8\n\t"                  \
    "smlad  %[c10], %[xa], %[wa], %[c10]\n\t"              \
    "smlad  %[c10], %[xb], %[t], %[c10]\n\t"               \
    "smlad  %[c11], %[xa], %[wb], %[c11]\n\t"              \
    "smlad  %[c11], %[xb], %[u], %[c11]\n\t"

#define PB_MM_16x2                                         \
    "ldrd   %[xa], %[xb], [%[x]], #8\n\t"                  \
    "ldrd   %[wa], %[wb], [%[w]], #8\n\t"                  \
    "ldrd   %[t], %[u], [%[x]], #8\n\t"                    \
    "smlad  %[c00], %[xa], %[wa], %[c00]\n\t"              \
    "smlad  %[c00], %[xb], %[wb], %[c00]\n\t"              \
    "smlad  %[c10], %[t], %[wa], %[c10]\n\t"               \
    "smlad  %[c10], %[u], %[wb], %[c10]\n\t"               \
    "ldrd   %[wa], %[wb], [%[w]], #8\n\t"                  \
    "smlad  %[c01], %[xa], %[wa], %[c01]\n\t"              \
    "smlad  %[c01], %[xb], %[wb], %[c01]\n\t"              \
    "smlad  %[c11], %[t], %[wa], %[c11]\n\t"               \
    "smlad  %[c11], %[u], %[wb], %[c11]\n\t"

#define PB_MM_8x1                                          \
    "ldrd   %[wa], %[wb], [%[w]], #8\n\t"                  \
    "ldrd   %[xa], %[xb], [%[x]], #16\n\t"                 \
    "sxtb16 %[t], %[wa], ror #8\n\t"                       \
    "sxtb16 %[wa], %[wa]\n\t"                              \
    "sxtb16 %[u], %[wb], ror #8\n\t"                       \
    "sxtb16 %[wb], %[wb]\n\t"                              \
    "smlad  %[c00], %[xa], %[wa], %[c00]\n\t"              \
    "smlad  %[c00], %[xb], %[t], %[c00]\n\t"               \
    "smlad  %[c01], %[xa], %[wb], %[c01]\n\t"              \
    "smlad  %[c01], %[xb], %[u], %[c01]\n\t"

#define PB_MM_16x1                                         \
    "ldrd   %[xa], %[xb], [%[x]], #16\n\t"                 \
    "ldrd   %[wa], %[wb], [%[w]], #8\n\t"                  \
    "ldrd   %[t], %[u], [%[w]], #8\n\t"                    \
    "smlad  %[c00], %[xa], %[wa], %[c00]\n\t"              \
    "smlad  %[c00], %[xb], %[wb], %[c00]\n\t"              \
    "smlad  %[c01], %[xa], %[t], %[c01]\n\t"               \
    "smlad  %[c01], %[xb], %[u], %[c01]\n\t"

#define PB_MM_LOOP(body)                                                                                \
    __asm__("1:\n\t" body body "cmp    %[x], %[x_end]\n\tbne    1b\n\t"                                 \
            : PB_MM_OUT : [x_end] "r"(x_end) : "cc", "memory")

static PB_ALWAYS_INLINE void pb_fast_mm_block(const uint32_t *x, const uint32_t *x_end, const uint32_t *w,
                                              int32_t *acc, int wide, int two_rows)
{
    int32_t c00 = acc[0], c10 = acc[1], c01 = acc[2], c11 = acc[3];
    uint32_t wa, wb, xa, xb, t, u;
    if (wide && two_rows) {
        PB_MM_LOOP(PB_MM_16x2);
    } else if (two_rows) {
        PB_MM_LOOP(PB_MM_8x2);
    } else if (wide) {
        PB_MM_LOOP(PB_MM_16x1);
    } else {
        PB_MM_LOOP(PB_MM_8x1);
    }
    acc[0] = c00;
    acc[1] = c10;
    acc[2] = c01;
    acc[3] = c11;
}

#else

static PB_ALWAYS_INLINE void pb_fast_mm_block(const uint32_t *x, const uint32_t *x_end, const uint32_t *w,
                                              int32_t *acc, int wide, int two_rows)
{
    int32_t c00 = acc[0], c10 = acc[1], c01 = acc[2], c11 = acc[3];
    for (; x != x_end; x += 4) {
        uint32_t a0, a1, b0, b1; /* channel 0's and channel 1's (w0,w2), (w1,w3) */
        if (wide) {
            a0 = w[0], a1 = w[1], b0 = w[2], b1 = w[3];
            w += 4;
        } else {
            a0 = pb_sxtb16(w[0]), a1 = pb_sxtb16_hi(w[0]), b0 = pb_sxtb16(w[1]), b1 = pb_sxtb16_hi(w[1]);
            w += 2;
        }
        c00 = pb_smlad(x[1], a1, pb_smlad(x[0], a0, c00));
        c01 = pb_smlad(x[1], b1, pb_smlad(x[0], b0, c01));
        if (two_rows) {
            c10 = pb_smlad(x[3], a1, pb_smlad(x[2], a0, c10));
            c11 = pb_smlad(x[3], b1, pb_smlad(x[2], b0, c11));
        }
    }
    acc[0] = c00;
    acc[1] = c10;
    acc[2] = c01;
    acc[3] = c11;
}

#endif /* PB_SIMD_DSP */

/* Accumulators of two rows (or one) by every output channel, two channels at a time, over
 * the whole depth (padded to a multiple of 8). acc: two words per channel (row 0, row 1). */
static void pb_fast_mm_accumulate(const pb_fast_mm_params_t *p, const void *data, int32_t *acc, int two_rows)
{
    const uint32_t *cols = (const uint32_t *)data;
    const uint32_t *cols_end = cols + p->depth_pad;
    const uint32_t *w = (const uint32_t *)p->weights;
    const int32_t pair_words = p->wide_weights ? p->depth_pad : p->depth_pad >> 1;
    const int32_t *q = p->quant;
    int32_t oc;
    for (oc = 0; oc < p->out_c; oc += 2, q += 2 * PB_QUANT_WORDS, w += pair_words, acc += 4) {
        acc[0] = acc[1] = q[0];
        acc[2] = acc[3] = q[PB_QUANT_WORDS];
        if (two_rows) {
            if (p->wide_weights) {
                pb_fast_mm_block(cols, cols_end, w, acc, 1, 1);
            } else {
                pb_fast_mm_block(cols, cols_end, w, acc, 0, 1);
            }
        } else if (p->wide_weights) {
            pb_fast_mm_block(cols, cols_end, w, acc, 1, 0);
        } else {
            pb_fast_mm_block(cols, cols_end, w, acc, 0, 0);
        }
    }
}

/* Scratch bytes ahead of the accumulators: the widened rows and the int8 row. */
#define PB_FAST_ROWS_BYTES(depth_pad) (5 * (depth_pad))

/* im2col rows r0 and r1, widened and interleaved into the scratch (depth_pad words),
 * through an int8 row after them (depth_pad bytes). */
static void pb_fast_mm_prepare(const pb_fast_mm_params_t *p, const int8_t *input, int32_t r0, int32_t r1, void *scratch)
{
    uint32_t *cols = (uint32_t *)scratch;
    int8_t *row = (int8_t *)(cols + p->depth_pad);
    const int32_t blocks = p->depth_pad >> 2;
    pb_fast_im2col(p, input, r0, row);
    pb_fast_widen(row, blocks, cols, 0);
    if (r1 != r0) {
        pb_fast_im2col(p, input, r1, row);
        pb_fast_widen(row, blocks, cols, 1);
    }
}

void pb_fast_mm_s8(const pb_fast_mm_params_t *p, const int8_t *input, int8_t *output, void *scratch)
{
    int32_t *acc = (int32_t *)((uint8_t *)scratch + PB_FAST_ROWS_BYTES(p->depth_pad));
    int32_t r;
    for (r = 0; r < p->rows; r += 2) {
        const int32_t r1 = r + 1 < p->rows ? r + 1 : r;
        pb_fast_mm_prepare(p, input, r, r1, scratch);
        pb_fast_mm_accumulate(p, scratch, acc, r1 != r);
        pb_fast_requant_all(acc, 2, p->quant, p->out_c, output + r * p->out_c, p->requant, p->output_offset,
                            p->act_min, p->act_max);
        if (r1 != r) {
            pb_fast_requant_all(acc + 1, 2, p->quant, p->out_c, output + r1 * p->out_c, p->requant,
                                p->output_offset, p->act_min, p->act_max);
        }
    }
}

/* ---- DEPTHWISE_CONV_2D ----------------------------------------------------------------- */

/* Both tiers fill acc (one word per channel) for one output pixel; a requantization pass
 * then writes the pixel. */


/* Four channels per step: SXTB16 splits them into (c0,c2) and (c1,c3) int16 pairs, and
 * SMLABB/SMLATT multiply each lane by its weight. taps: where each tap of this pixel's
 * window reads, the zero-point row p->pad for taps in the padding, so every pixel starts
 * from the bias with the input offset folded in. A group's weights are contiguous. */
static PB_ALWAYS_INLINE void pb_fast_dw_taps(const pb_fast_dw_params_t *p, const int8_t *const *taps, int32_t n,
                                             int32_t *acc)
{
    const uint32_t *w = (const uint32_t *)p->weights;
    const int32_t *q = p->quant;
    int32_t c, t;
    for (c = 0; c < p->channels; c += 4, w += 2 * n, q += 4 * PB_QUANT_WORDS, acc += 4) {
        int32_t a0 = q[0], a1 = q[PB_QUANT_WORDS], a2 = q[2 * PB_QUANT_WORDS], a3 = q[3 * PB_QUANT_WORDS];
        for (t = 0; t < n; ++t) {
            const uint32_t v = pb_load32(taps[t] + c);
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
}

#if defined(PB_SIMD_DSP)

/* One tap of a 3x3 window for four channels: 9 instructions for 4 MACs. */
#define PB_DW_TAP(index)                                   \
    "ldr    %[x], [%[taps], #" #index " * 4]\n\t"          \
    "ldr    %[x], [%[x], %[c]]\n\t"                        \
    "sxtb16 %[lo], %[x]\n\t"                               \
    "sxtb16 %[hi], %[x], ror #8\n\t"                       \
    "ldrd   %[wa], %[wb], [%[w]], #8\n\t"                  \
    "smlabb %[a0], %[lo], %[wa], %[a0]\n\t"                \
    "smlatt %[a2], %[lo], %[wa], %[a2]\n\t"                \
    "smlabb %[a1], %[hi], %[wb], %[a1]\n\t"                \
    "smlatt %[a3], %[hi], %[wb], %[a3]\n\t"

static void pb_fast_dw_3x3(const pb_fast_dw_params_t *p, const int8_t *const *taps, int32_t *acc)
{
    const uint32_t *w = (const uint32_t *)p->weights;
    const int32_t *q = p->quant;
    int32_t c;
    for (c = 0; c < p->channels; c += 4, q += 4 * PB_QUANT_WORDS, acc += 4) {
        int32_t a0 = q[0], a1 = q[PB_QUANT_WORDS], a2 = q[2 * PB_QUANT_WORDS], a3 = q[3 * PB_QUANT_WORDS];
        uint32_t x, lo, hi, wa, wb;
        __asm__(PB_DW_TAP(0) PB_DW_TAP(1) PB_DW_TAP(2) PB_DW_TAP(3) PB_DW_TAP(4) PB_DW_TAP(5) PB_DW_TAP(6)
                PB_DW_TAP(7) PB_DW_TAP(8)
                : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [w] "+r"(w), [x] "=&r"(x),
                  [lo] "=&r"(lo), [hi] "=&r"(hi), [wa] "=&r"(wa), [wb] "=&r"(wb)
                : [taps] "r"(taps), [c] "r"(c)
                : "memory");
        acc[0] = a0;
        acc[1] = a1;
        acc[2] = a2;
        acc[3] = a3;
    }
}

#else

static void pb_fast_dw_3x3(const pb_fast_dw_params_t *p, const int8_t *const *taps, int32_t *acc)
{
    pb_fast_dw_taps(p, taps, 9, acc);
}

#endif /* PB_SIMD_DSP */

static void pb_fast_dw_any(const pb_fast_dw_params_t *p, const int8_t *const *taps, int32_t *acc)
{
    pb_fast_dw_taps(p, taps, p->filter_h * p->filter_w, acc);
}

void pb_fast_dw_s8(const pb_fast_dw_params_t *p, const int8_t *input, int8_t *output, void *scratch)
{
    int32_t *acc = (int32_t *)scratch;
    const int8_t *taps[PB_FAST_DW_MAX_TAPS];
    int32_t b, oy, ox, ky, kx;
    for (b = 0; b < p->batches; ++b) {
        const int8_t *in_b = input + b * p->in_h * p->in_w * p->channels;
        for (oy = 0; oy < p->out_h; ++oy) {
            const int32_t iy0 = oy * p->stride_h - p->pad_top;
            for (ox = 0; ox < p->out_w; ++ox, output += p->channels) {
                const int32_t ix0 = ox * p->stride_w - p->pad_left;
                int32_t n = 0;
                for (ky = 0; ky < p->filter_h; ++ky) {
                    const int32_t iy = iy0 + ky * p->dilation_h;
                    for (kx = 0; kx < p->filter_w; ++kx, ++n) {
                        const int32_t ix = ix0 + kx * p->dilation_w;
                        const int inside = iy >= 0 && iy < p->in_h && ix >= 0 && ix < p->in_w;
                        taps[n] = inside ? in_b + (iy * p->in_w + ix) * p->channels : (const int8_t *)p->pad;
                    }
                }
                if (n == 9) {
                    pb_fast_dw_3x3(p, taps, acc);
                } else {
                    pb_fast_dw_any(p, taps, acc);
                }
                pb_fast_requant_all(acc, 1, p->quant, p->channels, output, p->requant, p->output_offset,
                                    p->act_min, p->act_max);
            }
        }
    }
}
