/* Fast int8 DEPTHWISE_CONV_2D, DSP tier (the Helium tier's is mve/pb_depthwise_conv.c).
 *
 * Three forms, chosen by the generator (protobrain/compiler/ops/tiers/dsp.py, fields `lines`, `rows_form`):
 *   generic: any window, any depth multiplier dm; weights per pass m (output channels
 *     c * dm + m), per group of 4 input channels, per tap, two words of int16 pairs
 *     (w0,w2), (w1,w3); no scratch.
 *   lines: 3x3 stride 1, multiplier 1, FAST requantization, full int8 range; per channel a block of
 *     PB_DW_LINE_WORDS words; scratch holds 3 widened input lines of 4 channels.
 *   rows: 3x3 stride 1 or 2, multiplier 1, FAST requantization, full int8 range; per group
 *     of 4 channels a block of PB_DW_ROWS_WORDS words; scratch holds 3 widened padded input
 *     rows of 4 channels, twice over.
 *
 * Inner loops never branch on data, so an inference takes the same time whatever its
 * input. */
#include "pb_depthwise_conv.h"

#if defined(PB_TIER_MVE)
#error "this is the DSP tier's depthwise convolution; a model generated for the MVE tier uses the Helium one"
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
 * from the registers (FAST mode: doubled weights and bias, as for wide mm weights). With a
 * depth multiplier dm the input channels are read dm times, pass m computing output
 * channels c * dm + m (weights and quant words in pass order, so both run on). */
static PB_ALWAYS_INLINE void pb_fast_dw_pixel(const pb_fast_dw_params_t *p, const int8_t *pixel, const intptr_t *offs,
                                              int32_t n, int8_t *out_pixel, pb_fast_out_t o, int three_by_three,
                                              int mode, int full_range, int32_t dm)
{
    const uint32_t *w = (const uint32_t *)p->weights;
    const int32_t *q = p->quant;
    const int8_t *end = pixel + p->channels;
    const int doubled = mode == PB_REQUANT_FAST;
    int32_t m;
    for (m = 0; m < dm; ++m) {
        const int8_t *base = pixel;
        int8_t *out = out_pixel + m;
        for (; base != end; base += 4, out += 4 * dm, w += 2 * n, q += 4 * PB_QUANT_WORDS) {
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
            out[dm] = pb_fast_out(acc[1], pb_fast_q(q + PB_QUANT_WORDS), o, mode, doubled, full_range);
            out[2 * dm] = pb_fast_out(acc[2], pb_fast_q(q + 2 * PB_QUANT_WORDS), o, mode, doubled, full_range);
            out[3 * dm] = pb_fast_out(acc[3], pb_fast_q(q + 3 * PB_QUANT_WORDS), o, mode, doubled, full_range);
        }
    }
}

static PB_ALWAYS_INLINE void pb_fast_dw_pixels(const pb_fast_dw_params_t *p, const int8_t *input, int8_t *output,
                                               int three_by_three, int mode, int full_range, int32_t dm)
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
            for (ox = 0; ox < p->out_w; ++ox, output += C * dm) {
                const int32_t ix0 = ox * p->stride_w - p->pad_left;
                if (rows_inside && ix0 >= 0 && ix0 + span_w < p->in_w) {
                    pb_fast_dw_pixel(p, in_b + (iy0 * p->in_w + ix0) * C, inner, n, output, o, three_by_three,
                                     mode, full_range, dm);
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
                pb_fast_dw_pixel(p, in_b, edge, n, output, o, three_by_three, mode, full_range, dm);
            }
        }
    }
}

/* One instance per window form and requantization form, the layer's constants folded in;
 * a depth multiplier above 1 (rare) takes the two instances that read it at run time. */
#define PB_FAST_DW_VARIANT(name, three_by_three, mode, full_range, dm)                   \
    static void name(const pb_fast_dw_params_t *p, const int8_t *input, int8_t *output) \
    {                                                                                    \
        pb_fast_dw_pixels(p, input, output, three_by_three, mode, full_range, dm);       \
    }

PB_FAST_DW_VARIANT(pb_fast_dw_3x3_fast_full, 1, PB_REQUANT_FAST, 1, 1)
PB_FAST_DW_VARIANT(pb_fast_dw_3x3_fast_clamped, 1, PB_REQUANT_FAST, 0, 1)
PB_FAST_DW_VARIANT(pb_fast_dw_3x3_exact, 1, PB_REQUANT_EXACT, 0, 1)
PB_FAST_DW_VARIANT(pb_fast_dw_any_fast_full, 0, PB_REQUANT_FAST, 1, 1)
PB_FAST_DW_VARIANT(pb_fast_dw_any_fast_clamped, 0, PB_REQUANT_FAST, 0, 1)
PB_FAST_DW_VARIANT(pb_fast_dw_any_exact, 0, PB_REQUANT_EXACT, 0, 1)
PB_FAST_DW_VARIANT(pb_fast_dw_multiplier_fast, 0, PB_REQUANT_FAST, 0, p->multiplier)
PB_FAST_DW_VARIANT(pb_fast_dw_multiplier_exact, 0, PB_REQUANT_EXACT, 0, p->multiplier)

/* ---- 3x3 stride 1: lines of int16 ------------------------------------------------------ */

/* Per group of 4 channels, input lines (rows, or columns when transposed) are widened to
 * int16 once each into a ring of 3 slots, each 4 planes of PB_DW_LINE_LEN values padded
 * with the input zero point, so borders need no case of their own. Then, per channel, each
 * output line is two adjacent outputs per step: per kernel line one LDRD of (x0,x1),(x2,x3)
 * and 4 multiplies for 6 MACs, against the channel's (w0,w1),(w1,w2) pairs.
 *
 * Requantization (FAST mode only) folds the sign fix and the rounding into one SMMLAR:
 * (smmulr(acc, m) - (v < 0) + round) >> shift, where v < 0 exactly when acc < 0 because
 * the generator takes this form only when every multiplier exceeds 2^30. */

typedef struct {
    int32_t len_in, count_in;     /* input: values per line, lines */
    int32_t pad_along, pad_across;
    int32_t step_in, next_in;     /* bytes between values of a line, between lines */
    int32_t len_out, count_out;   /* output: values per line, lines */
    int32_t step_out, next_out;
    int32_t len;                  /* int16 values per widened line (even) */
} pb_dw_lines_t;

