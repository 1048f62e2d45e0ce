/* Fast int8 CONV_2D / FULLY_CONNECTED as one blocked matrix multiply, DSP tier
 * (DEPTHWISE_CONV_2D is pb_depthwise_conv.c; the Helium tier's is mve/pb_conv.c).
 *
 * Data layouts (protobrain/compiler/ops/tiers/dsp.py), for Cortex-M4/M7/M33 and, in plain
 * C with the same arithmetic, for any other target:
 *   mm weights: output channels in pairs, depth in blocks of 4: for pair b and block j,
 *     two words = 4 int8 of channel 2b, then 4 int8 of channel 2b+1; or, wide, four words
 *     of int16 pairs (w0,w2), (w1,w3) per channel, holding 2 * w when the requantization
 *     is FAST (the bias is doubled too, so the accumulator is the high multiply's operand);
 *     or, lean, int8 as the first form with each word's odd bytes coded so that its int16
 *     lanes are 256 * w1 + w0 and 256 * w3 + w2 (byte 1 holds w1 - (w0 < 0)): one SXTB16
 *     per word instead of two (pb_fast_lean_row).
 *   mm scratch: two im2col rows widened to int16 and interleaved per block of 4 values
 *     (x0,x2 | x1,x3 of row 0, then of row 1: SXTB16 order), then, when in_c is not a
 *     multiple of 4, the int8 im2col row they are widened from.
 *   Requantization follows each block's multiply, from the registers (no accumulator
 *   buffer).
 *
 * Inner loops never branch on data, so an inference takes the same time whatever its
 * input. */
#include <string.h>

#include "pb_conv.h"

#if defined(PB_TIER_MVE)
#error "this is the DSP tier's matrix multiply; a model generated for the MVE tier uses the Helium one"
#endif

/* The weight forms (pb_fast_mm_params_t's wide_weights and lean_weights). */
#define PB_MM_INT8 0
#define PB_MM_WIDE 1
#define PB_MM_LEAN 2

/* n bytes, usually few (one tap or one filter row): word moves, then the odd bytes,
 * inline; a library call costs more than the copy itself at these sizes. */
static PB_ALWAYS_INLINE void pb_fast_copy(int8_t *dst, const int8_t *src, int32_t n)
{
    if (n >= 64) {
        memcpy(dst, src, (size_t)n);
        return;
    }
    for (; n >= 4; n -= 4, dst += 4, src += 4) {
        pb_store32(dst, pb_load32(src));
    }
    for (; n > 0; --n) {
        *dst++ = *src++;
    }
}

static PB_ALWAYS_INLINE void pb_fast_fill(int8_t *dst, int32_t value, int32_t n)
{
    const uint32_t word = 0x01010101u * (uint8_t)value;
    for (; n >= 4; n -= 4, dst += 4) {
        pb_store32(dst, word);
    }
    for (; n > 0; --n) {
        *dst++ = (int8_t)value;
    }
}

/* Zeros from `depth` up to depth_pad (a multiple of 4, at most 16 beyond depth rounded down
 * to 4) as whole words, written before the taps, which then overwrite the leading bytes of
 * the first word. Straight-line stores: a loop here would become a memset call per row. */
static PB_ALWAYS_INLINE void pb_fast_zero_tail(int8_t *row, int32_t depth, int32_t depth_pad)
{
    const int32_t k = depth & ~3;
    if (k < depth_pad) {
        pb_store32(row + k, 0);
    }
    if (k + 4 < depth_pad) {
        pb_store32(row + k + 4, 0);
    }
    if (k + 8 < depth_pad) {
        pb_store32(row + k + 8, 0);
    }
    if (k + 12 < depth_pad) {
        pb_store32(row + k + 12, 0);
    }
}

/* An output pixel's window, stepped pixel by pixel (no division per row): its batch's
 * input, its top-left input pixel (maybe in the padding), and the output pixel. */
typedef struct {
    const int8_t *in_b;
    int32_t iy0, ix0, oy, ox;
} pb_fast_window_t;

static PB_ALWAYS_INLINE void pb_fast_window_next(const pb_fast_mm_params_t *p, pb_fast_window_t *win)
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

/* Whether the window lies wholly inside the input with contiguous filter rows
 * (dilation_w 1), the common case: each filter row is then one run of filter_w * in_c
 * bytes, dilation_h input rows after the previous one. */
static PB_ALWAYS_INLINE int pb_fast_inside(const pb_fast_mm_params_t *p, const pb_fast_window_t *win)
{
    return p->dilation_w == 1 && win->ix0 >= 0 && win->ix0 + p->filter_w <= p->in_w && win->iy0 >= 0 &&
           win->iy0 + (p->filter_h - 1) * p->dilation_h < p->in_h;
}

static PB_ALWAYS_INLINE const int8_t *pb_fast_window_start(const pb_fast_mm_params_t *p, const pb_fast_window_t *win)
{
    return win->in_b + (win->iy0 * p->in_w + win->ix0) * p->in_c;
}

/* One im2col row: the taps of one output pixel in filter order, padding taps set to the
 * zero point, then zeros from depth up to depth_pad (their weights are zero). Filter rows
 * start row_step bytes apart: the run of taps, or row_pad (the bytes between are never
 * written; their weights are zero). */
static void pb_fast_im2col(const pb_fast_mm_params_t *p, const pb_fast_window_t *win, int8_t *dst,
                           int32_t row_step, int32_t depth)
{
    const int32_t run = p->filter_w * p->in_c;
    int32_t ky, kx;
    pb_fast_zero_tail(dst, depth, p->depth_pad);
    if (pb_fast_inside(p, win)) {
        const int8_t *src = pb_fast_window_start(p, win);
        const int32_t step = p->dilation_h * p->in_w * p->in_c;
        for (ky = 0; ky < p->filter_h; ++ky, dst += row_step, src += step) {
            pb_fast_copy(dst, src, run);
        }
        return;
    }
    for (ky = 0; ky < p->filter_h; ++ky, dst += row_step - run) {
        const int32_t iy = win->iy0 + ky * p->dilation_h;
        if (iy < 0 || iy >= p->in_h) {
            pb_fast_fill(dst, p->pad_value, run);
            dst += run;
            continue;
        }
        for (kx = 0; kx < p->filter_w; ++kx, dst += p->in_c) {
            const int32_t ix = win->ix0 + kx * p->dilation_w;
            if (ix >= 0 && ix < p->in_w) {
                pb_fast_copy(dst, win->in_b + (iy * p->in_w + ix) * p->in_c, p->in_c);
            } else {
                pb_fast_fill(dst, p->pad_value, p->in_c);
            }
        }
    }
}


/* ---- DSP tier ------------------------------------------------------------------------ */

/* ---- CONV_2D / FULLY_CONNECTED: the im2col rows, widened ---------------------------- */

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

#if defined(PB_SIMD_DSP)
/* Eight int8 values from src widened into two interleaved slots at dst (SXTB16 order),
 * both pointers stepped: LDRD/STRD need word-aligned src and dst. */
#define PB_WIDEN_8                                  \
    "ldrd   %[v], %[u], [%[src]], #8\n\t"           \
    "sxtb16 %[a], %[v]\n\t"                         \
    "sxtb16 %[b], %[v], ror #8\n\t"                 \
    "strd   %[a], %[b], [%[dst]], #16\n\t"          \
    "sxtb16 %[a], %[u]\n\t"                         \
    "sxtb16 %[b], %[u], ror #8\n\t"                 \
    "strd   %[a], %[b], [%[dst]], #16\n\t"
