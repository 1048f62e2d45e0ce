/* Fast int8 FULLY_CONNECTED of single rows, DSP tier: four output channels at a time,
 * each input word widened once (SXTB16 into (x0,x2) and (x1,x3)) and multiplied by the
 * four channels' weight words, widened the same way (SMLAD: 4 MACs per two).
 *
 * Weights (protobrain/compiler/ops/tiers/fc_row.py), per group of 4 channels (the last
 * padded with zero channels): depth / 4 blocks of four words, one per channel (its 4
 * int8 weights for those 4 values), then the depth % 4 tail values as one word per
 * channel (zero beyond the tail). No scratch; the input is read in place.
 *
 * Inner loops never branch on data, so an inference takes the same time whatever its
 * input. */
#include "pb_fully_connected.h"

#if defined(PB_TIER_MVE)
#error "this is the DSP tier's fully connected kernel; a model generated for the MVE tier uses the Helium one"
#endif

/* The last 1..3 values of a row as one word, zeros beyond (n bytes only are read). */
static PB_ALWAYS_INLINE uint32_t pb_fc_tail(const int8_t *x, int32_t n)
{
    uint32_t v = (uint8_t)x[0];
    if (n > 1) {
        v |= (uint32_t)(uint8_t)x[1] << 8;
    }
    if (n > 2) {
        v |= (uint32_t)(uint8_t)x[2] << 16;
    }
    return v;
}

static PB_ALWAYS_INLINE void pb_fc_block(uint32_t v, const uint32_t *w, int32_t *acc)
{
    const uint32_t lo = pb_sxtb16(v), hi = pb_sxtb16_hi(v);
    acc[0] = pb_smlad(hi, pb_sxtb16_hi(w[0]), pb_smlad(lo, pb_sxtb16(w[0]), acc[0]));
    acc[1] = pb_smlad(hi, pb_sxtb16_hi(w[1]), pb_smlad(lo, pb_sxtb16(w[1]), acc[1]));
    acc[2] = pb_smlad(hi, pb_sxtb16_hi(w[2]), pb_smlad(lo, pb_sxtb16(w[2]), acc[2]));
    acc[3] = pb_smlad(hi, pb_sxtb16_hi(w[3]), pb_smlad(lo, pb_sxtb16(w[3]), acc[3]));
}

/* One row's four channels of a group: two blocks per turn, then an odd block and the tail. */
static PB_ALWAYS_INLINE const uint32_t *pb_fc_group(const int8_t *x, int32_t depth, const uint32_t *w,
                                                    int32_t *acc)
{
    const int8_t *end2 = x + (depth & ~7);
    int32_t a[4];
    a[0] = acc[0], a[1] = acc[1], a[2] = acc[2], a[3] = acc[3];
    for (; x != end2; x += 8, w += 8) {
        const uint32_t v0 = pb_load32(x), v1 = pb_load32(x + 4);
        pb_fc_block(v0, w, a);
        pb_fc_block(v1, w + 4, a);
    }
    if (depth & 4) {
        pb_fc_block(pb_load32(x), w, a);
        x += 4;
        w += 4;
    }
    if (depth & 3) {
        pb_fc_block(pb_fc_tail(x, depth & 3), w, a);
        w += 4;
    }
    acc[0] = a[0], acc[1] = a[1], acc[2] = a[2], acc[3] = a[3];
    return w;
}

static PB_ALWAYS_INLINE void pb_fc_rows(const pb_fast_fc_row_params_t *p, const int8_t *input, int8_t *output,
                                        int mode, int full_range)
{
    pb_fast_out_t o;
    int32_t r, c, k;
    o.output_offset = p->output_offset;
    o.act_min = p->act_min;
    o.act_max = p->act_max;
    for (r = 0; r < p->rows; ++r, input += p->depth, output += p->out_c) {
        const uint32_t *w = (const uint32_t *)p->weights;
        const int32_t *q = p->quant;
        for (c = 0; c < p->out_c; c += 4, q += 4 * PB_QUANT_WORDS) {
            int32_t acc[4];
            acc[0] = q[0];
            acc[1] = q[PB_QUANT_WORDS];
            acc[2] = q[2 * PB_QUANT_WORDS];
            acc[3] = q[3 * PB_QUANT_WORDS];
            w = pb_fc_group(input, p->depth, w, acc);
            for (k = 0; k < 4 && c + k < p->out_c; ++k) {
                output[c + k] = pb_fast_out(acc[k], pb_fast_q(q + k * PB_QUANT_WORDS), o, mode, 0, full_range);
            }
        }
    }
}

void pb_fast_fc_row_s8(const pb_fast_fc_row_params_t *p, const int8_t *input, int8_t *output)
{
    if (p->requant != PB_REQUANT_FAST) {
        pb_fc_rows(p, input, output, PB_REQUANT_EXACT, 0);
    } else if (p->act_min == -128 && p->act_max == 127) {
        pb_fc_rows(p, input, output, PB_REQUANT_FAST, 1);
    } else {
        pb_fc_rows(p, input, output, PB_REQUANT_FAST, 0);
    }
}