static pb_dw_lines_t pb_dw_lines(const pb_fast_dw_params_t *p)
{
    const int32_t C = p->channels;
    pb_dw_lines_t g;
    if (p->transposed) {
        g.len_in = p->in_h, g.count_in = p->in_w, g.pad_along = p->pad_top, g.pad_across = p->pad_left;
        g.step_in = p->in_w * C, g.next_in = C;
        g.len_out = p->out_h, g.count_out = p->out_w, g.step_out = p->out_w * C, g.next_out = C;
    } else {
        g.len_in = p->in_w, g.count_in = p->in_h, g.pad_along = p->pad_left, g.pad_across = p->pad_top;
        g.step_in = C, g.next_in = p->in_w * C;
        g.len_out = p->out_w, g.count_out = p->out_h, g.step_out = C, g.next_out = p->out_w * C;
    }
    /* two outputs per step read values x .. x+3: an odd line's last step reads one past */
    g.len = g.len_out + 2 + (g.len_out & 1);
    return g;
}

/* Two input values of 4 channels (words a, b) as one int16 pair per channel: SXTB16 splits
 * each word PKHBT/PKHTB made of the two values' halves. */
static PB_ALWAYS_INLINE void pb_dw_pair(uint32_t a, uint32_t b, uint32_t *dst, int32_t plane)
{
    const uint32_t lo = (a & 0xFFFFu) | (b << 16), hi = (a >> 16) | (b & 0xFFFF0000u);
    dst[0] = pb_sxtb16(lo);
    dst[plane] = pb_sxtb16_hi(lo);
    dst[2 * plane] = pb_sxtb16(hi);
    dst[3 * plane] = pb_sxtb16_hi(hi);
}

/* The input word at position i of a line, or the zero points outside it. */
static PB_ALWAYS_INLINE uint32_t pb_dw_value(const int8_t *line, int32_t i, int32_t len, int32_t step, uint32_t zw)
{
    return i >= 0 && i < len ? pb_load32(line + i * step) : zw;
}

#if defined(PB_SIMD_DSP)
/* n >= 1 pairs wholly inside the input, from src on (values step bytes apart), into the 4
 * planes from d on (planes words apart): 15 instructions a pair. */
static void pb_dw_widen_inside(const int8_t *src, int32_t step, uint32_t *d, int32_t words, int32_t n)
{
    uint32_t *d1 = d + words, *d2 = d + 2 * words, *d3 = d + 3 * words;
    const uint32_t *end = d + n;
    uint32_t a, b, lo, hi, t;
    __asm__ volatile("1:\n\t"
                     "ldr     %[a], [%[src]]\n\t"
                     "ldr     %[b], [%[src], %[step]]\n\t"
                     "add     %[src], %[src], %[step], lsl #1\n\t"
                     "pkhbt   %[lo], %[a], %[b], lsl #16\n\t"
                     "pkhtb   %[hi], %[b], %[a], asr #16\n\t"
                     "sxtb16  %[t], %[lo]\n\t"
                     "str     %[t], [%[d0]], #4\n\t"
                     "sxtb16  %[t], %[lo], ror #8\n\t"
                     "str     %[t], [%[d1]], #4\n\t"
                     "sxtb16  %[t], %[hi]\n\t"
                     "str     %[t], [%[d2]], #4\n\t"
                     "sxtb16  %[t], %[hi], ror #8\n\t"
                     "str     %[t], [%[d3]], #4\n\t"
                     "cmp     %[d0], %[end]\n\t"
                     "bne     1b\n\t"
                     : [src] "+r"(src), [d0] "+r"(d), [d1] "+r"(d1), [d2] "+r"(d2), [d3] "+r"(d3), [a] "=&r"(a),
                       [b] "=&r"(b), [lo] "=&r"(lo), [hi] "=&r"(hi), [t] "=&r"(t)
                     : [step] "r"(step), [end] "r"(end)
                     : "cc", "memory");
}
#endif

/* n words (a multiple of 4) of z from d on: a padding line's 4 planes. */
static void pb_dw_fill(uint32_t *d, int32_t n, uint32_t z)
{
#if defined(PB_SIMD_DSP)
    /* four words a store */
    register uint32_t z0 __asm__("r4") = z, z1 __asm__("r5") = z, z2 __asm__("r6") = z, z3 __asm__("r8") = z;
    const uint32_t *end = d + n;
    __asm__ volatile("1:\n\t"
                     "stmia   %[d]!, {%[z0], %[z1], %[z2], %[z3]}\n\t"
                     "cmp     %[d], %[end]\n\t"
                     "bne     1b\n\t"
                     : [d] "+r"(d)
                     : [z0] "r"(z0), [z1] "r"(z1), [z2] "r"(z2), [z3] "r"(z3), [end] "r"(end)
                     : "cc", "memory");
#else
    int32_t j;
    for (j = 0; j < n; ++j) {
        d[j] = z;
    }
#endif
}

/* Widens padded line r of 4 channels (input at in, 4 bytes per value) into the 4 planes of
 * slot. Pairs wholly inside the input go without a bounds check. */
static void pb_dw_widen(const pb_dw_lines_t *g, const int8_t *in, int32_t r, uint32_t zw, uint32_t *slot)
{
    const int32_t line = r - g->pad_across, words = g->len / 2, len = g->len_in, step = g->step_in;
    const int32_t pad = g->pad_along, first = PB_MIN((pad + 1) / 2, words), last = PB_MIN((len + pad) / 2, words);
    const int8_t *src;
    int32_t j;
    if (line < 0 || line >= g->count_in) {
        pb_dw_fill(slot, 2 * g->len, pb_sxtb16(zw));  /* (zp, zp) */
        return;
    }
    in += line * g->next_in;
    for (j = 0; j < first; ++j) {
        pb_dw_pair(pb_dw_value(in, 2 * j - pad, len, step, zw), pb_dw_value(in, 2 * j - pad + 1, len, step, zw),
                   slot + j, words);
    }
    src = in + (2 * first - pad) * step;
#if defined(PB_SIMD_DSP)
    if (last > j) {
        pb_dw_widen_inside(src, step, slot + j, words, last - j);
        j = last;
    }
#else
    for (; j < last; ++j, src += 2 * step) {
        pb_dw_pair(pb_load32(src), pb_load32(src + step), slot + j, words);
    }
#endif
    for (; j < words; ++j) {
        pb_dw_pair(pb_dw_value(in, 2 * j - pad, len, step, zw), pb_dw_value(in, 2 * j - pad + 1, len, step, zw),
                   slot + j, words);
    }
}