#endif

/* n int8 values (a multiple of 4) widened into the interleaved slots at dst, 16 bytes
 * apart per block of 4. A pointer-bounded loop with nothing to reload: the stores may
 * alias any int8 data, so a bound read through p would be read again every turn. */
static PB_ALWAYS_INLINE void pb_fast_widen_run(const int8_t *src, int32_t n, uint32_t *dst)
{
    const int8_t *end = src + n;
#if defined(PB_SIMD_DSP)
    if ((n & 7) == 0 && n != 0) {
        /* two blocks per turn, 9 instructions: taps start at multiples of in_c (a multiple
         * of 8 here) from an 8-aligned tensor, and the slots are word-aligned, as LDRD and
         * STRD need */
        uint32_t v, u, a, b;
        /* volatile: its only effect is the stores (the outputs are dead after it) */
        __asm__ volatile("1:\n\t" PB_WIDEN_8
                 "cmp    %[src], %[end]\n\t"
                 "bne    1b\n\t"
                 : [src] "+r"(src), [dst] "+r"(dst), [v] "=&r"(v), [u] "=&r"(u), [a] "=&r"(a), [b] "=&r"(b)
                 : [end] "r"(end)
                 : "cc", "memory");
        return;
    }
#endif
    for (; src != end; src += 4, dst += 4) {
        const uint32_t v = pb_load32(src);
        dst[0] = pb_sxtb16(v);
        dst[1] = pb_sxtb16_hi(v);
    }
}

/* A window wholly inside the input: filter_h runs of n values (n a multiple of 4), `gap`
 * bytes apart, widened into the interleaved slots at dst; every run starts at a word (in_c
 * a multiple of 4), as LDRD needs. */
static PB_ALWAYS_INLINE uint32_t *pb_fast_widen_window(const int8_t *src, int32_t n, int32_t gap, int32_t filter_h,
                                                       uint32_t *dst)
{
#if defined(PB_SIMD_DSP)
    if ((n & 7) == 0 && n != 0) {
        /* the whole window in one loop nest, two blocks per turn (LDRD/STRD as in
         * pb_fast_widen_run) */
        uint32_t v, u, a, b;
        const int8_t *end;
        __asm__ volatile("1:\n\t"
                         "add    %[end], %[src], %[n]\n"
                         "2:\n\t" PB_WIDEN_8
                         "cmp    %[src], %[end]\n\t"
                         "bne    2b\n\t"
                         "add    %[src], %[src], %[gap]\n\t"
                         "subs   %[kh], %[kh], #1\n\t"
                         "bne    1b\n\t"
                         : [src] "+r"(src), [dst] "+r"(dst), [kh] "+r"(filter_h), [v] "=&r"(v), [u] "=&r"(u),
                           [a] "=&r"(a), [b] "=&r"(b), [end] "=&r"(end)
                         : [n] "r"(n), [gap] "r"(gap)
                         : "cc", "memory");
        return dst;
    }
#endif
    for (; filter_h > 0; --filter_h, src += n + gap, dst += n) {
        pb_fast_widen_run(src, n, dst);
    }
    return dst;
}

static PB_ALWAYS_INLINE uint32_t *pb_fast_widen_fill(uint32_t lo, uint32_t hi, int32_t n, uint32_t *dst)
{
    uint32_t *end = dst + n; /* n values: n / 4 blocks of four words */
    for (; dst != end; dst += 4) {
        dst[0] = lo;
        dst[1] = hi;
    }
    return dst;
}

/* in_c a multiple of 4: every block of 4 depth values lies in one tap, so a pixel's row is
 * widened straight from the input (or the zero point) into slot r, without the int8 row in
 * between. */
static void pb_fast_widen_taps(const pb_fast_mm_params_t *p, const pb_fast_window_t *win, uint32_t *cols,
                               int32_t r)
{
    const int32_t in_c = p->in_c, in_w = p->in_w, filter_h = p->filter_h, filter_w = p->filter_w;
    const int32_t run = filter_w * in_c;
    uint32_t *dst = cols + 2 * r;
    uint32_t pad_lo, pad_hi;
    int32_t ky, kx;
    if (pb_fast_inside(p, win)) {
        dst = pb_fast_widen_window(pb_fast_window_start(p, win), run, p->dilation_h * in_w * in_c - run, filter_h,
                                   dst);
        pb_fast_widen_fill(0, 0, p->depth_pad - p->depth, dst);
        return;
    }
    pad_lo = pb_sxtb16(0x01010101u * (uint8_t)p->pad_value);
    pad_hi = pb_sxtb16_hi(0x01010101u * (uint8_t)p->pad_value);
    for (ky = 0; ky < filter_h; ++ky) {
        const int32_t iy = win->iy0 + ky * p->dilation_h;
        if (iy < 0 || iy >= p->in_h) {
            dst = pb_fast_widen_fill(pad_lo, pad_hi, run, dst);
            continue;
        }
        for (kx = 0; kx < filter_w; ++kx) {
            const int32_t ix = win->ix0 + kx * p->dilation_w;
            if (ix >= 0 && ix < in_w) {
                pb_fast_widen_run(win->in_b + (iy * in_w + ix) * in_c, in_c, dst);
                dst += in_c;
            } else {
                dst = pb_fast_widen_fill(pad_lo, pad_hi, in_c, dst);
            }
        }
    }
    pb_fast_widen_fill(0, 0, p->depth_pad - p->depth, dst);
}

/* Split rows (in_c not a multiple of 4, dilation_w 1: an RGB image's first layer): each
 * filter row's run of filter_w * in_c taps is split into its whole words (body, run
 * rounded down to 4) and its last run % 4 taps (tail). The depth holds every filter row's
 * body, then every row's tail, four to a word, then zeros up to depth_pad; the generator
 * orders the weights alike (dsp.py's _split_taps). No tap is padded, and a window inside
 * the input is widened straight from it, word loads from any byte. */
