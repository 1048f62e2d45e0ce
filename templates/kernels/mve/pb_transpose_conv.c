/* Fast int8 TRANSPOSE_CONV (stride above 1), Helium (MVE) tier: per output row, the pixels
 * of each phase two at a time, their windows gathered as im2col rows (taps outside the
 * input read the zero point), multiplied by the phase's blocks of four channels with
 * VMLADAVA (16 int8 products per instruction) and requantized four lanes at once
 * (pb_helium.h). */
#include "pb_transpose_conv.h"
#include "pb_helium.h"

/* One window of taps_h x taps_w input pixels from (iy0, ix0), in window order; pixels
 * outside the input read the zero point; zeros up to depth_pad. */
static void pb_mve_tconv_im2col(const pb_fast_mve_tconv_params_t *p, const int8_t *in_b, int32_t iy0, int32_t ix0,
                                int32_t taps_h, int32_t taps_w, int32_t depth_pad, int8_t *dst)
{
    const int8x16_t pad = vdupq_n_s8((int8_t)p->pad_value);
    const int32_t C = p->in_c, run = taps_w * C;
    int32_t t0 = ix0 < 0 ? -ix0 : 0;
    int32_t t1 = p->in_w - ix0 < taps_w ? p->in_w - ix0 : taps_w;
    int32_t ty;
    if (t1 < t0) {
        t1 = t0;
    }
    for (ty = 0; ty < taps_h; ++ty, dst += run) {
        const int32_t iy = iy0 + ty;
        if ((uint32_t)iy >= (uint32_t)p->in_h || t1 == t0) {
            pb_mve_fill(dst, pad, run);
            continue;
        }
        pb_mve_fill(dst, pad, t0 * C);
        pb_mve_copy(dst + t0 * C, in_b + (iy * p->in_w + ix0 + t0) * C, (t1 - t0) * C);
        pb_mve_fill(dst + t1 * C, pad, (taps_w - t1) * C);
    }
    pb_mve_fill(dst, vdupq_n_s8(0), depth_pad - taps_h * run);
}

/* Two rows by one block's four channels over `chunks` chunks of 16 taps (per chunk the
 * four channels' 16 weights, one after another). Scalar accumulators in a function of its
 * own: GCC keeps them in registers (in arrays, or inlined in the pixel loop, it stores
 * them on every turn). */
static __attribute__((noinline)) void pb_mve_tconv_dot(const int8_t *x0, const int8_t *x1, const int8_t *w,
                                                       int32_t chunks, int32_t *a, int32_t *b)
{
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0, b0 = 0, b1 = 0, b2 = 0, b3 = 0, k;
    for (k = 0; k < chunks; ++k, x0 += 16, x1 += 16, w += 64) {
        const int8x16_t ra = vldrbq_s8(x0), rb = vldrbq_s8(x1);
        int8x16_t v = vldrbq_s8(w);
        a0 = vmladavaq_s8(a0, ra, v);
        b0 = vmladavaq_s8(b0, rb, v);
        v = vldrbq_s8(w + 16);
        a1 = vmladavaq_s8(a1, ra, v);
        b1 = vmladavaq_s8(b1, rb, v);
        v = vldrbq_s8(w + 32);
        a2 = vmladavaq_s8(a2, ra, v);
        b2 = vmladavaq_s8(b2, rb, v);
        v = vldrbq_s8(w + 48);
        a3 = vmladavaq_s8(a3, ra, v);
        b3 = vmladavaq_s8(b3, rb, v);
    }
    a[0] = a0, a[1] = a1, a[2] = a2, a[3] = a3;
    b[0] = b0, b[1] = b1, b[2] = b2, b[3] = b3;
}

/* Every output channel of one pixel pair (rows x0, x1; out1 unused when !two) from the
 * phase's block stream. */
static PB_MVE_INLINE void pb_mve_tconv_channels(const pb_fast_mve_tconv_params_t *p, const int8_t *x0,
                                                const int8_t *x1, const int8_t *w, int32_t depth_pad, int8_t *out0,
                                                int8_t *out1, int two, int general, pb_mve_out_t o)
{
    const int32_t group_bytes = 4 * (general ? PB_MVE_GROUP_WORDS : PB_MVE_FAST_GROUP_WORDS);
    int32_t c;
    for (c = 0; c < p->out_c; c += 4) {
        const int32_t *g = (const int32_t *)(w + 4 * depth_pad);
        const mve_pred16_t lanes = vctp32q((uint32_t)(p->out_c - c));
        int32_t a[4], b[4];
        pb_mve_tconv_dot(x0, x1, w, depth_pad / 16, a, b);
        vstrbq_p_s32(out0 + c, pb_mve_requant(vaddq_s32(vldrwq_s32(a), vldrwq_s32(g)), g, general, o), lanes);
        if (two) {
            vstrbq_p_s32(out1 + c, pb_mve_requant(vaddq_s32(vldrwq_s32(b), vldrwq_s32(g)), g, general, o), lanes);
        }
        w += 4 * depth_pad + group_bytes;
    }
}

static PB_MVE_INLINE void pb_mve_tconv_run(const pb_fast_mve_tconv_params_t *p, const int8_t *input, int8_t *output,
                                           int8_t *row0, int general)
{
    const pb_mve_out_t o = pb_mve_out(p->output_offset, p->act_min, p->act_max);
    int8_t *row1 = row0 + p->depth_pad;
    const int32_t sh = p->stride_h, sw = p->stride_w, C = p->out_c;
    int32_t b, oy, rx, ox;
    for (b = 0; b < p->batches; ++b) {
        const int8_t *in_b = input + b * p->in_h * p->in_w * p->in_c;
        for (oy = 0; oy < p->out_h; ++oy) {
            const int32_t ty = oy + p->pad_top;
            int8_t *out_row = output + (b * p->out_h + oy) * p->out_w * C;
            for (rx = 0; rx < sw; ++rx) {
                const int32_t *ph = p->phases + ((ty % sh) * sw + rx) * PB_MVE_TCONV_PHASE_WORDS;
                const int32_t taps_h = ph[0], taps_w = ph[1], depth_pad = ph[2];
                const int8_t *w = (const int8_t *)p->blocks + ph[3];
                const int32_t iy0 = ty / sh - (taps_h - 1);
                /* the first output of this phase: (ox + pad_left) % sw == rx */
                for (ox = ((rx - p->pad_left) % sw + sw) % sw; ox < p->out_w; ox += 2 * sw) {
                    const int two = ox + sw < p->out_w;
                    const int32_t ix0 = (ox + p->pad_left) / sw - (taps_w - 1);
                    pb_mve_tconv_im2col(p, in_b, iy0, ix0, taps_h, taps_w, depth_pad, row0);
                    if (two) {
                        pb_mve_tconv_im2col(p, in_b, iy0, ix0 + 1, taps_h, taps_w, depth_pad, row1);
                    }
                    pb_mve_tconv_channels(p, row0, two ? row1 : row0, w, depth_pad, out_row + ox * C,
                                          out_row + (ox + sw) * C, two, general, o);
                }
            }
        }
    }
}

void pb_fast_mve_tconv_s8(const pb_fast_mve_tconv_params_t *p, const int8_t *input, int8_t *output, void *scratch)
{
    if (p->requant == PB_MVE_REQUANT_FAST) {
        pb_mve_tconv_run(p, input, output, (int8_t *)scratch, 0);
    } else {
        pb_mve_tconv_run(p, input, output, (int8_t *)scratch, 1);
    }
}