#if defined(PB_SIMD_DSP)

/* One kernel line for both outputs: x01 = (x0,x1), x23 = (x2,x3), wa = (w0,w1), wb = (w1,w2). */
#define PB_DW_MACS(first)                                          \
    "smlad   %[a0], %[x01], %[wa], " first "\n\t"                  \
    "smlatb  %[a1], %[x01], %[wa], %[a1]\n\t"                      \
    "smlabt  %[a0], %[x23], %[wb], %[a0]\n\t"                      \
    "smlad   %[a1], %[x23], %[wb], %[a1]\n\t"

/* A step: the taps from bias' on (LDM: bias' into a1, then the first pairs), then both
 * outputs requantized. */
#define PB_DW_STEP                                            \
    "ldm     %[k], {%[a1], %[wa], %[wb]}\n\t"                      \
    "ldrd    %[x01], %[x23], [%[p0]], #4\n\t"                      \
    PB_DW_MACS("%[a1]")                                            \
    "ldrd    %[wa], %[wb], [%[k], #12]\n\t"                        \
    "ldrd    %[x01], %[x23], [%[p1]], #4\n\t"                      \
    PB_DW_MACS("%[a0]")                                            \
    "ldrd    %[wa], %[wb], [%[k], #20]\n\t"                        \
    "ldrd    %[x01], %[x23], [%[p2]], #4\n\t"                      \
    PB_DW_MACS("%[a0]")                                            \
    "ldrd    %[wa], %[wb], [%[k], #28]\n\t"                        \
    "sub     %[x01], %[wb], %[a0], lsr #31\n\t"                    \
    "smmlar  %[a0], %[a0], %[wa], %[x01]\n\t"                      \
    "sub     %[x23], %[wb], %[a1], lsr #31\n\t"                    \
    "smmlar  %[a1], %[a1], %[wa], %[x23]\n\t"                      \
    "ldr     %[wa], [%[k], #36]\n\t"                               \
    "asr     %[a0], %[a0], %[wa]\n\t"                              \
    "asr     %[a1], %[a1], %[wa]\n\t"                              \
    "ssat    %[a0], #8, %[a0]\n\t"                                 \
    "ssat    %[a1], #8, %[a1]\n\t"

/* One output line of one channel: k is its PB_DW_LINE_WORDS block; s0..s2 its three
 * widened input lines; n outputs, step bytes apart from q on. Registers are pinned so the
 * LDM loads bias' and the first pairs in register order. */
static void pb_dw_line(const uint32_t *s0, const uint32_t *s1, const uint32_t *s2, int8_t *q, int32_t step,
                       int32_t n, const int32_t *k)
{
    register const uint32_t *p0 __asm__("r0") = s0;
    register const uint32_t *p1 __asm__("r1") = s1;
    register const uint32_t *p2 __asm__("r2") = s2;
    register int8_t *out __asm__("r3") = q;
    register int32_t a1 __asm__("r4");
    register uint32_t wa __asm__("r5");
    register uint32_t wb __asm__("r6");
    register uint32_t x01 __asm__("r8");
    register uint32_t x23 __asm__("r9");
    register int32_t a0 __asm__("r10");
    register int32_t st __asm__("r11") = step;
    register int8_t *end __asm__("r12") = q + (n & ~1) * step;
    register const int32_t *kk __asm__("lr") = k;
    if (n >= 2) {
        __asm__ volatile("1:\n\t" PB_DW_STEP
                         "strb    %[a1], [%[q], %[st]]\n\t"
                         "strb    %[a0], [%[q]]\n\t"
                         "add     %[q], %[q], %[st], lsl #1\n\t"
                         "cmp     %[q], %[end]\n\t"
                         "bne     1b\n\t"
                         : [p0] "+r"(p0), [p1] "+r"(p1), [p2] "+r"(p2), [q] "+r"(out), [a0] "=&r"(a0),
                           [a1] "=&r"(a1), [wa] "=&r"(wa), [wb] "=&r"(wb), [x01] "=&r"(x01), [x23] "=&r"(x23)
                         : [st] "r"(st), [end] "r"(end), [k] "r"(kk)
                         : "cc", "memory");
    }
    if (n & 1) {  /* the last output of an odd line: a whole step, one store */
        __asm__ volatile(PB_DW_STEP "strb    %[a0], [%[q]]\n\t"
                         : [p0] "+r"(p0), [p1] "+r"(p1), [p2] "+r"(p2), [a0] "=&r"(a0), [a1] "=&r"(a1),
                           [wa] "=&r"(wa), [wb] "=&r"(wb), [x01] "=&r"(x01), [x23] "=&r"(x23)
                         : [q] "r"(out), [k] "r"(kk)
                         : "cc", "memory");
    }
}

#else

static int32_t pb_dw_lo(uint32_t v)
{
    return (int16_t)(uint16_t)v;
}

static int32_t pb_dw_hi(uint32_t v)
{
    return (int16_t)(uint16_t)(v >> 16);
}

/* The same arithmetic as the DSP form's SMMLAR sequence. */
static int8_t pb_dw_requant(int32_t acc, const int32_t *k)
{
    const uint32_t v = (uint32_t)pb_smmulr(acc, k[7]) + (uint32_t)k[8] - (uint32_t)(acc < 0);
    return (int8_t)pb_ssat8((int32_t)v >> k[9]);
}

static void pb_dw_line(const uint32_t *s0, const uint32_t *s1, const uint32_t *s2, int8_t *q, int32_t step,
                       int32_t n, const int32_t *k)
{
    int32_t x, r;
    for (x = 0; x < n; x += 2, ++s0, ++s1, ++s2) {
        const uint32_t *rows[3];
        uint32_t a0 = (uint32_t)k[0], a1 = (uint32_t)k[0];
        rows[0] = s0, rows[1] = s1, rows[2] = s2;
        for (r = 0; r < 3; ++r) {
            const uint32_t x01 = rows[r][0], x23 = rows[r][1];
            const uint32_t wa = (uint32_t)k[1 + 2 * r], wb = (uint32_t)k[2 + 2 * r];
            a0 += (uint32_t)(pb_dw_lo(x01) * pb_dw_lo(wa) + pb_dw_hi(x01) * pb_dw_hi(wa) + pb_dw_lo(x23) * pb_dw_hi(wb));
            a1 += (uint32_t)(pb_dw_hi(x01) * pb_dw_lo(wa) + pb_dw_lo(x23) * pb_dw_lo(wb) + pb_dw_hi(x23) * pb_dw_hi(wb));
        }
        q[x * step] = pb_dw_requant((int32_t)a0, k);
        if (x + 1 < n) {
            q[(x + 1) * step] = pb_dw_requant((int32_t)a1, k);
        }
    }
}