static PB_ALWAYS_INLINE void pb_fast_widen_split(const int8_t *src, int32_t stride, int32_t filter_h, int32_t body,
                                                 int32_t tail, int32_t blocks, uint32_t *dst)
{
    const uint32_t *end = dst + 4 * blocks;
    const int8_t *row;
    uint32_t word = 0;
    int32_t ky, j, n = 0;
#if defined(PB_SIMD_DSP)
    if (body != 0) {
        /* one block per turn, word loads from any byte (LDR takes unaligned addresses) */
        uint32_t v, a, b;
        const int8_t *stop;
        row = src;
        ky = filter_h;
        __asm__ volatile("1:\n\t"
                         "add    %[stop], %[row], %[body]\n"
                         "2:\n\t"
                         "ldr    %[v], [%[row]], #4\n\t"
                         "sxtb16 %[a], %[v]\n\t"
                         "sxtb16 %[b], %[v], ror #8\n\t"
                         "strd   %[a], %[b], [%[dst]], #16\n\t"
                         "cmp    %[row], %[stop]\n\t"
                         "bne    2b\n\t"
                         "add    %[row], %[row], %[gap]\n\t"
                         "subs   %[kh], %[kh], #1\n\t"
                         "bne    1b\n\t"
                         : [row] "+r"(row), [dst] "+r"(dst), [kh] "+r"(ky), [v] "=&r"(v), [a] "=&r"(a),
                           [b] "=&r"(b), [stop] "=&r"(stop)
                         : [body] "r"(body), [gap] "r"(stride - body)
                         : "cc", "memory");
    }
#else
    for (ky = 0, row = src; ky < filter_h; ++ky, row += stride) {
        for (j = 0; j < body; j += 4, dst += 4) {
            const uint32_t v = pb_load32(row + j);
            dst[0] = pb_sxtb16(v);
            dst[1] = pb_sxtb16_hi(v);
        }
    }
#endif
    for (ky = 0, row = src + body; tail != 0 && ky < filter_h; ++ky, row += stride) {
        for (j = 0; j < tail; ++j) {
            word |= (uint32_t)(uint8_t)row[j] << (8 * n);
            if (++n == 4) {
                dst[0] = pb_sxtb16(word);
                dst[1] = pb_sxtb16_hi(word);
                dst += 4;
                word = 0;
                n = 0;
            }
        }
    }
    for (; dst != end; dst += 4) { /* the last tail word (its bytes past the taps zero), then zeros */
        dst[0] = pb_sxtb16(word);
        dst[1] = pb_sxtb16_hi(word);
        word = 0;
    }
}

#if defined(PB_SIMD_DSP)
/* pb_fast_widen_split for the most common split layer, a 3x3 window on 3 channels (run 9:
 * two body words and one tail tap per filter row, 28 values): 34 instructions. With
 * depth_pad 32 (the generic loop's blocks of 8) the caller zeroes the last block. */
static PB_ALWAYS_INLINE void pb_fast_widen_split_3x9(const int8_t *src, int32_t stride, uint32_t *dst)
{
    uint32_t v, a, b, t, u;
#define PB_SPLIT_WORD(at, slot)                   \
    "ldr    %[v], [%[src], #" #at "]\n\t"          \
    "sxtb16 %[a], %[v]\n\t"                       \
    "sxtb16 %[b], %[v], ror #8\n\t"               \
    "strd   %[a], %[b], [%[dst], #" #slot "]\n\t"
    __asm__ volatile(PB_SPLIT_WORD(0, 0) PB_SPLIT_WORD(4, 16)
                     "ldrb   %[t], [%[src], #8]\n\t"
                     "add    %[src], %[src], %[stride]\n\t"
                     PB_SPLIT_WORD(0, 32) PB_SPLIT_WORD(4, 48)
                     "ldrb   %[u], [%[src], #8]\n\t"
                     "add    %[src], %[src], %[stride]\n\t"
                     "orr    %[t], %[t], %[u], lsl #8\n\t"
                     PB_SPLIT_WORD(0, 64) PB_SPLIT_WORD(4, 80)
                     "ldrb   %[u], [%[src], #8]\n\t"
                     "orr    %[t], %[t], %[u], lsl #16\n\t"
                     "sxtb16 %[a], %[t]\n\t"
                     "sxtb16 %[b], %[t], ror #8\n\t"
                     "strd   %[a], %[b], [%[dst], #96]\n\t"
                     : [src] "+r"(src), [v] "=&r"(v), [a] "=&r"(a), [b] "=&r"(b), [t] "=&r"(t), [u] "=&r"(u)
                     : [dst] "r"(dst), [stride] "r"(stride)
                     : "cc", "memory");
#undef PB_SPLIT_WORD
}
#endif

/* A pixel's window in the split layout into slot r: straight from the input when inside
 * it, else from its int8 im2col row (the taps contiguous, padding taps the zero point). */
static void pb_fast_widen_split_window(const pb_fast_mm_params_t *p, const pb_fast_window_t *win, uint32_t *cols,
                                       int32_t r, int8_t *row)
{
    const int32_t run = p->filter_w * p->in_c, filter_h = p->filter_h;
    const int8_t *src = row;
    int32_t stride = run;
    uint32_t *dst = cols + 2 * r;
    if (pb_fast_inside(p, win)) {
        src = pb_fast_window_start(p, win);
        stride = p->dilation_h * p->in_w * p->in_c;
    } else {
        pb_fast_im2col(p, win, row, run, p->depth);
    }
#if defined(PB_SIMD_DSP)
    if (filter_h == 3 && run == 9 && (p->depth_pad == 28 || p->depth_pad == 32)) {
        pb_fast_widen_split_3x9(src, stride, dst);
        if (p->depth_pad == 32) {
            dst[28] = dst[29] = 0;
        }
        return;
    }
#endif
    pb_fast_widen_split(src, stride, filter_h, run & ~3, run & 3, p->depth_pad >> 2, dst);
}

/* Lean weights: slot r's widened pairs X02 = (x0, x2), X13 = (x1, x3) of each block become
 * U = (x1 - 127, x3 - 127), multiplied by the weight word itself (lanes 256 * w1 + w0,
 * 256 * w3 + w2), and V = (256 * x0 - x1 + 127, 256 * x2 - x3 + 127), multiplied by its
 * SXTB16 (w0, w2): U and V sum to 256 * (the block's dot product - 127 * (w1 + w3)), the
 * w0 and w2 terms cancelling. Both stay within int16 (x1 - 127 in [-255, 0]); the generator
 * folds 256 * 127 * (the odd weights' sum) into the bias and proves that 256 * the
 * accumulator stays within int32 (dsp.py's _lean_fits). */
static void pb_fast_lean_row(uint32_t *cols, int32_t blocks, int32_t r)
{
    uint32_t *x = cols + 2 * r;
    const uint32_t *end = x + 4 * blocks;
    for (; x != end; x += 4) {
        const uint32_t u = pb_ssub16(x[1], 0x007F007Fu);
        x[1] = pb_ssub16((x[0] << 8) & 0xFF00FF00u, u);
        x[0] = u;
    }
}

/* Scratch: the two widened rows (depth_pad words), then one int8 im2col row (depth_pad
 * bytes) when in_c is not a multiple of 4. w1 is ignored unless two_rows. */
static PB_ALWAYS_INLINE void pb_fast_mm_prepare(const pb_fast_mm_params_t *p, const pb_fast_window_t *w0,
                                                const pb_fast_window_t *w1, int two_rows, uint32_t *cols, int form)
{
    int8_t *row = (int8_t *)(cols + p->depth_pad);
    if ((p->in_c & 3) == 0) {
        pb_fast_widen_taps(p, w0, cols, 0);
        if (two_rows) {
            pb_fast_widen_taps(p, w1, cols, 1);
        }
    } else if (p->split_rows) {
        pb_fast_widen_split_window(p, w0, cols, 0, row);
        if (two_rows) {
            pb_fast_widen_split_window(p, w1, cols, 1, row);
        }
    } else {
        pb_fast_im2col(p, w0, row, p->filter_w * p->in_c, p->depth);
        pb_fast_widen(row, p->depth_pad >> 2, cols, 0);
        if (two_rows) {
            pb_fast_im2col(p, w1, row, p->filter_w * p->in_c, p->depth);
            pb_fast_widen(row, p->depth_pad >> 2, cols, 1);
        }
    }
    if (form == PB_MM_LEAN) {
        pb_fast_lean_row(cols, p->depth_pad >> 2, 0);
        if (two_rows) {
            pb_fast_lean_row(cols, p->depth_pad >> 2, 1);
        }
    }
}

