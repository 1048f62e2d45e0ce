/* Fast 16x8 CONV_2D / FULLY_CONNECTED, Helium tier: one row (output pixel) by four output
 * channels at a time; per 8 taps one VLDRH of inputs, and per channel one widening VLDRB.S16
 * of its weights and one VMLADAVA (8 MACs into an int32 sum), or VMLALDAVA (into an int64
 * sum) where the generator cannot bound the sum within int32 (PB_W16_R64).
 *
 * Weights (protobrain/compiler/ops/tiers/wide16.py): output channels in groups of four (the
 * last padded with zero channels, never stored), depth in blocks of 8 taps; per group and
 * block the four channels' 8 int8 weights. */
#include "pb_conv16.h"

#include "pb_helium.h"

static PB_MVE_INLINE void pb_mve16_row(const pb_fast_mm16_params_t *p, const int16_t *x, int16_t *out, int mode,
                                       int clamp)
{
    const int32_t blocks = p->depth_pad >> 3;
    /* HI: the output offset is folded into K'; MULR: the generator takes it for offset 0 only */
    const int32_t offset = mode == PB_W16_HI || mode == PB_W16_MULR ? 0 : p->output_offset;
    const int8_t *w = (const int8_t *)p->weights;
    const int32_t *q = p->quant;
    int32_t c, j;
    for (c = 0; c < p->out_c; c += 4, q += 4 * PB_W16_WORDS) {
        int32_t r[4];
        const int16_t *xp = x;
        if (mode == PB_W16_R64) {
            int64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
            for (j = 0; j < blocks; ++j, xp += 8, w += 32) {
                const int16x8_t xv = vldrhq_s16(xp);
                a0 = vmlaldavaq_s16(a0, xv, vldrbq_s16(w));
                a1 = vmlaldavaq_s16(a1, xv, vldrbq_s16(w + 8));
                a2 = vmlaldavaq_s16(a2, xv, vldrbq_s16(w + 16));
                a3 = vmlaldavaq_s16(a3, xv, vldrbq_s16(w + 24));
            }
            r[0] = pb_w16_out64(a0, q);
            r[1] = pb_w16_out64(a1, q + PB_W16_WORDS);
            r[2] = pb_w16_out64(a2, q + 2 * PB_W16_WORDS);
            r[3] = pb_w16_out64(a3, q + 3 * PB_W16_WORDS);
        } else {
            int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
            for (j = 0; j < blocks; ++j, xp += 8, w += 32) {
                const int16x8_t xv = vldrhq_s16(xp);
                a0 = vmladavaq_s16(a0, xv, vldrbq_s16(w));
                a1 = vmladavaq_s16(a1, xv, vldrbq_s16(w + 8));
                a2 = vmladavaq_s16(a2, xv, vldrbq_s16(w + 16));
                a3 = vmladavaq_s16(a3, xv, vldrbq_s16(w + 24));
            }
            r[0] = pb_w16_out32(a0, q, mode);
            r[1] = pb_w16_out32(a1, q + PB_W16_WORDS, mode);
            r[2] = pb_w16_out32(a2, q + 2 * PB_W16_WORDS, mode);
            r[3] = pb_w16_out32(a3, q + 3 * PB_W16_WORDS, mode);
        }
        if (c + 4 <= p->out_c) {
            out[c] = (int16_t)pb_w16_clamp_form(r[0] + offset, p->act_min, p->act_max, clamp);
            out[c + 1] = (int16_t)pb_w16_clamp_form(r[1] + offset, p->act_min, p->act_max, clamp);
            out[c + 2] = (int16_t)pb_w16_clamp_form(r[2] + offset, p->act_min, p->act_max, clamp);
            out[c + 3] = (int16_t)pb_w16_clamp_form(r[3] + offset, p->act_min, p->act_max, clamp);
        } else {
            for (j = 0; c + j < p->out_c; ++j) {
                out[c + j] = (int16_t)pb_w16_clamp_form(r[j] + offset, p->act_min, p->act_max, clamp);
            }
        }
    }
}

static PB_MVE_INLINE void pb_mve16_all(const pb_fast_mm16_params_t *p, const int16_t *input, int16_t *output,
                                       int16_t *row, int mode, int clamp)
{
    pb_f16_window_t win;
    int32_t r;
    pb_f16_window_start(p, input, &win);
    for (r = 0; r < p->rows; ++r, output += p->out_c) {
        pb_mve16_row(p, pb_f16_row(p, &win, row), output, mode, clamp);
        pb_f16_window_next(p, &win);
    }
}

#define PB_MVE_MM16_FORM(name, mode, clamp)                                                                          \
    void name(const pb_fast_mm16_params_t *p, const int16_t *input, int16_t *output, void *scratch)                 \
    {                                                                                                                \
        pb_mve16_all(p, input, output, (int16_t *)scratch, mode, clamp);                                             \
    }
PB_MVE_MM16_FORMS(PB_MVE_MM16_FORM)