#endif /* PB_SIMD_DSP */

static void pb_fast_dw_lines(const pb_fast_dw_params_t *p, const int8_t *input, int8_t *output, uint32_t *scratch)
{
    const pb_dw_lines_t g = pb_dw_lines(p);
    const uint32_t zw = pb_load32(p->pad);  /* the zero point, 4 channels */
    const int32_t C = p->channels, slot = 2 * g.len, plane = g.len / 2;  /* in words */
    int32_t b, c, o, i;
    for (b = 0; b < p->batches; ++b) {
        const int8_t *in = input + b * p->in_h * p->in_w * C;
        int8_t *out = output + b * p->out_h * p->out_w * C;
        for (c = 0; c < C; c += 4) {
            pb_dw_widen(&g, in + c, 0, zw, scratch);
            pb_dw_widen(&g, in + c, 1, zw, scratch + slot);
            for (o = 0; o < g.count_out; ++o) {
                const uint32_t *s0 = scratch + (o % 3) * slot, *s1 = scratch + ((o + 1) % 3) * slot;
                uint32_t *s2 = scratch + ((o + 2) % 3) * slot;
                pb_dw_widen(&g, in + c, o + 2, zw, s2);
                for (i = 0; i < 4; ++i) {
                    pb_dw_line(s0 + i * plane, s1 + i * plane, s2 + i * plane, out + o * g.next_out + c + i,
                               g.step_out, g.len_out, p->weights + (c + i) * PB_DW_LINE_WORDS);
                }
            }
        }
    }
}

/* ---- 3x3, stride 1 or 2: rows of int16 -------------------------------------------------- */

/* Per group of 4 channels, each padded input row is widened once, into a ring of 3 rows
 * stored twice over (positions r % 3 and r % 3 + 3 of every column), so that whatever the
 * ring's turn an output row's three input rows are at positions t, t + 1, t + 2: every tap
 * of every pixel is an immediate offset from the pixel's first column, (kx * 6 + ky) * 8
 * bytes, each column PB_DW_ROW_COL bytes of 6 positions x 4 channels (SXTB16 order, (c0,c2)
 * then (c1,c3)). Borders need no case of their own: the padding is the zero point, widened.
 *
 * Per group a block of PB_DW_ROWS_WORDS words (tiers/dsp.py): bias' x 4, then per tap
 * (ky-major) (w0,w2), (w1,w3) int16 pairs, then per channel multiplier, rounding, shift.
 * FAST requantization (doubled weights and bias, as pb_fast_out) over all of int8. */

#define PB_DW_ROW_COL 48

/* The rows form's layer constants, read once. */
typedef struct {
    int32_t in_h, pad_top, C;
    intptr_t in_row;            /* bytes per input row */
    int32_t first, last;        /* words into a ring position: the columns inside the input */
    uint32_t zlo, zhi;          /* the zero point, widened */
} pb_dw_rows_t;

/* One pixel's 4 channels (word v) widened into ring column d, both positions. */
static PB_ALWAYS_INLINE void pb_dw_rows_put(uint32_t *d, uint32_t v)
{
    d[0] = d[6] = pb_sxtb16(v);
    d[1] = d[7] = pb_sxtb16_hi(v);
}

/* Fills ring columns from d to end with the zero point, both positions. */
static void pb_dw_rows_pad(uint32_t *d, const uint32_t *end, uint32_t zlo, uint32_t zhi)
{
    for (; d != end; d += PB_DW_ROW_COL / 4) {
        d[0] = d[6] = zlo;
        d[1] = d[7] = zhi;
    }
}

#if defined(PB_SIMD_DSP)

/* Widens the pixels from src on (C bytes apart) into ring columns d up to end (d != end):
 * an odd first one alone, then two a turn (6.5 instructions a pixel, not 8). */
static void pb_dw_rows_copy(const int8_t *src, int32_t C, uint32_t *d, const uint32_t *end)
{
    uint32_t v, w, lo, hi;
    if (((end - d) / (PB_DW_ROW_COL / 4)) & 1) {
        pb_dw_rows_put(d, pb_load32(src));
        d += PB_DW_ROW_COL / 4;
        src += C;
        if (d == end) {
            return;
        }
    }
    __asm__ volatile("1:\n\t"
                     "ldr     %[v], [%[src]]\n\t"
                     "ldr     %[w], [%[src], %[C]]\n\t"
                     "add     %[src], %[src], %[C], lsl #1\n\t"
                     "sxtb16  %[lo], %[v]\n\t"
                     "sxtb16  %[hi], %[v], ror #8\n\t"
                     "strd    %[lo], %[hi], [%[d], #24]\n\t"
                     "strd    %[lo], %[hi], [%[d]], #48\n\t"
                     "sxtb16  %[lo], %[w]\n\t"
                     "sxtb16  %[hi], %[w], ror #8\n\t"
                     "strd    %[lo], %[hi], [%[d], #24]\n\t"
                     "strd    %[lo], %[hi], [%[d]], #48\n\t"
                     "cmp     %[d], %[end]\n\t"
                     "bne     1b\n\t"
                     : [src] "+r"(src), [d] "+r"(d), [v] "=&r"(v), [w] "=&r"(w), [lo] "=&r"(lo), [hi] "=&r"(hi)
                     : [C] "r"(C), [end] "r"(end)
                     : "cc", "memory");
}

#else

static void pb_dw_rows_copy(const int8_t *src, int32_t C, uint32_t *d, const uint32_t *end)
{
    for (; d != end; d += PB_DW_ROW_COL / 4, src += C) {
        pb_dw_rows_put(d, pb_load32(src));
    }
}

#endif /* PB_SIMD_DSP */

/* Widens padded input row r (of the (out_h - 1) * stride_h + 3 the outputs read: input
 * row r - pad_top, 4 channels from in on) into the ring position at slot: the columns
 * inside the input only, the padding columns keep the zero point the call began with. */