/* ---- the multiply ---------------------------------------------------------------------- */

/* The inner loops over the depth, for two output channels and one or two rows. x: the
 * interleaved widened rows (four words per block of 4 depth values: row 0's pairs, then
 * row 1's), up to x_end, two blocks per turn. Weights per block: int8 (two words, one per
 * channel, widened here by SXTB16) or, with wide weights, int16 pairs already in SXTB16
 * order (four words), or lean int8 (two words: each word itself and its SXTB16, against
 * the rows' U and V words). On the DSP extension they are written out so every operand
 * stays in a register; elsewhere the same arithmetic in C. Per 16 MACs over two rows:
 * int8 weights 15 instructions, lean 13, wide 12; over one row 20, 16 and 14. */
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
    "ldmia  %[x]!, {%[xa], %[xb], %[t], %[u]}\n\t"         \
    "ldrd   %[wa], %[wb], [%[w]], #8\n\t"                  \
    "smlad  %[c00], %[xa], %[wa], %[c00]\n\t"              \
    "smlad  %[c00], %[xb], %[wb], %[c00]\n\t"              \
    "smlad  %[c10], %[t], %[wa], %[c10]\n\t"               \
    "smlad  %[c10], %[u], %[wb], %[c10]\n\t"               \
    "ldrd   %[wa], %[wb], [%[w]], #8\n\t"                  \
    "smlad  %[c01], %[xa], %[wa], %[c01]\n\t"              \
    "smlad  %[c01], %[xb], %[wb], %[c01]\n\t"              \
    "smlad  %[c11], %[t], %[wa], %[c11]\n\t"               \
    "smlad  %[c11], %[u], %[wb], %[c11]\n\t"

/* lean: the weight words against U first, then their SXTB16 in place against V */
#define PB_MM_L8x2                                         \
    "ldrd   %[wa], %[wb], [%[w]], #8\n\t"                  \
    "ldmia  %[x]!, {%[xa], %[xb], %[t], %[u]}\n\t"         \
    "smlad  %[c00], %[xa], %[wa], %[c00]\n\t"              \
    "smlad  %[c10], %[t], %[wa], %[c10]\n\t"               \
    "smlad  %[c01], %[xa], %[wb], %[c01]\n\t"              \
    "smlad  %[c11], %[t], %[wb], %[c11]\n\t"               \
    "sxtb16 %[wa], %[wa]\n\t"                              \
    "sxtb16 %[wb], %[wb]\n\t"                              \
    "smlad  %[c00], %[xb], %[wa], %[c00]\n\t"              \
    "smlad  %[c10], %[u], %[wa], %[c10]\n\t"               \
    "smlad  %[c01], %[xb], %[wb], %[c01]\n\t"              \
    "smlad  %[c11], %[u], %[wb], %[c11]\n\t"

#define PB_MM_L8x1                                         \
    "ldrd   %[wa], %[wb], [%[w]], #8\n\t"                  \
    "ldrd   %[xa], %[xb], [%[x]], #16\n\t"                 \
    "smlad  %[c00], %[xa], %[wa], %[c00]\n\t"              \
    "smlad  %[c01], %[xa], %[wb], %[c01]\n\t"              \
    "sxtb16 %[wa], %[wa]\n\t"                              \
    "sxtb16 %[wb], %[wb]\n\t"                              \
    "smlad  %[c00], %[xb], %[wa], %[c00]\n\t"              \
    "smlad  %[c01], %[xb], %[wb], %[c01]\n\t"

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

/* Eight blocks (32 depth values) per turn: the loop's compare and branch are 2 of 98
 * instructions. The rest of depth_pad / 8 modulo 4 goes first, as four and two blocks.
 * rem: that rest (0..3) when the caller knows it, -1 to work it out here. */
#define PB_MM_LOOP(body)                                                                                   \
    do {                                                                                                   \
        const int rest = rem >= 0 ? rem : (int)((((uintptr_t)x_end - (uintptr_t)x) >> 5) & 3);           \
        if (rest & 2) {                                                                                    \
            __asm__(body body body body : PB_MM_OUT : : "memory");                                          \
        }                                                                                                  \
        if (rest & 1) {                                                                                    \
            __asm__(body body : PB_MM_OUT : : "memory");                                                    \
        }                                                                                                  \
        if (rem == 0 || x != x_end) { /* rem == 0: depth_pad a multiple of 32, one turn or more */       \
            __asm__("1:\n\t" body body body body body body body body "cmp    %[x], %[x_end]\n\tbne    1b\n\t" \
                    : PB_MM_OUT : [x_end] "r"(x_end) : "cc", "memory");                                     \
        }                                                                                                  \
    } while (0)