static PB_ALWAYS_INLINE void pb_dw_rows_widen(const pb_dw_rows_t *g, const int8_t *in, int32_t r, uint32_t *slot)
{
    const int32_t iy = r - g->pad_top;
    if (iy >= 0 && iy < g->in_h) {
        pb_dw_rows_copy(in + iy * g->in_row, g->C, slot + g->first, slot + g->last);
    } else {
        pb_dw_rows_pad(slot + g->first, slot + g->last, g->zlo, g->zhi);
    }
}

#if defined(PB_SIMD_DSP)

/* One tap for the 4 channels: 6 instructions for 4 MACs. */
#define PB_DW_ROWS_TAP(kx, ky)                                                     \
    "ldrd    r6, r8, [r9, #((" #kx ") * 6 + (" #ky ")) * 8]\n\t"                   \
    "ldrd    r4, r5, [r10, #16 + ((" #ky ") * 3 + (" #kx ")) * 8]\n\t"             \
    "smlabb  r0, r6, r4, r0\n\t"                                                   \
    "smlatt  r2, r6, r4, r2\n\t"                                                   \
    "smlabb  r1, r8, r5, r1\n\t"                                                   \
    "smlatt  r3, r8, r5, r3\n\t"

/* Channel i's output from ri: multiplier, rounding, shift by LDM from r8 on. */
#define PB_DW_ROWS_OUT(i)                                                          \
    "ldm     r8!, {r4, r5, r6}\n\t"                                                \
    "sub     r5, r5, r" #i ", lsr #31\n\t"                                         \
    "smmlar  r" #i ", r" #i ", r4, r5\n\t"                                         \
    "asr     r" #i ", r" #i ", r6\n\t"                                             \
    "ssat    r" #i ", #8, r" #i "\n\t"                                             \
    "strb    r" #i ", [r11, #" #i "]\n\t"

/* One output row of one group: pixels at col (the first's first column, stride columns
 * apart), k the group's block, outputs from out on, C bytes apart, until end. Registers
 * pinned so the LDMs fill them in order (r7 is left to the frame). */
#define PB_DW_ROWS_LOOP(stride)                                                                              \
    __asm__ volatile("1:\n\t"                                                                               \
                     "ldm     r10, {r0, r1, r2, r3}\n\t"                                                     \
                     PB_DW_ROWS_TAP(0, 0) PB_DW_ROWS_TAP(0, 1) PB_DW_ROWS_TAP(0, 2)                          \
                     PB_DW_ROWS_TAP(1, 0) PB_DW_ROWS_TAP(1, 1) PB_DW_ROWS_TAP(1, 2)                          \
                     PB_DW_ROWS_TAP(2, 0) PB_DW_ROWS_TAP(2, 1) PB_DW_ROWS_TAP(2, 2)                          \
                     "add     r8, r10, #88\n\t"                                                              \
                     PB_DW_ROWS_OUT(0) PB_DW_ROWS_OUT(1) PB_DW_ROWS_OUT(2) PB_DW_ROWS_OUT(3)                 \
                     "add     r9, r9, #" #stride " * 48\n\t"                                                 \
                     "add     r11, r11, r12\n\t"                                                             \
                     "cmp     r11, lr\n\t"                                                                   \
                     "bne     1b\n\t"                                                                        \
                     : "+r"(col), "+r"(out)                                                                  \
                     : "r"(k), "r"(step), "r"(end)                                                           \
                     : "r0", "r1", "r2", "r3", "r4", "r5", "r6", "r8", "cc", "memory")

/* Two pixels a turn, in an assembly routine of its own (so r7 is free too): the taps'
 * weights loaded once for both (11 instructions for 8 MACs, not 12), then each channel's
 * requantization constants once for both. Accumulators: the first pixel's in r0-r3, the
 * second's (stride columns on) in r4-r7; r8-r9 the weights, r10-r11 the inputs, r12 the
 * column, lr the block; frame: [0] out, [4] C, [8] the end, [12] the next column. 156
 * instructions a pair where the one-pixel loop takes 168. */
/* col: the first pixel's first column; block: the group's PB_DW_ROWS_WORDS words; out: the
 * first pixel's 4 outputs, C bytes before the next pixel's; end: out after the last pair. */
void pb_dsp_dw_rows_pairs_s1(const uint32_t *col, const int32_t *block, int8_t *out, int32_t C, int8_t *end);
void pb_dsp_dw_rows_pairs_s2(const uint32_t *col, const int32_t *block, int8_t *out, int32_t C, int8_t *end);

#define PB_DW_PAIRS_TAP(kx, ky, stride)                                                   \
    "ldrd    r8, r9, [lr, #16 + ((" #ky ") * 3 + (" #kx ")) * 8]\n\t"                    \
    "ldrd    r10, r11, [r12, #((" #kx ") * 6 + (" #ky ")) * 8]\n\t"                       \
    "smlabb  r0, r10, r8, r0\n\t"                                                        \
    "smlatt  r2, r10, r8, r2\n\t"                                                        \
    "smlabb  r1, r11, r9, r1\n\t"                                                        \
    "smlatt  r3, r11, r9, r3\n\t"                                                        \
    "ldrd    r10, r11, [r12, #((" #kx ") * 6 + (" #ky ")) * 8 + " #stride " * 48]\n\t"    \
    "smlabb  r4, r10, r8, r4\n\t"                                                        \
    "smlatt  r6, r10, r8, r6\n\t"                                                        \
    "smlabb  r5, r11, r9, r5\n\t"                                                        \
    "smlatt  r7, r11, r9, r7\n\t"

/* Channel i of both pixels (ra, rb): multiplier, rounding, shift by LDM from r8 on. */
#define PB_DW_PAIRS_OUT(ra, rb)                                                           \
    "ldm     r8!, {r9, r10, r11}\n\t"                                                    \
    "sub     r12, r10, " ra ", lsr #31\n\t"                                               \
    "smmlar  " ra ", " ra ", r9, r12\n\t"                                                 \
    "asr     " ra ", " ra ", r11\n\t"                                                     \
    "ssat    " ra ", #8, " ra "\n\t"                                                      \
    "sub     r12, r10, " rb ", lsr #31\n\t"                                               \
    "smmlar  " rb ", " rb ", r9, r12\n\t"                                                 \
    "asr     " rb ", " rb ", r11\n\t"                                                     \
    "ssat    " rb ", #8, " rb "\n\t"

#define PB_DW_PAIRS_ROUTINE(name, stride)                                                 \
    PB_ASM_FUNCTION(name)                                                                \
    "push    {r4-r11, lr}\n\t"                                                           \
    "ldr     r4, [sp, #36]\n\t"                                                          \
    "sub     sp, sp, #16\n\t"                                                            \
    "strd    r2, r3, [sp]\n\t"                                                           \
    "str     r4, [sp, #8]\n\t"                                                           \
    "mov     r12, r0\n\t"                                                                \
    "mov     lr, r1\n"                                                                    \
    "1:\n\t"                                                                             \
    "ldm     lr, {r0-r3}\n\t"                                                            \
    "ldm     lr, {r4-r7}\n\t"                                                            \
    PB_DW_PAIRS_TAP(0, 0, stride) PB_DW_PAIRS_TAP(0, 1, stride) PB_DW_PAIRS_TAP(0, 2, stride) \
    PB_DW_PAIRS_TAP(1, 0, stride) PB_DW_PAIRS_TAP(1, 1, stride) PB_DW_PAIRS_TAP(1, 2, stride) \
    PB_DW_PAIRS_TAP(2, 0, stride) PB_DW_PAIRS_TAP(2, 1, stride) PB_DW_PAIRS_TAP(2, 2, stride) \
    "add     r12, r12, #" #stride " * 96\n\t"                                            \
    "str     r12, [sp, #12]\n\t"                                                         \
    "add     r8, lr, #88\n\t"                                                            \
    PB_DW_PAIRS_OUT("r0", "r4") PB_DW_PAIRS_OUT("r1", "r5")                               \
    PB_DW_PAIRS_OUT("r2", "r6") PB_DW_PAIRS_OUT("r3", "r7")                               \
    "ldrd    r8, r9, [sp]\n\t"                                                           \
    "strb    r0, [r8]\n\t"                                                               \
    "strb    r1, [r8, #1]\n\t"                                                           \
    "strb    r2, [r8, #2]\n\t"                                                           \
    "strb    r3, [r8, #3]\n\t"                                                           \
    "add     r8, r8, r9\n\t"                                                             \
    "strb    r4, [r8]\n\t"                                                               \
    "strb    r5, [r8, #1]\n\t"                                                           \
    "strb    r6, [r8, #2]\n\t"                                                           \
    "strb    r7, [r8, #3]\n\t"                                                           \
    "add     r8, r8, r9\n\t"                                                             \
    "str     r8, [sp]\n\t"                                                               \
    "ldr     r10, [sp, #8]\n\t"                                                          \
    "ldr     r12, [sp, #12]\n\t"                                                         \
    "cmp     r8, r10\n\t"                                                                \
    "bne     1b\n\t"                                                                     \
    "add     sp, sp, #16\n\t"                                                            \
    "pop     {r4-r11, pc}\n\t"                                                           \
    PB_ASM_END(name)

__asm__(PB_DW_PAIRS_ROUTINE(pb_dsp_dw_rows_pairs_s1, 1));
__asm__(PB_DW_PAIRS_ROUTINE(pb_dsp_dw_rows_pairs_s2, 2));

/* n pixels: the pairs by the routine above, an odd last one by the one-pixel loop. */
static void pb_dw_rows_line(const uint32_t *ring_col, const int32_t *block, int8_t *q, int32_t C, int32_t n,
                            int32_t stride)
{
    const int32_t pairs = n >> 1;
    if (pairs > 0) {
        if (stride == 1) {
            pb_dsp_dw_rows_pairs_s1(ring_col, block, q, C, q + 2 * pairs * C);
        } else {
            pb_dsp_dw_rows_pairs_s2(ring_col, block, q, C, q + 2 * pairs * C);
        }
        ring_col += 2 * pairs * stride * (PB_DW_ROW_COL / 4);
        q += 2 * pairs * C;
    }
    if (n & 1) {
        register const uint32_t *col __asm__("r9") = ring_col;
        register const int32_t *k __asm__("r10") = block;
        register int8_t *out __asm__("r11") = q;
        register int32_t step __asm__("r12") = C;
        register int8_t *end __asm__("lr") = q + C;
        if (stride == 1) {
            PB_DW_ROWS_LOOP(1);
        } else {
            PB_DW_ROWS_LOOP(2);
        }
    }
}

#else

static void pb_dw_rows_line(const uint32_t *ring_col, const int32_t *block, int8_t *q, int32_t C, int32_t n,
                            int32_t stride)
{
    const int32_t mode = PB_REQUANT_FAST;
    pb_fast_out_t o;
    int32_t x, kx, ky, i;
    o.output_offset = 0;
    o.act_min = -128;
    o.act_max = 127;
    for (x = 0; x < n; ++x, ring_col += stride * (PB_DW_ROW_COL / 4), q += C) {
        int32_t a[4];
        for (i = 0; i < 4; ++i) {
            a[i] = block[i];
        }
        for (kx = 0; kx < 3; ++kx) {
            for (ky = 0; ky < 3; ++ky) {
                const uint32_t *x2 = ring_col + (kx * 6 + ky) * 2;
                const uint32_t *w2 = (const uint32_t *)block + 4 + (ky * 3 + kx) * 2;
                a[0] = pb_smlabb(x2[0], w2[0], a[0]);
                a[2] = pb_smlatt(x2[0], w2[0], a[2]);
                a[1] = pb_smlabb(x2[1], w2[1], a[1]);
                a[3] = pb_smlatt(x2[1], w2[1], a[3]);
            }
        }
        for (i = 0; i < 4; ++i) {
            const int32_t *m = block + 22 + 3 * i;
            pb_fast_q_t fq;
            fq.mult = m[0];
            fq.round = m[1];
            fq.shift = m[2];
            q[i] = pb_fast_out(a[i], fq, o, mode, 1, 1);
        }
    }
}

#endif /* PB_SIMD_DSP */

/* Per group of 4 channels, output row by output row: the rows it reads not yet widened,
 * then its pixels. */