static PB_ALWAYS_INLINE void pb_fast_mm_block(const uint32_t *x, const uint32_t *x_end, const uint32_t *w,
                                              int32_t *acc, int form, int two_rows, int rem)
{
    int32_t c00 = acc[0], c10 = acc[1], c01 = acc[2], c11 = acc[3];
    /* the two rows' words in registers in ascending order, so one LDM loads them (wide, lean) */
    register uint32_t xa __asm__("r8"), xb __asm__("r9"), t __asm__("r10"), u __asm__("r11");
    uint32_t wa, wb;
    if (form == PB_MM_WIDE && two_rows) {
        PB_MM_LOOP(PB_MM_16x2);
    } else if (form == PB_MM_LEAN && two_rows) {
        PB_MM_LOOP(PB_MM_L8x2);
    } else if (two_rows) {
        PB_MM_LOOP(PB_MM_8x2);
    } else if (form == PB_MM_WIDE) {
        PB_MM_LOOP(PB_MM_16x1);
    } else if (form == PB_MM_LEAN) {
        PB_MM_LOOP(PB_MM_L8x1);
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
                                              int32_t *acc, int form, int two_rows, int rem)
{
    int32_t c00 = acc[0], c10 = acc[1], c01 = acc[2], c11 = acc[3];
    (void)rem;
    for (; x != x_end; x += 4) {
        uint32_t a0, a1, b0, b1; /* channel 0's and channel 1's (w0,w2), (w1,w3); lean: word, SXTB16 */
        if (form == PB_MM_WIDE) {
            a0 = w[0], a1 = w[1], b0 = w[2], b1 = w[3];
            w += 4;
        } else if (form == PB_MM_LEAN) {
            a0 = w[0], a1 = pb_sxtb16(w[0]), b0 = w[1], b1 = pb_sxtb16(w[1]);
            w += 2;
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

/* Two channels (both, or only the first: `pair`) of one or two rows: multiply, then
 * requantize from the registers; each channel's quant words serve both rows. The second
 * channel's outputs are `step` bytes after the first's (1 unless channels are skipped). */
static PB_ALWAYS_INLINE void pb_fast_mm_pair(const uint32_t *cols, const uint32_t *cols_end, const uint32_t *w,
                                             const int32_t *q, const int32_t *shared, int8_t *out0, int8_t *out1,
                                             int32_t step,
                                             pb_fast_out_t o, int two_rows, int pair, int rem, int form, int mode,
                                             int doubled, int full_range)
{
    pb_fast_q_t q0, q1;
    int32_t acc[4];
    const int32_t qstep = shared ? 1 : PB_QUANT_WORDS;
    acc[0] = acc[1] = q[0];
    acc[2] = acc[3] = q[qstep];
    pb_fast_mm_block(cols, cols_end, w, acc, form, two_rows, rem);
    if (form == PB_MM_LEAN) {
        /* 256 * acc: FAST takes 2 * acc (its instances pass doubled), EXACT acc */
        const int down = mode == PB_REQUANT_FAST ? 7 : 8;
        acc[0] >>= down;
        acc[1] >>= down;
        acc[2] >>= down;
        acc[3] >>= down;
    }
    /* read after the multiply, so they take no registers during it */
    q0 = pb_fast_q(shared ? shared : q);
    q1 = pb_fast_q(shared ? shared : q + PB_QUANT_WORDS);
    out0[0] = pb_fast_out(acc[0], q0, o, mode, doubled, full_range);
    if (two_rows) {
        out1[0] = pb_fast_out(acc[1], q0, o, mode, doubled, full_range);
    }
    if (pair) {
        out0[step] = pb_fast_out(acc[2], q1, o, mode, doubled, full_range);
        if (two_rows) {
            out1[step] = pb_fast_out(acc[3], q1, o, mode, doubled, full_range);
        }
    }
}

/* Every computed output channel of rows r (out0) and r + 1 (out1, when two_rows); with
 * `sparse`, channel c is stored at out_index[c] (the index is padded, so [c + 1] exists). */
static PB_ALWAYS_INLINE void pb_fast_mm_channels(const pb_fast_mm_params_t *p, const uint32_t *cols, int8_t *out0,
                                                 int8_t *out1, pb_fast_out_t o, int two_rows, int form, int mode,
                                                 int doubled, int full_range, int sparse, int share)
{
    const uint32_t *w = (const uint32_t *)p->weights;
    const uint32_t *cols_end = cols + p->depth_pad;
    const int32_t pair_words = form == PB_MM_WIDE ? p->depth_pad : p->depth_pad >> 1;
    /* share: a constant in the common instances, so the NULL folds away */
    const int32_t *q = p->quant, *shared = share ? p->quant_shared : NULL;
    const int32_t qstep = shared ? 1 : PB_QUANT_WORDS;
    const int32_t *index = p->out_index;
    const int32_t even = p->out_c & ~1;
    const int rem = (p->depth_pad >> 3) & 3;
    int32_t oc;
    /* the loop once per rest of the depth in eight-block turns, so it is a constant in each */
#define PB_FAST_MM_PAIRS(rem_)                                                                               \
    for (oc = 0; oc < even; oc += 2, w += pair_words, q += 2 * qstep) {                                    \
        const int32_t at = sparse ? index[oc] : oc;                                                         \
        pb_fast_mm_pair(cols, cols_end, w, q, shared, out0 + at, out1 + at, sparse ? index[oc + 1] - at : 1, o, \
                        two_rows, 1, rem_, form, mode, doubled, full_range);                               \
    }
    if (!two_rows || form == PB_MM_INT8 || mode != PB_REQUANT_FAST) {
        /* the last row of an odd count, and the rarer forms: not worth four copies */
        PB_FAST_MM_PAIRS(-1)
    } else if (rem == 0) {
        PB_FAST_MM_PAIRS(0)
    } else if (rem == 1) {
        PB_FAST_MM_PAIRS(1)
    } else if (rem == 2) {
        PB_FAST_MM_PAIRS(2)
    } else {
        PB_FAST_MM_PAIRS(3)
    }
#undef PB_FAST_MM_PAIRS
    if (even != p->out_c) {
        const int32_t at = sparse ? index[oc] : oc;
        pb_fast_mm_pair(cols, cols_end, w, q, shared, out0 + at, out1 + at, 0, o, two_rows, 0, -1, form, mode,
                        doubled, full_range);
    }
}

/* Rows two at a time. With skipped channels, each row first gets the constant row. */
static PB_ALWAYS_INLINE void pb_fast_mm_rows(const pb_fast_mm_params_t *p, const int8_t *input, int8_t *output,
                                             uint32_t *cols, int form, int mode, int doubled, int full_range,
                                             int sparse, int share)
{
    const int32_t stride = p->out_stride;
    pb_fast_out_t o;
    int32_t r;
    pb_fast_window_t win0, win1;
    o.output_offset = p->output_offset;
    o.act_min = p->act_min;
    o.act_max = p->act_max;
    win0.in_b = input;
    win0.iy0 = -p->pad_top;
    win0.ix0 = -p->pad_left;
    win0.oy = win0.ox = 0;
    for (r = 0; r < p->rows; r += 2) {
        const int two_rows = r + 1 < p->rows;
        int8_t *out0 = output + r * stride, *out1 = two_rows ? out0 + stride : out0;
        win1 = win0;
        pb_fast_window_next(p, &win1);
        pb_fast_mm_prepare(p, &win0, &win1, two_rows, cols, form);
        win0 = win1;
        pb_fast_window_next(p, &win0);
        if (sparse) {
            pb_fast_copy(out0, (const int8_t *)p->const_row, stride);
            pb_fast_copy(out1, (const int8_t *)p->const_row, stride);
        }
        if (two_rows) {
            pb_fast_mm_channels(p, cols, out0, out1, o, 1, form, mode, doubled, full_range, sparse, share);
        } else {
            pb_fast_mm_channels(p, cols, out0, out1, o, 0, form, mode, doubled, full_range, sparse, share);
        }
    }
}

/* ---- the channel loop in one assembly routine --------------------------------------- */

/* Wide FAST full-range layers, whatever their depth:
 * the generic loop's per-pair set-up (its live values spilled around the multiply) costs
 * as much as a short depth's multiply (vww's first 3x3 convolution on RGB, 27 taps) and a
 * tenth of a long one. This form runs every channel pair of a row pair in one routine
 * that keeps the weight and quant pointers in registers and the rest in an 8-word frame
 * on the stack: per pair it multiplies the first block peeled (the accumulators start
 * from the biases), then the rest in turns of eight blocks, entered the first time at the
 * block that leaves a whole number of turns (every block 44 bytes of 32-bit instructions,
 * so the entry is the loop's end less 44 bytes a block, worked out once per layer call), and
 * requantizes the four outputs as pb_fast_out does. The generator (dsp.py's mm_instance)
 * picks it; dense, out_c must be even (no padding channel to store); sparse, an odd count's
 * last pair ends with a copy of its last channel (dsp.py's _duplicate_last). */
typedef struct {
    const uint32_t *cols;   /* the two interleaved widened rows */
    const uint32_t *x_end;  /* cols + depth_pad */
    const uint32_t *w;      /* the first pair's weights (wide layout) */
    const int32_t *q;       /* the first pair's quant words */
    int8_t *out0, *out1;    /* the next pair's outputs in rows 0 and 1; sparse: the rows */
    const int32_t *q_end;   /* quant + PB_QUANT_WORDS * out_c */
    const int32_t *index;   /* sparse: the next pair's output channels (out_index) */
    int32_t entry_back;     /* bytes from the turns' end back to the first turn's entry */
} pb_fast_short_t;

#if defined(PB_SIMD_DSP)
void pb_fast_mm_short_pairs(const pb_fast_short_t *f);
void pb_fast_mm_short_pairs_sparse(const pb_fast_short_t *f);

/* One block of 4 depth values for two rows (r6-r9) and the pair's two channels (r10,
 * r11 in turn), into c00 r2, c10 r3, c01 r4, c11 r5: 11 instructions, 44 bytes. */
#define PB_SHORT_BLOCK                        \
    "ldmia.w r0!, {r6-r9}\n\t"               \
    "ldrd   r10, r11, [r1], #8\n\t"           \
    "smlad  r2, r6, r10, r2\n\t"              \
    "smlad  r2, r7, r11, r2\n\t"              \
    "smlad  r3, r8, r10, r3\n\t"              \
    "smlad  r3, r9, r11, r3\n\t"              \
    "ldrd   r10, r11, [r1], #8\n\t"           \
    "smlad  r4, r6, r10, r4\n\t"              \
    "smlad  r4, r7, r11, r4\n\t"              \
    "smlad  r5, r8, r10, r5\n\t"              \
    "smlad  r5, r9, r11, r5\n\t"

/* One output: 2 * acc (doubled weights) in ra, multiplier r6, shift r7, rounding r8, into rd. */
#define PB_SHORT_OUT(rd, ra)                        \
    "sub    " rd ", r8, " ra ", lsr #31\n\t"        \
    "smmlar " rd ", " ra ", r6, " rd "\n\t"         \
    "asr    " rd ", " rd ", r7\n\t"                 \
    "ssat   " rd ", #8, " rd "\n\t"

/* The four outputs r9, r10 (channel 0, rows 0 and 1), r11, r12 (channel 1) stored: dense,
 * at the rows' next bytes; sparse, at the rows' bytes the index gives. */
#define PB_SHORT_STORE_DENSE                  \
    "ldrd   r2, r3, [sp, #16]\n\t"             \
    "strb   r9, [r2], #1\n\t"                 \
    "strb   r11, [r2], #1\n\t"                \
    "strb   r10, [r3], #1\n\t"                \
    "strb   r12, [r3], #1\n\t"                \
    "strd   r2, r3, [sp, #16]\n\t"
#define PB_SHORT_STORE_SPARSE                 \
    "ldrd   r2, r3, [sp, #16]\n\t"             \
    "ldr    r0, [sp, #28]\n\t"                \
    "ldrd   r6, r7, [r0], #8\n\t"             \
    "str    r0, [sp, #28]\n\t"                \
    "strb   r9, [r2, r6]\n\t"                 \
    "strb   r11, [r2, r7]\n\t"                \
    "strb   r10, [r3, r6]\n\t"                \
    "strb   r12, [r3, r7]\n\t"

/* frame on the stack: [0] cols, [4] x_end, [16] out0, [20] out1, [24] q_end, [28] index,
 * [32] the turns' entry (their end less entry_back); the weights (r1) and quant words (lr)
 * stepped in registers throughout. */
#define PB_SHORT_ROUTINE(name, store)                                                      \
        PB_ASM_FUNCTION(name)                                                              \
        "push   {r4-r11, lr}\n\t"                                                          \
        "ldm    r0, {r0-r8}\n\t"                                                           \
        "sub    sp, sp, #36\n\t"                                                           \
        "stm    sp, {r0-r7}\n\t"                                                           \
        "adr.w  r9, 3f\n\t"                                                                 \
        "sub    r9, r9, r8\n\t"                                                             \
        "orr    r9, r9, #1\n\t"                                                             \
        "str    r9, [sp, #32]\n\t"                                                          \
        "mov    r1, r2\n\t"                                                                 \
        "mov    lr, r3\n"                                                                   \
        "1:\n\t"                                                                            \
        "ldrd   r0, r12, [sp]\n\t"                                                          \
        "ldr    r2, [lr]\n\t"                                                               \
        "ldr    r4, [lr, #16]\n\t"                                                          \
        "ldmia.w r0!, {r6-r9}\n\t"                                                          \
        "ldrd   r10, r11, [r1], #8\n\t"                                                     \
        "smlad  r3, r8, r10, r2\n\t"                                                        \
        "smlad  r2, r6, r10, r2\n\t"                                                        \
        "smlad  r2, r7, r11, r2\n\t"                                                        \
        "smlad  r3, r9, r11, r3\n\t"                                                        \
        "ldrd   r10, r11, [r1], #8\n\t"                                                     \
        "smlad  r5, r8, r10, r4\n\t"                                                        \
        "smlad  r4, r6, r10, r4\n\t"                                                        \
        "smlad  r4, r7, r11, r4\n\t"                                                        \
        "smlad  r5, r9, r11, r5\n\t"                                                        \
        "ldr    r6, [sp, #32]\n\t"                                                          \
        "bx     r6\n"                                                                       \
        "2:\n\t"                                                                            \
        PB_SHORT_BLOCK PB_SHORT_BLOCK PB_SHORT_BLOCK PB_SHORT_BLOCK                         \
        PB_SHORT_BLOCK PB_SHORT_BLOCK PB_SHORT_BLOCK PB_SHORT_BLOCK                         \
        "3:\n\t"                                                                            \
        "cmp    r0, r12\n\t"                                                                \
        "bne    2b\n\t"                                                                     \
        "ldm    lr!, {r0, r6-r8}\n\t"                                                       \
        PB_SHORT_OUT("r9", "r2")                                                            \
        PB_SHORT_OUT("r10", "r3")                                                           \
        "ldm    lr!, {r0, r6-r8}\n\t"                                                       \
        PB_SHORT_OUT("r11", "r4")                                                           \
        PB_SHORT_OUT("r12", "r5")                                                           \
        store                                                                               \
        "ldr    r0, [sp, #24]\n\t"                                                          \
        "cmp    lr, r0\n\t"                                                                 \
        "bne    1b\n\t"                                                                     \
        "add    sp, sp, #36\n\t"                                                            \
        "pop    {r4-r11, pc}\n\t"                                                           \
        PB_ASM_END(name)

/* the dense routine and the sparse (skipped channels) one */
__asm__(PB_SHORT_ROUTINE(pb_fast_mm_short_pairs, PB_SHORT_STORE_DENSE));
__asm__(PB_SHORT_ROUTINE(pb_fast_mm_short_pairs_sparse, PB_SHORT_STORE_SPARSE));

#undef PB_SHORT_BLOCK
#undef PB_SHORT_OUT
#undef PB_SHORT_STORE_DENSE
#undef PB_SHORT_STORE_SPARSE
#undef PB_SHORT_ROUTINE
#endif

/* A pointwise layer's two pixels a and b (in_c values each, a multiple of 4) widened into
 * the interleaved slots: 1x1, stride 1, no padding, so output row r reads input pixel r
 * and needs no window. The blocks past in_c up to depth_pad are left as they are: their
 * weights are zero. */
static PB_ALWAYS_INLINE void pb_fast_widen_pointwise(const int8_t *a, const int8_t *b, int32_t in_c, uint32_t *cols)
{
    const int8_t *end = a + in_c;
    for (; a != end; a += 4, b += 4, cols += 4) {
        const uint32_t va = pb_load32(a), vb = pb_load32(b);
        cols[0] = pb_sxtb16(va);
        cols[1] = pb_sxtb16_hi(va);
        cols[2] = pb_sxtb16(vb);
        cols[3] = pb_sxtb16_hi(vb);
    }
}

/* Rows two at a time (an odd last row as a pair with itself, its outputs written twice),
 * each pair's channels through pb_fast_mm_short_pairs (sparse: each row first gets the
 * constant row, then the computed channels land where out_index puts them); elsewhere than
 * the DSP extension, the generic loop, whose results are the same. */
static PB_ALWAYS_INLINE void pb_fast_mm_short_rows(const pb_fast_mm_params_t *p, const int8_t *input,
                                                   int8_t *output, uint32_t *cols, int sparse)
{
#if defined(PB_SIMD_DSP)
    const int32_t stride = p->out_stride;
    pb_fast_short_t f;
    pb_fast_window_t win0, win1;
    int32_t r;
    const int pointwise = p->filter_h == 1 && p->filter_w == 1 && p->stride_h == 1 && p->stride_w == 1 &&
                          p->pad_top == 0 && p->pad_left == 0 && (p->in_c & 3) == 0 && p->in_h == p->out_h &&
                          p->in_w == p->out_w;
    win0.in_b = input;
    win0.iy0 = -p->pad_top;
    win0.ix0 = -p->pad_left;
    win0.oy = win0.ox = 0;
    f.cols = cols;
    f.x_end = cols + p->depth_pad;
    /* whole pairs: an odd sparse count's last pair ends with a copy of its last channel */
    f.q_end = p->quant + PB_QUANT_WORDS * ((p->out_c + 1) & ~1);
    f.w = (const uint32_t *)p->weights;
    f.q = p->quant;
    f.index = p->out_index;
    /* the blocks after the first, depth_pad / 4 - 1 >= 1 (dsp.py pads depth_pad to a multiple
     * of 4, at least 8): the first turn takes that count modulo 8 of them, or 8, each 44 bytes */
    f.entry_back = 44 * ((((p->depth_pad >> 2) - 2) & 7) + 1);
    for (r = 0; r < p->rows; r += 2) {
        const int two_rows = r + 1 < p->rows;
        if (pointwise) {  /* each row its input pixel: no window */
            const int8_t *a = input + r * p->in_c;
            pb_fast_widen_pointwise(a, two_rows ? a + p->in_c : a, p->in_c, cols);
        } else {
            win1 = win0;
            if (two_rows) {
                pb_fast_window_next(p, &win1);
            }
            pb_fast_mm_prepare(p, &win0, &win1, 1, cols, PB_MM_WIDE);
            win0 = win1;
            pb_fast_window_next(p, &win0);
        }
        f.out0 = output + r * stride;
        f.out1 = two_rows ? f.out0 + stride : f.out0;
        if (sparse) {
            pb_fast_copy(f.out0, (const int8_t *)p->const_row, stride);
            pb_fast_copy(f.out1, (const int8_t *)p->const_row, stride);
            pb_fast_mm_short_pairs_sparse(&f);
        } else {
            pb_fast_mm_short_pairs(&f);
        }
    }
#else
    pb_fast_mm_rows(p, input, output, cols, PB_MM_WIDE, PB_REQUANT_FAST, 1, 1, sparse, 0);
#endif
}

void pb_fast_mm_wide_short_full(const pb_fast_mm_params_t *p, const int8_t *input, int8_t *output, void *scratch)
{
    pb_fast_mm_short_rows(p, input, output, (uint32_t *)scratch, 0);
}

void pb_fast_mm_wide_short_full_sparse(const pb_fast_mm_params_t *p, const int8_t *input, int8_t *output,
                                       void *scratch)
{
    pb_fast_mm_short_rows(p, input, output, (uint32_t *)scratch, 1);
}

/* ---- one input row: four channels at a time ------------------------------------------ */

/* A FULLY_CONNECTED on one row (row_bias set; dsp.py's _one_row): the row widened once, then
 * blocks of four channels by pb_dsp_rows4_dots, each block's four accumulators from their
 * biases over the whole row in one unrolled run of 11 instructions per 16 MACs, against the
 * pair loop's rows of two where the second row is a copy. The weights (dsp.py's
 * _rows4_weights): the depth cut into chunks of PB_DSP_ROWS4_GROUPS_MAX groups of 4 values,
 * in each chunk the blocks one after another; a later chunk adds to the accumulators. */
#define PB_FAST_ONE_ROW_BLOCKS 32 /* blocks per pass: their accumulators on the stack, 512 bytes */

static PB_ALWAYS_INLINE void pb_fast_mm_one_row(const pb_fast_mm_params_t *p, const int8_t *input, int8_t *output,
                                                uint32_t *xb, int mode, int full_range)
{
    const int32_t groups = (p->depth + 3) >> 2, blocks = (p->out_c + 3) >> 2;
    int32_t acc[4 * PB_FAST_ONE_ROW_BLOCKS];
    pb_fast_out_t o;
    pb_dsp_rows4_t f;
    int32_t b0, g0, c;
    o.output_offset = p->output_offset;
    o.act_min = p->act_min;
    o.act_max = p->act_max;
    pb_dsp_widen4(xb, input, p->depth);
    f.acc = acc;
    for (b0 = 0; b0 < blocks; b0 += PB_FAST_ONE_ROW_BLOCKS) {
        const int32_t nb = PB_MIN(blocks - b0, PB_FAST_ONE_ROW_BLOCKS), n = PB_MIN(p->out_c - 4 * b0, 4 * nb);
        const int32_t *q = p->quant + PB_QUANT_WORDS * 4 * b0;
        f.blocks = nb;
        f.bias = p->row_bias + 4 * b0;
        for (g0 = 0; g0 < groups; g0 += PB_DSP_ROWS4_GROUPS_MAX) {
            const int32_t ng = PB_MIN(groups - g0, PB_DSP_ROWS4_GROUPS_MAX);
            f.xb = xb + 2 * g0;
            f.groups = ng;
            f.w = p->weights + 8 * (blocks * g0 + b0 * ng);
            pb_dsp_rows4_dots(&f);
            f.bias = acc;
        }
        for (c = 0; c < n; ++c, q += PB_QUANT_WORDS) {
            output[4 * b0 + c] = pb_fast_out(acc[c], pb_fast_q(q), o, mode, mode == PB_REQUANT_FAST, full_range);
        }
    }
}

void pb_fast_mm_one_row_fast_full(const pb_fast_mm_params_t *p, const int8_t *input, int8_t *output, void *scratch)
{
    pb_fast_mm_one_row(p, input, output, (uint32_t *)scratch, PB_REQUANT_FAST, 1);
}

void pb_fast_mm_one_row_fast_clamped(const pb_fast_mm_params_t *p, const int8_t *input, int8_t *output,
                                     void *scratch)
{
    pb_fast_mm_one_row(p, input, output, (uint32_t *)scratch, PB_REQUANT_FAST, 0);
}

void pb_fast_mm_one_row_exact(const pb_fast_mm_params_t *p, const int8_t *input, int8_t *output, void *scratch)
{
    pb_fast_mm_one_row(p, input, output, (uint32_t *)scratch, PB_REQUANT_EXACT, 0);
}

/* ---- a pointwise layer from 8 channels: the pixel in registers ------------------------ */

/* 1x1, stride 1, no padding, in_c 8 (MobileNet v1 0.25's first pointwise layer), wide
 * FAST full-range dense, out_c a multiple of 4: each pixel's 8 values widened once into 4
 * registers, then per output channel one LDM of its 8-word record (dsp.py's
 * _pointwise8_records: bias', the 4 int16-pair weight words, multiplier, shift,
 * rounding), 4 SMLAD and the requantization of pb_fast_out: 10 instructions per output
 * where the pair form takes 14. */
typedef struct {
    int8_t *out;
    const int8_t *in, *in_end;
    const int32_t *rec, *rec_end;
} pb_fast_pw8_t;

#if defined(PB_SIMD_DSP)
void pb_fast_mm_pw8_rows(const pb_fast_pw8_t *f);

#define PB_PW8_CHANNEL                            \
    "ldm    r1!, {r6-r12, lr}\n\t"                \
    "smlad  r6, r2, r7, r6\n\t"                   \
    "smlad  r6, r3, r8, r6\n\t"                   \
    "smlad  r6, r4, r9, r6\n\t"                   \
    "smlad  r6, r5, r10, r6\n\t"                  \
    "sub    lr, lr, r6, lsr #31\n\t"              \
    "smmlar r6, r6, r11, lr\n\t"                  \
    "asr    r6, r6, r12\n\t"                      \
    "ssat   r6, #8, r6\n\t"                       \
    "strb   r6, [r0], #1\n\t"

/* frame on the stack: [0] in, [4] in_end, [8] rec, [12] rec_end; r0: out throughout */
__asm__(PB_ASM_FUNCTION(pb_fast_mm_pw8_rows)
        "push   {r4-r11, lr}\n\t"
        "ldm    r0, {r0-r4}\n\t"
        "push   {r1-r4}\n"
        "1:\n\t"
        "ldr    r6, [sp]\n\t"
        "ldrd   r7, r8, [r6], #8\n\t"
        "str    r6, [sp]\n\t"
        "sxtb16 r2, r7\n\t"
        "sxtb16 r3, r7, ror #8\n\t"
        "sxtb16 r4, r8\n\t"
        "sxtb16 r5, r8, ror #8\n\t"
        "ldr    r1, [sp, #8]\n"
        "2:\n\t"
        PB_PW8_CHANNEL
        PB_PW8_CHANNEL
        PB_PW8_CHANNEL
        PB_PW8_CHANNEL
        "ldr    r6, [sp, #12]\n\t"
        "cmp    r1, r6\n\t"
        "bne    2b\n\t"
        "ldrd   r6, r7, [sp]\n\t"
        "cmp    r6, r7\n\t"
        "bne    1b\n\t"
        "add    sp, sp, #16\n\t"
        "pop    {r4-r11, pc}\n\t"
        PB_ASM_END(pb_fast_mm_pw8_rows));
#undef PB_PW8_CHANNEL
#endif

void pb_fast_mm_wide_pw8_full(const pb_fast_mm_params_t *p, const int8_t *input, int8_t *output, void *scratch)
{
    pb_fast_pw8_t f;
    (void)scratch;
    f.out = output;
    f.in = input;
    f.in_end = input + 8 * p->rows;
    f.rec = p->weights;
    f.rec_end = p->weights + 8 * p->out_c;
#if defined(PB_SIMD_DSP)
    pb_fast_mm_pw8_rows(&f);
#else
    {
        pb_fast_out_t o;
        o.output_offset = p->output_offset;
        o.act_min = p->act_min;
        o.act_max = p->act_max;
        for (; f.in != f.in_end; f.in += 8) {
            const uint32_t v = pb_load32(f.in), u = pb_load32(f.in + 4);
            const uint32_t x0 = pb_sxtb16(v), x1 = pb_sxtb16_hi(v), x2 = pb_sxtb16(u), x3 = pb_sxtb16_hi(u);
            const int32_t *rec;
            for (rec = f.rec; rec != f.rec_end; rec += 8) {
                int32_t acc = pb_smlad(x0, (uint32_t)rec[1], rec[0]);
                acc = pb_smlad(x1, (uint32_t)rec[2], acc);
                acc = pb_smlad(x2, (uint32_t)rec[3], acc);
                acc = pb_smlad(x3, (uint32_t)rec[4], acc);
                *f.out++ = pb_fast_out(acc, pb_fast_q(rec + 4), o, PB_REQUANT_FAST, 1, 1);
            }
        }
    }
#endif
}

/* One instance per weight width and requantization form, the layer's constants folded in.
 * Each is external (declared in pb_conv.h): the generator calls the one a layer's constants
 * select, so a firmware links only the instances its models use. */
#define PB_FAST_MM_VARIANT(name, wide, mode, doubled, full_range, sparse, share)                            \
    void name(const pb_fast_mm_params_t *p, const int8_t *input, int8_t *output, void *scratch)              \
    {                                                                                                        \
        pb_fast_mm_rows(p, input, output, (uint32_t *)scratch, wide, mode, doubled, full_range, sparse, share); \
    }

/* dense and sparse (skipped channels) instances of the common forms; the rare forms test
 * for skipped channels as they go */
PB_FAST_MM_VARIANT(pb_fast_mm_wide_doubled_full, 1, PB_REQUANT_FAST, 1, 1, 0, 0)
PB_FAST_MM_VARIANT(pb_fast_mm_wide_doubled_clamped, 1, PB_REQUANT_FAST, 1, 0, 0, 0)
PB_FAST_MM_VARIANT(pb_fast_mm_wide_doubled_full_sparse, 1, PB_REQUANT_FAST, 1, 1, 1, 0)
PB_FAST_MM_VARIANT(pb_fast_mm_wide_doubled_clamped_sparse, 1, PB_REQUANT_FAST, 1, 0, 1, 0)
PB_FAST_MM_VARIANT(pb_fast_mm_wide_exact, 1, PB_REQUANT_EXACT, 0, 0, p->out_index != NULL, 0)
PB_FAST_MM_VARIANT(pb_fast_mm_int8_fast_full, 0, PB_REQUANT_FAST, 0, 1, p->out_index != NULL, 1)
PB_FAST_MM_VARIANT(pb_fast_mm_int8_fast_clamped, 0, PB_REQUANT_FAST, 0, 0, p->out_index != NULL, 1)
PB_FAST_MM_VARIANT(pb_fast_mm_int8_exact, 0, PB_REQUANT_EXACT, 0, 0, p->out_index != NULL, 1)
/* lean: the accumulator is shifted to 2 * acc for FAST, hence doubled; the quant words
 * shared by every channel (one scale per layer) or each channel's */
PB_FAST_MM_VARIANT(pb_fast_mm_lean_fast_full, PB_MM_LEAN, PB_REQUANT_FAST, 1, 1, p->out_index != NULL, 0)
PB_FAST_MM_VARIANT(pb_fast_mm_lean_fast_clamped, PB_MM_LEAN, PB_REQUANT_FAST, 1, 0, p->out_index != NULL, 0)
PB_FAST_MM_VARIANT(pb_fast_mm_lean_fast_full_shared, PB_MM_LEAN, PB_REQUANT_FAST, 1, 1, p->out_index != NULL, 1)
PB_FAST_MM_VARIANT(pb_fast_mm_lean_fast_clamped_shared, PB_MM_LEAN, PB_REQUANT_FAST, 1, 0, p->out_index != NULL, 1)
PB_FAST_MM_VARIANT(pb_fast_mm_lean_exact, PB_MM_LEAN, PB_REQUANT_EXACT, 0, 0, p->out_index != NULL, 1)