static void pb_fast_dw_rows(const pb_fast_dw_params_t *p, const int8_t *input, int8_t *output, uint32_t *ring)
{
    const uint32_t zw = pb_load32(p->pad);  /* the zero point, 4 channels */
    const int32_t C = p->channels, s = p->stride_h, out_w = p->out_w, out_h = p->out_h, stride_w = p->stride_w;
    const int32_t row_in = p->in_w * C, row_out = out_w * C;
    pb_dw_rows_t g;
    int32_t b, c, o, r;
    const int32_t cols = (out_w - 1) * stride_w + 3, first = p->pad_left;  /* 0 or 1: last > first */
    const int32_t last = PB_MIN(first + p->in_w, cols);
    uint32_t *ring_end = ring + cols * (PB_DW_ROW_COL / 4);
    g.in_h = p->in_h, g.pad_top = p->pad_top, g.C = C, g.in_row = row_in;
    g.first = first * (PB_DW_ROW_COL / 4), g.last = last * (PB_DW_ROW_COL / 4);
    g.zlo = pb_sxtb16(zw), g.zhi = pb_sxtb16_hi(zw);
    /* the zero point everywhere once: padding columns are never written again */
    pb_dw_rows_pad(ring, ring_end, g.zlo, g.zhi);
    pb_dw_rows_pad(ring + 2, ring_end + 2, g.zlo, g.zhi);
    pb_dw_rows_pad(ring + 4, ring_end + 4, g.zlo, g.zhi);
    for (b = 0; b < p->batches; ++b) {
        const int8_t *in = input + b * p->in_h * row_in;
        int8_t *out_b = output + b * out_h * row_out;
        for (c = 0; c < C; c += 4) {
            const int32_t *block = p->weights + (c / 4) * PB_DW_ROWS_WORDS;
            int8_t *out = out_b + c;
            int32_t pos = 0, top = 0;  /* ring positions of the next row to widen, of the output row's first */
            for (o = 0, r = 0; o < out_h; ++o, out += row_out) {
                for (; r < o * s + 3; ++r) {
                    pb_dw_rows_widen(&g, in + c, r, ring + 2 * pos);
                    pos = pos == 2 ? 0 : pos + 1;
                }
                pb_dw_rows_line(ring + 2 * top, block, out, C, out_w, stride_w);
                top += s;  /* s is 1 or 2 */
                top -= top >= 3 ? 3 : 0;
            }
        }
    }
}

/* Each form as an entry of its own, all with one signature: generated code calls the one
 * its layer's constants select (dw_instance() in compiler/ops/tiers/dsp.py picks it at
 * generation time), so a firmware links only the forms its models use. */
#define PB_FAST_DW_ENTRY(form)                                                                      \
    void form##_s8(const pb_fast_dw_params_t *p, const int8_t *input, int8_t *output, void *scratch) \
    {                                                                                               \
        (void)scratch;                                                                              \
        form(p, input, output);                                                                     \
    }

PB_FAST_DW_ENTRY(pb_fast_dw_3x3_fast_full)
PB_FAST_DW_ENTRY(pb_fast_dw_3x3_fast_clamped)
PB_FAST_DW_ENTRY(pb_fast_dw_3x3_exact)
PB_FAST_DW_ENTRY(pb_fast_dw_any_fast_full)
PB_FAST_DW_ENTRY(pb_fast_dw_any_fast_clamped)
PB_FAST_DW_ENTRY(pb_fast_dw_any_exact)
PB_FAST_DW_ENTRY(pb_fast_dw_multiplier_fast)
PB_FAST_DW_ENTRY(pb_fast_dw_multiplier_exact)

void pb_fast_dw_lines_s8(const pb_fast_dw_params_t *p, const int8_t *input, int8_t *output, void *scratch)
{
    pb_fast_dw_lines(p, input, output, (uint32_t *)scratch);
}

void pb_fast_dw_rows_s8(const pb_fast_dw_params_t *p, const int8_t *input, int8_t *output, void *scratch)
{
    pb_fast_dw_rows(p, input, output, (uint32_t *)scratch);
}

/* ---- one input channel: a convolution with in_c 1 ---------------------------------------- */

/* Two output pixels at a time: each one's taps, filter row by filter row (run values
 * each, then zeros up to an even number of blocks), widened into int16 words in SXTB16
 * order, (x0,x2) then (x1,x3) per block of 4, the two pixels interleaved per block (pixel
 * 0's two words, then pixel 1's). The weights match (tiers/dsp.py): per channel pair and
 * block, channel 0's two words, then channel 1's. Rows wholly inside the input take word
 * loads; others, byte by byte with the zero point for padding. */

static PB_ALWAYS_INLINE uint32_t *pb_dw_one_widen(uint32_t v, uint32_t *dst)
{
    dst[0] = pb_sxtb16(v);
    dst[1] = pb_sxtb16_hi(v);
    return dst + 4;
}

/* One pixel's taps into slot dst (cols, or cols + 2 for the second pixel). A filter row
 * that is partly outside the input is first assembled in buf (run bytes, word-aligned):
 * the zero point, then the taps inside. Every parameter is read into a local first: the
 * stores through dst may alias p. */
static PB_ALWAYS_INLINE void pb_dw_one_taps(const pb_fast_dw_one_params_t *p, const int8_t *in_b, int32_t iy0,
                                            int32_t ix0, uint32_t *dst, int32_t blocks)
{
    const int32_t run = p->run, in_w = p->in_w, in_h = p->in_h, dil_h = p->dilation_h, dil_w = p->dilation_w;
    const int32_t filter_h = p->filter_h, filter_w = p->filter_w;
    const uint32_t pad4 = 0x01010101u * (uint8_t)p->pad_value;
    const uint32_t pad_lo = pb_sxtb16(pad4), pad_hi = pb_sxtb16_hi(pad4);
    uint32_t *end = dst + 4 * blocks;
    const int cols_inside = dil_w == 1 && ix0 >= 0 && ix0 + run <= in_w;
    int32_t ky, j;
    if (cols_inside && iy0 >= 0 && iy0 + (filter_h - 1) * dil_h < in_h) {
        const int8_t *row = in_b + iy0 * in_w + ix0;
        for (ky = 0; ky < filter_h; ++ky, row += dil_h * in_w) {
            for (j = 0; j < run; j += 4) {
                dst = pb_dw_one_widen(pb_load32(row + j), dst);
            }
        }
    } else {
        /* the taps kx in [k0, k1) lie inside the row */
        int32_t k0 = 0, k1 = filter_w;
        uint32_t buf[PB_FAST_DW_ONE_MAX_RUN / 4];
        while (k0 < k1 && ix0 + k0 * dil_w < 0) {
            ++k0;
        }
        while (k1 > k0 && ix0 + (k1 - 1) * dil_w >= in_w) {
            --k1;
        }
        for (ky = 0; ky < filter_h; ++ky) {
            const int32_t iy = iy0 + ky * dil_h;
            if (iy < 0 || iy >= in_h) {
                for (j = 0; j < run; j += 4, dst += 4) {
                    dst[0] = pad_lo;
                    dst[1] = pad_hi;
                }
            } else if (cols_inside) {
                const int8_t *row = in_b + iy * in_w + ix0;
                for (j = 0; j < run; j += 4) {
                    dst = pb_dw_one_widen(pb_load32(row + j), dst);
                }
            } else {
                const int8_t *row = in_b + iy * in_w + ix0;
                int8_t *b8 = (int8_t *)buf;
                int32_t k;
                for (j = 0; j < run / 4; ++j) {
                    buf[j] = pad4;
                }
                for (k = k0; k < k1; ++k) {
                    b8[k] = row[k * dil_w];
                }
                for (j = 0; j < run / 4; ++j) {
                    dst = pb_dw_one_widen(buf[j], dst);
                }
            }
        }
    }
    if (dst != end) { /* the block that makes the count even: zero weights */
        dst[0] = dst[1] = 0;
    }
}

#if defined(PB_SIMD_DSP)

/* One block of 4 taps: two pixels by two channels, 16 MACs in 12 instructions. */
#define PB_DW_ONE_BLOCK                                    \
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

/* acc: pixel 0 channel 0, pixel 1 channel 0, pixel 0 channel 1, pixel 1 channel 1;
 * x_end - x: a multiple of 8 words (two blocks per turn). */
static PB_ALWAYS_INLINE const uint32_t *pb_dw_one_pair(const uint32_t *x, const uint32_t *x_end, const uint32_t *w,
                                                       int32_t *acc)
{
    int32_t c00 = acc[0], c10 = acc[1], c01 = acc[2], c11 = acc[3];
    uint32_t wa, wb, xa, xb, t, u;
    __asm__("1:\n\t" PB_DW_ONE_BLOCK PB_DW_ONE_BLOCK "cmp    %[x], %[x_end]\n\tbne    1b\n\t"
            : [c00] "+r"(c00), [c10] "+r"(c10), [c01] "+r"(c01), [c11] "+r"(c11), [x] "+r"(x), [w] "+r"(w),
              [wa] "=&r"(wa), [wb] "=&r"(wb), [xa] "=&r"(xa), [xb] "=&r"(xb), [t] "=&r"(t), [u] "=&r"(u)
            : [x_end] "r"(x_end)
            : "cc", "memory");
    acc[0] = c00, acc[1] = c10, acc[2] = c01, acc[3] = c11;
    return w;
}

#else

static PB_ALWAYS_INLINE const uint32_t *pb_dw_one_pair(const uint32_t *x, const uint32_t *x_end, const uint32_t *w,
                                                       int32_t *acc)
{
    int32_t c00 = acc[0], c10 = acc[1], c01 = acc[2], c11 = acc[3];
    for (; x != x_end; x += 4, w += 4) {
        c00 = pb_smlad(x[1], w[1], pb_smlad(x[0], w[0], c00));
        c10 = pb_smlad(x[3], w[1], pb_smlad(x[2], w[0], c10));
        c01 = pb_smlad(x[1], w[3], pb_smlad(x[0], w[2], c01));
        c11 = pb_smlad(x[3], w[3], pb_smlad(x[2], w[2], c11));
    }
    acc[0] = c00, acc[1] = c10, acc[2] = c01, acc[3] = c11;
    return w;
}

#endif /* PB_SIMD_DSP */

static PB_ALWAYS_INLINE void pb_dw_one_run(const pb_fast_dw_one_params_t *p, const int8_t *input, int8_t *output,
                                           uint32_t *cols, int mode, int full_range)
{
    const int32_t oc = p->out_c, blocks = (p->filter_h * p->run / 4 + 1) & ~1;
    const int doubled = mode == PB_REQUANT_FAST;
    const int32_t rows = p->batches * p->out_h * p->out_w;
    const uint32_t *cols_end = cols + 4 * blocks;
    pb_fast_out_t o;
    int32_t r, c, b = 0, oy = 0, ox = 0;
    const int8_t *in_b = input;
    o.output_offset = p->output_offset;
    o.act_min = p->act_min;
    o.act_max = p->act_max;
    for (r = 0; r < rows; r += 2) {
        const int two = r + 1 < rows;
        int8_t *out0 = output + r * oc, *out1 = out0 + oc;
        const uint32_t *w = (const uint32_t *)p->weights;
        const int32_t *q = p->quant;
        int k;
        /* a last pixel alone leaves slot 1 as it was: computed, never stored */
        for (k = 0; k < 1 + two; ++k) {
            pb_dw_one_taps(p, in_b, oy * p->stride_h - p->pad_top, ox * p->stride_w - p->pad_left, cols + 2 * k,
                           blocks);
            if (++ox == p->out_w) {
                ox = 0;
                if (++oy == p->out_h) {
                    oy = 0;
                    ++b;
                    in_b = input + b * p->in_h * p->in_w;
                }
            }
        }
        for (c = 0; c < oc; c += 2, q += 2 * PB_QUANT_WORDS) {
            int32_t acc[4];
            acc[0] = acc[1] = q[0];
            acc[2] = acc[3] = q[PB_QUANT_WORDS];
            w = pb_dw_one_pair(cols, cols_end, w, acc);
            out0[c] = pb_fast_out(acc[0], pb_fast_q(q), o, mode, doubled, full_range);
            if (two) {
                out1[c] = pb_fast_out(acc[1], pb_fast_q(q), o, mode, doubled, full_range);
            }
            if (c + 1 < oc) {
                const pb_fast_q_t q1 = pb_fast_q(q + PB_QUANT_WORDS);
                out0[c + 1] = pb_fast_out(acc[2], q1, o, mode, doubled, full_range);
                if (two) {
                    out1[c + 1] = pb_fast_out(acc[3], q1, o, mode, doubled, full_range);
                }
            }
        }
    }
}

void pb_fast_dw_one_s8(const pb_fast_dw_one_params_t *p, const int8_t *input, int8_t *output, void *scratch)
{
    uint32_t *cols = (uint32_t *)scratch;
    if (p->requant != PB_REQUANT_FAST) {
        pb_dw_one_run(p, input, output, cols, PB_REQUANT_EXACT, 0);
    } else if (p->act_min == -128 && p->act_max == 127) {
        pb_dw_one_run(p, input, output, cols, PB_REQUANT_FAST, 1);
    } else {
        pb_dw_one_run(p, input, output, cols, PB_REQUANT_FAST, 0);
    }
}
